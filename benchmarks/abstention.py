"""When do the documents hold no answer? Fits the e5 relevance calibration from data, reports both halves.

    python -m benchmarks.abstention [--workdir /tmp/abstention]

The realistic "not in my documents" case: index half of each corpus (the
articles whose name hashes even), then ask every dev question. A question whose
article is indexed is answerable; one whose article is absent is not, even if
other articles share its words. For each question the best passage's cosine,
share of the question's terms and language are recorded; a logistic model is
fitted on half A of the questions (``evaluation.half``) and its intercept set so
that 1.5 % of half A's answerable questions fall below the default
``min_relevance`` (the answer's own checks add a little). Prints the
``Calibration`` to paste into ``rag/embedders/e5.py`` and, with it in place,
how often each half abstains.
"""

from __future__ import annotations

import argparse
import math
import shutil
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from benchmarks.fusion import EVAL, SETS
from rag.answering.service import RETRIEVED
from rag.embedders import Calibration, LazyEmbedder
from rag.evaluation import half, read_questions
from rag.indexing.indexer import index_paths
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import Settings
from rag.store.index import Index

ANSWERABLE_ABSTAINING = 0.015


@dataclass
class Observed:
    set: str
    id: str
    answerable: bool
    #: Each passage's (cosine, coverage, cross-language).
    passages: list[tuple[float, float, float]]
    relevant: bool = False


class _Observed:
    """The real embedder, judged through a recording calibration: what the retriever sees is kept."""

    def __init__(self, embedder: LazyEmbedder, calibration: _Recording) -> None:
        self._embedder, self.calibration = embedder, calibration

    def __getattr__(self, name: str) -> object:
        return getattr(self._embedder, name)


class _Recording(Calibration):
    """Records each passage's evidence while the retriever runs, and judges with the calibration it wraps."""

    def __init__(self, inner: Calibration) -> None:
        super().__init__(*(getattr(inner, f.name) for f in fields(inner)))
        object.__setattr__(self, "seen", [])

    def relevance(self, cosine: float, coverage: float, cross_language: bool) -> float:
        self.seen.append((cosine, coverage, float(cross_language)))  # type: ignore[attr-defined]
        return super().relevance(cosine, coverage, cross_language)


def half_index(corpus: str, workdir: Path, embedder: LazyEmbedder) -> Path:
    folder, index_dir = workdir / f"{corpus}-half", workdir / f"{corpus}-half-index"
    if not index_dir.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((EVAL / corpus / "corpus").glob("*.txt")):
            if half(path.name) == "A":
                shutil.copy(path, folder)
        index_paths([folder], Settings(index_dir=index_dir), embedder)
    return index_dir


def observe(workdir: Path, calibration: Calibration) -> list[Observed]:
    embedder = LazyEmbedder(Settings())
    observed: list[Observed] = []
    for name, corpus in SETS.items():
        index = Index.open(half_index(corpus, workdir, embedder))
        present = {Path(d.path).name for d in index.docstore.document_metadata()}
        recording = _Recording(calibration)
        retriever = HybridRetriever(index, _Observed(embedder, recording), min_relevance=Settings().min_relevance)  # type: ignore[arg-type]
        for question in read_questions(EVAL / name / "dev.jsonl"):
            recording.seen.clear()  # type: ignore[attr-defined]
            # As many passages as the service retrieves: relevance is decided over all of them.
            found = retriever.retrieve(question.question, RETRIEVED)
            seen = list(recording.seen) or [(0.0, 0.0, 0.0)]  # type: ignore[attr-defined]
            observed.append(Observed(name, question.id, question.sources[0] in present, seen, found.relevant))
    return observed


def fit(observed: list[Observed], min_relevance: float, calibration: Calibration) -> Calibration:
    """Logistic regression on each question's most convincing passage, the one the decision rests on.

    Which passage that is depends on the weights, so it is fitted a few times,
    each round on the passages the previous weights found most convincing.
    """
    train = [o for o in observed if half(o.id) == "A"]
    y = np.array([o.answerable for o in train], dtype=float)
    weights, intercept = np.array([calibration.cosine, calibration.coverage, calibration.cross_language]), 0.0
    for _ in range(4):
        x = np.array([max(o.passages, key=lambda p: float(np.dot(weights, p))) for o in train])
        weights, intercept = _logistic(x, y)
    logits = np.array([max(float(np.dot(weights, p)) for p in o.passages) for o in train]) + intercept
    cut = float(np.quantile(logits[y == 1], ANSWERABLE_ABSTAINING))
    # Shifted so that relevance >= min_relevance exactly when the logit is above the cut.
    intercept += math.log(min_relevance / (1 - min_relevance)) - cut
    cosine, coverage, cross_language = (round(float(v), 3) for v in weights)
    return replace(
        calibration, cosine=cosine, coverage=coverage, cross_language=cross_language, intercept=round(intercept, 3)
    )


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(4000):  # plain gradient descent: three features, a few thousand rows
        error = 1 / (1 + np.exp(-(z @ w + b))) - y
        w -= 0.5 * (z.T @ error / len(y) + 1e-3 * w)
        b -= 0.5 * float(error.mean())
    return w / scale, b - float((w * mean / scale).sum())


def report(observed: list[Observed]) -> None:
    print(f"{'set':9} {'half':4} {'answerable':>10} {'abstain':>8} {'absent':>7} {'abstain':>8}")
    for name in SETS:
        for part in "AB":
            mine = [o for o in observed if o.set == name and half(o.id) == part]
            yes, no = [o for o in mine if o.answerable], [o for o in mine if not o.answerable]
            print(
                f"{name:9} {part:4} {len(yes):10} {sum(not o.relevant for o in yes) / len(yes):8.3f} "
                f"{len(no):7} {sum(not o.relevant for o in no) / len(no):8.3f}"
            )


def main() -> None:
    from rag.embedders.e5 import CALIBRATION

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rag-abstention"))
    args = parser.parse_args()
    min_relevance = Settings().min_relevance
    observed = observe(args.workdir, CALIBRATION)
    print("with the calibration in rag/embedders/e5.py:")
    report(observed)
    fitted = fit(observed, min_relevance, CALIBRATION)
    print(f"\nfitted on half A: {fitted}")
    for o in observed:
        o.relevant = any(fitted.relevance(c, v, bool(x)) >= min_relevance for c, v, x in o.passages)
    print("with the fitted calibration:")
    report(observed)


if __name__ == "__main__":
    main()
