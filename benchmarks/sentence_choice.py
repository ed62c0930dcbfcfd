"""How much the offline answer should trust the model's reading of each sentence: a sweep, both halves reported.

    python -m benchmarks.sentence_choice --index piaf=/tmp/ix/piaf --index news=/tmp/ix/news [--weights 0,8,16]

Each ``NAME=DIR`` is an index of ``eval/NAME/corpus`` built with ``rag index`` (the default e5
model, so it holds sentence vectors). Every dev question of the set is asked through the whole
service, as ``rag eval`` does, once per ``SIMILARITY_WEIGHT`` of the extractive answer (the
weight of a sentence's cosine with the question, centred on the mean of the candidates'); a
question's vector is computed once for the sweep. Printed per weight and set: the answer
contains the gold answer, its first citation overlaps the gold span, and abstention on
answerable and unanswerable questions, for the whole set and halves A and B. Choose on the dev
halves (PIAF whole, news half A), check on news half B.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.service import Assistant
from rag.embedders import LazyEmbedder
from rag.evaluation import evaluate
from rag.generators import extractive
from rag.settings import Settings

EVAL = Path(__file__).resolve().parent.parent / "eval"
REPORTED = ("answer_contains", "citation_overlap", "abstained_answerable", "abstained_unanswerable")


class _CachedQueries(LazyEmbedder):
    """The real embedder; each question is embedded once for the whole sweep."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._vectors: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self._vectors:
            self._vectors[text] = super().embed_query(text)
        return self._vectors[text]


def sweep(indexes: dict[str, Path], weights: list[float]) -> list[dict[str, Any]]:
    rows = []
    assistants = {}
    for name, folder in indexes.items():
        settings = Settings(index_dir=folder)
        assistants[name] = Assistant(settings, embedder=_CachedQueries(settings))
    for weight in weights:
        extractive.SIMILARITY_WEIGHT = weight
        for name, assistant in assistants.items():
            scores = evaluate(lambda q, h, a=assistant: a.ask(q, h), EVAL / name / "dev.jsonl", None)
            row: dict[str, Any] = {"weight": weight, "set": name}
            for part, found in [("all", scores), *sorted(scores.halves.items())]:
                table = found.table()
                row[part] = {key: round(table[key], 3) for key in REPORTED if key in table}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sentence_choice", description=__doc__)
    parser.add_argument("--index", action="append", required=True, help="NAME=DIR, an index of eval/NAME/corpus")
    parser.add_argument("--weights", default="0,4,8,16,24,32", help="comma-separated SIMILARITY_WEIGHT values")
    args = parser.parse_args()
    indexes = {name: Path(folder) for name, _, folder in (item.partition("=") for item in args.index)}
    sweep(indexes, [float(w) for w in args.weights.split(",")])


if __name__ == "__main__":
    main()
