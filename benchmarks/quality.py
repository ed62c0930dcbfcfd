"""Retrieval quality on the PIAF (French) and XQuAD (English) dev sets.

Both pipelines index the same ``corpus/*.txt`` files and answer the same
questions with ``K`` passages. A passage counts, as in ``rag eval``, when it
comes from the gold file and overlaps a gold answer span (``passage_matches``);
LangChain chunks are located with the splitter's ``add_start_index``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import baseline
from benchmarks.common import EVAL, K, Plan, log
from rag.answering.service import Assistant
from rag.embedders import Embedder
from rag.evaluation import Question, passage_matches, read_questions
from rag.indexing.indexer import index_paths
from rag.retrieval.hybrid import MODES
from rag.settings import Settings

DATASETS = ("piaf", "xquad-en")
#: (source path, start, end) of each retrieved passage, best first.
Passages = list[tuple[str, int, int]]


def first_match(question: Question, passages: Passages) -> int | None:
    """1-based rank of the first passage overlapping a gold span, or None."""
    for rank, (source, start, end) in enumerate(passages[:K], 1):
        if passage_matches(source, start, end, question):
            return rank
    return None


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = max(len(ranks), 1)
    found = [r for r in ranks if r is not None]
    table = {f"recall@{k}": sum(r <= k for r in found) / n for k in (1, 5, 10)}
    table["mrr@10"] = sum(1 / r for r in found) / n
    return table


def evaluate(questions: list[Question], search: Callable[[str], Passages]) -> dict[str, Any]:
    started = time.perf_counter()
    ranks = [first_match(q, search(q.question)) for q in questions]
    elapsed = time.perf_counter() - started
    return {**scores(ranks), "seconds_per_question": elapsed / max(len(questions), 1)}


def select(name: str, plan: Plan) -> tuple[list[Path], list[Question]]:
    """The corpus files and answerable questions of one dataset (a subset with --quick)."""
    folder = EVAL / name
    files = sorted((folder / "corpus").glob("*.txt"))
    if plan.quality_files:
        files = files[: plan.quality_files]
    names = {f.name for f in files}
    questions = [q for q in read_questions(folder / "dev.jsonl") if q.answerable and all(s in names for s in q.sources)]
    if plan.quality_questions:
        questions = questions[: plan.quality_questions]
    return files, questions


def ours(files: list[Path], questions: list[Question], embedder: Embedder, index_dir: Path) -> dict[str, Any]:
    settings = Settings(index_dir=index_dir)
    started = time.perf_counter()
    report = index_paths(files, settings, embedder)
    results: dict[str, Any] = {"chunks": report.chunks_total, "index_seconds": time.perf_counter() - started}
    for mode in MODES:
        assistant = Assistant(settings.replace(retrieval_mode=mode), embedder=embedder)

        def search(query: str, assistant: Assistant = assistant) -> Passages:
            return [(h.source, h.chunk.start, h.chunk.end) for h in assistant.retrieve(query, K).hits]

        results[mode] = evaluate(questions, search)
        log(f"  ours {mode}: recall@5 {results[mode]['recall@5']:.3f}")
    return results


def langchain(files: list[Path], questions: list[Question], embedder: Any) -> dict[str, Any]:
    started = time.perf_counter()
    store, _ = baseline.build(files, embedder)
    results: dict[str, Any] = {"chunks": store.index.ntotal, "index_seconds": time.perf_counter() - started}

    def search(query: str) -> Passages:
        found = store.similarity_search(query, k=K)
        return [
            (d.metadata["source"], d.metadata["start_index"], d.metadata["start_index"] + len(d.page_content))
            for d in found
        ]

    results["dense"] = evaluate(questions, search)
    log(f"  langchain: recall@5 {results['dense']['recall@5']:.3f}")
    return results


def run(plan: Plan, embedder: Embedder, lc_embedder: Any, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in DATASETS:
        files, questions = select(name, plan)
        log(f"quality {name}: {len(files)} files, {len(questions)} answerable questions")
        results[name] = {
            "files": len(files),
            "questions": len(questions),
            "ours": ours(files, questions, embedder, workdir / f"quality-{name}"),
            "langchain": langchain(files, questions, lc_embedder),
        }
    return results
