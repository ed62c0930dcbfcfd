"""Query latency at 1k, 10k and 100k chunks, in one warm process.

Ours: ``Assistant.retrieve`` (hybrid retrieval alone) and ``Assistant.ask``
(retrieval, extractive answer, citation checks), on an index opened from disk.
LangChain: ``similarity_search`` on the in-memory store. The queries are
OrangeSum article titles from the real part of every index, so they find
real passages; both sides retrieve ``K`` passages. With the default,
English-only model ours does not embed French questions (BM25 alone), so
retrieval is also timed on English questions (XQuAD), which it does embed. The calls are interleaved
query by query, so the two sides share whatever else the machine is doing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import baseline, synthetic
from benchmarks.common import EVAL, K, Plan, log, read_articles, summary
from rag.answering.service import Assistant
from rag.embedders import Embedder
from rag.evaluation import read_questions
from rag.settings import Settings

WARMUP = 3


def queries(plan: Plan) -> list[str]:
    return [a["title"] for a in read_articles(plan.latency_queries)]


def english_queries(plan: Plan) -> list[str]:
    """XQuAD questions: English, so ours embeds them (it skips that for French with this model)."""
    found = read_questions(EVAL / "xquad-en" / "dev.jsonl")
    return [q.question for _, q in zip(range(plan.latency_queries), found, strict=False)]


def interleaved(
    calls: dict[str, Callable[[str], Any]], questions: list[str]
) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Each question through every call in turn, so a load spike on the machine hits all alike."""
    for question in questions[:WARMUP]:
        for call in calls.values():
            call(question)
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    results: dict[str, list[Any]] = {name: [] for name in calls}
    for question in questions:
        for name, call in calls.items():
            started = time.perf_counter()
            results[name].append(call(question))
            seconds[name].append(time.perf_counter() - started)
    return seconds, results


def _stage_medians(timings: list[dict[str, float]]) -> dict[str, float]:
    stages = sorted({name for t in timings for name in t})
    return {name: 1000 * statistics.median(t.get(name, 0.0) for t in timings) for name in stages}


def measure(
    index_dir: Path, embedder: Embedder, store: Any, lc_embedder: Any, questions: list[str], english: list[str]
) -> dict[str, Any]:
    assistant = Assistant(Settings(index_dir=index_dir), embedder=embedder)
    # LangChain's search split in two: the query vectors first, then FAISS and the docstore alone.
    vectors = {q: lc_embedder.embed_query(q) for q in questions}
    seconds, results = interleaved(
        {
            "ours_retrieval": lambda q: assistant.retrieve(q, K),
            "langchain_retrieval": lambda q: store.similarity_search(q, k=K),
            "ours_answer": assistant.ask,
            "langchain_search_only": lambda q: store.similarity_search_by_vector(vectors[q], k=K),
        },
        questions,
    )
    answers = results["ours_answer"]
    english_seconds, _ = interleaved(
        {
            "ours": lambda q: assistant.retrieve(q, K),
            "langchain": lambda q: store.similarity_search(q, k=K),
        },
        english,
    )
    return {
        "ours": {
            "retrieval": summary(seconds["ours_retrieval"]),
            "retrieval_stages_median_ms": _stage_medians([r.timings for r in results["ours_retrieval"]]),
            "answer": summary(seconds["ours_answer"]),
            "answer_stages_median_ms": _stage_medians([a.timings for a in answers]),
            "abstained": sum(a.abstained for a in answers) / max(len(answers), 1),
            "retrieval_english": summary(english_seconds["ours"]),
        },
        "langchain": {
            "retrieval": summary(seconds["langchain_retrieval"]),
            "retrieval_english": summary(english_seconds["langchain"]),
            "search_without_query_embedding": summary(seconds["langchain_search_only"]),
        },
    }


def run(
    plan: Plan, workdir: Path, source_index: Path, dump: Path, embedder: Embedder, lc_embedder: Any
) -> dict[str, Any]:
    questions, english = queries(plan), english_queries(plan)
    vectors, dumped = baseline.read_dump(dump)
    results: dict[str, Any] = {"queries": len(questions), "k": K}
    for size in plan.latency_sizes:
        log(f"latency at {size} chunks: building both indexes")
        folder = workdir / f"ours-{size}"
        made = synthetic.ours_index(source_index, size, folder)
        texts, metadatas, padded, split = synthetic.langchain_rows(vectors, dumped, size)
        if size in plan.memory_sizes:
            baseline.write_dump(workdir / f"langchain-{size}", texts, metadatas, padded)
        store = baseline.store_from_vectors(texts, metadatas, padded, lc_embedder)
        del texts, metadatas, padded
        measured = measure(folder, embedder, store, lc_embedder, questions, english)
        del store
        ours_result, theirs = measured["ours"], measured["langchain"]
        results[str(size)] = {"ours": {**ours_result, "chunks": made}, "langchain": {**theirs, "chunks": split}}
        log(
            f"  retrieval median ours {ours_result['retrieval']['median_ms']:.1f} ms, "
            f"langchain {theirs['retrieval']['median_ms']:.1f} ms; answer {ours_result['answer']['median_ms']:.1f} ms"
        )
    return results
