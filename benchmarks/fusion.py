"""How dense and lexical rankings should combine: a sweep over the dev sets, both halves reported.

    python -m benchmarks.fusion --index piaf=/tmp/ix/piaf --index xquad-en=/tmp/ix/xquad

Each ``NAME=DIR`` is an index of ``eval/NAME/corpus`` built with ``rag index``;
the English-over-French set ``eval/piaf-en`` is read over the ``piaf`` index.
Every question is embedded once; each fusion setting then re-ranks all of them.
A question belongs to half A or B by a hash of its id (``evaluation.half``),
so choosing on one half and checking on the other is possible.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.quality import first_match, scores
from rag.embedders import LazyEmbedder
from rag.evaluation import Question, half, read_questions
from rag.retrieval.hybrid import Fusion, HybridRetriever
from rag.settings import Settings
from rag.store.index import Index

EVAL = Path(__file__).resolve().parent.parent / "eval"
#: The sets and the index each one is asked over.
SETS = {"piaf": "piaf", "piaf-en": "piaf", "xquad-en": "xquad-en"}


class _CachedQueries:
    """The real embedder, each question embedded once for the whole sweep."""

    def __init__(self, embedder: LazyEmbedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self.languages = embedder.languages
        self.name = embedder.name

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self._vectors:
            self._vectors[text] = self._embedder.embed_query(text)
        return self._vectors[text]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)


def settings_to_try(quick: bool = False) -> Iterable[Fusion]:
    if quick:
        for dense in (0.75, 1.0, 1.5, 2.0):
            yield Fusion(dense=dense, cross_language_dense=dense)
        return
    for method in ("convex", "rrf"):
        for dense in (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0):
            yield Fusion(dense=dense, cross_language_dense=dense, method=method)
    for depth in (20, 100):
        yield Fusion(dense=1.0, cross_language_dense=1.0, depth=depth)


def sweep(index_dirs: dict[str, Path], fusions: list[Fusion]) -> list[dict[str, Any]]:
    embedder = _CachedQueries(LazyEmbedder(Settings()))
    rows: list[dict[str, Any]] = []
    for name, index_name in SETS.items():
        if index_name not in index_dirs:
            continue
        index = Index.open(index_dirs[index_name])
        questions = [q for q in read_questions(EVAL / name / "dev.jsonl") if q.answerable]
        for fusion in fusions:
            retriever = HybridRetriever(index, embedder, fusion=fusion, min_relevance=Settings().min_relevance)  # type: ignore[arg-type]
            ranks = {q.id: first_match(q, _passages(retriever, q)) for q in questions}
            row: dict[str, Any] = {"set": name, **fusion.__dict__}
            for part, chosen in (("all", questions), ("A", _half(questions, "A")), ("B", _half(questions, "B"))):
                table = scores([ranks[q.id] for q in chosen])
                row[part] = {key: round(value, 3) for key, value in table.items()}
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _passages(retriever: HybridRetriever, question: Question) -> list[tuple[str, int, int]]:
    return [(h.source, h.chunk.start, h.chunk.end) for h in retriever.retrieve(question.question, 10).hits]


def _half(questions: list[Question], which: str) -> list[Question]:
    return [q for q in questions if half(q.id) == which]


def _line(row: dict[str, Any]) -> str:
    parts = [f"{row['set']:9} {row['method']:6} dense {row['dense']:4} depth {row['depth']:3}"]
    for part in ("all", "A", "B"):
        parts.append(
            f"{part} r@1 {row[part]['recall@1']:.3f} r@5 {row[part]['recall@5']:.3f} mrr {row[part]['mrr@10']:.3f}"
        )
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", action="append", default=[], help="NAME=DIR: an index of eval/NAME/corpus")
    parser.add_argument("--out", type=Path, help="write every row as JSON lines")
    parser.add_argument("--quick", action="store_true", help="only a few convex weights")
    args = parser.parse_args()
    index_dirs = {name: Path(folder) for name, folder in (item.split("=", 1) for item in args.index)}
    rows = sweep(index_dirs, list(settings_to_try(args.quick)))
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
