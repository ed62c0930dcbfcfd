"""Retrieval latency and serving memory of both stores at 10k and 100k chunks, and LangChain's beside them.

The indexes hold the same chunks on every side: the real OrangeSum chunks of the
indexing run (e5 vectors) padded with synthetic ones (``synthetic``: BM25 terms
drawn from the real terms' frequencies, random unit vectors, the same seed), so
the query path is the real one: every vector compared, every posting list read.

- files: ``synthetic.ours_index`` writes a version folder;
- milvus: a child process writes the same documents through ``MilvusWriter.commit``
  in batches of ``BATCH`` chunks (no embedding: its insert rate is measured too);
- LangChain: the tutorial's FAISS store from the same texts and vectors.

Each store is then served by a fresh child process: three warm-up queries, then
per query ``search_dense`` (the query vector computed beforehand), the chunk BM25
``lexical.search`` and a full ``HybridRetriever.retrieve`` (analysis, both lists,
fusion, relevance), then five answers and one English question; its peak RSS is
the serving figure. 1M chunks is extrapolated linearly from the 10k → 100k slope
(an estimate, not a measurement: see the report).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import baseline, latency, memory, synthetic
from benchmarks.common import K, Plan, last_json, log, memory_status, run_process, summary

#: Chunks per commit while filling a Milvus index.
BATCH = 5_000
WARMUP = 3
EXTRAPOLATED = 1_000_000


def _size_on_disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_milvus(source: Path, size: int, destination: Path) -> dict[str, Any]:
    """The chunks ``synthetic.ours_index`` writes for ``size``, committed into a Milvus Lite index."""
    from rag.store.index import Index
    from rag.store.milvus.connection import connect
    from rag.store.milvus.writer import Batch, MilvusWriter
    from rag.store.sentences import Embedded

    index = Index.open(source)
    try:
        real = synthetic._real_part(index, size)
        manifest = index.manifest
    finally:
        index.close()
    pad = synthetic._synthetic(real, size - len(real.chunks), np.random.default_rng(synthetic.SEED))
    documents = real.documents + pad.documents
    chunks, vectors = real.chunks + pad.chunks, np.concatenate([real.vectors, pad.vectors])
    sources = {s.doc_id: s for s in real.sources + pad.sources}
    info = {"embedder": manifest.embedder, "chunking": manifest.chunking, "lexical": manifest.lexical}
    destination.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    writer = MilvusWriter(connect(str(destination / "milvus.db"), ""), "rag", vectors.shape[1])
    by_doc: dict[str, list[int]] = {}
    for number, stored in enumerate(chunks):
        by_doc.setdefault(stored.chunk.doc_id, []).append(number)
    batch, pending = Batch(), 0
    for document in documents:
        rows = by_doc.get(document.id, [])
        # As the file store's synthetic index holds them: vectors, no sentence vectors.
        batch.documents.append((document, [chunks[r] for r in rows], [Embedded(vectors[r]) for r in rows]))
        batch.sources[sources[document.id].path] = sources[document.id]
        pending += len(rows)
        if pending >= BATCH:
            writer.commit(batch, info)
            batch, pending = Batch(), 0
    writer.commit(batch, info)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "chunks_per_second": size / seconds,
        "chunks": writer.published.chunks,
        **memory_status(),
    }


def _timed(call: Callable[[str], Any], questions: list[str]) -> dict[str, float]:
    seconds = []
    for question in questions:
        started = time.perf_counter()
        call(question)
        seconds.append(time.perf_counter() - started)
    return summary(seconds)


def serve(kind: str, folder: Path, questions: list[str]) -> dict[str, Any]:
    """Time the store's searches and a full retrieval, then answer as ``memory`` does; peak RSS last."""
    if kind == "langchain":
        embedder = baseline.embeddings()
        vectors, dumped = baseline.read_dump(folder)
        metadatas = [{"source": c["source"], "start_index": c["start"]} for c in dumped]
        store = baseline.store_from_vectors([c["text"] for c in dumped], metadatas, vectors, embedder)
        del vectors, dumped, metadatas
        query = {q: embedder.embed_query(q) for q in questions}
        for q in questions[:WARMUP]:
            store.similarity_search(q, k=K)
        return {
            "search_dense": _timed(lambda q: store.similarity_search_by_vector(query[q], k=K), questions),
            "retrieve": _timed(lambda q: store.similarity_search(q, k=K), questions),
            **memory_status(),
        }
    from rag.answering.service import Assistant
    from rag.settings import Settings
    from rag.text.analysis import analyze
    from rag.text.language import detect_language

    assistant = Assistant(Settings(index_dir=folder, store_backend=kind))
    snapshot = assistant.snapshot()
    index, retriever = snapshot.index, snapshot.retriever
    asked = {q: assistant.embedder.embed_query(q) for q in questions}
    terms = {q: analyze(q, detect_language(q)) for q in questions}
    for q in questions[:WARMUP]:
        index.search_dense(asked[q], K)
        index.lexical.search(terms[q], K)
        retriever.retrieve(q, K)
    stages: list[dict[str, float]] = []
    results: dict[str, Any] = {
        "search_dense": _timed(lambda q: index.search_dense(asked[q], K), questions),
        "search_lexical": _timed(lambda q: index.lexical.search(terms[q], K), questions),
        "retrieve": _timed(lambda q: stages.append(retriever.retrieve(q, K).timings), questions),
    }
    results["retrieve_stages_median_ms"] = latency._stage_medians(stages)
    results["answer"] = _timed(assistant.ask, questions[: memory.QUESTIONS])
    assistant.ask(memory.ENGLISH)
    return {**results, **memory_status(), "chunks": len(index)}


def _child(command: str, *args: str) -> dict[str, Any]:
    if command == "build":
        return build_milvus(Path(args[0]), int(args[1]), Path(args[2]))
    return serve(command, Path(args[0]), list(args[1:]))


def _run_child(args: list[str], workdir: Path) -> dict[str, Any]:
    done = run_process([sys.executable, "-m", "benchmarks.milvus_scale", *args], workdir)
    return {**last_json(done.stdout), "process_seconds": done.seconds}


def extrapolate(sizes: dict[str, Any], small: int, large: int, target: int = EXTRAPOLATED) -> dict[str, Any]:
    """Each median, p95, RSS and disk size at ``target`` chunks on the line through two measured sizes.

    Never below the larger measurement: a noisy pair of figures (a p95) must not extrapolate downwards.
    """

    def line(a: float, b: float) -> float:
        return max(b, b + (b - a) * (target - large) / (large - small))

    found: dict[str, Any] = {}
    for kind, data in sizes[str(large)].items():
        before = sizes[str(small)][kind]
        found[kind] = {
            call: {stat: line(before[call][stat], value[stat]) for stat in ("median_ms", "p95_ms")}
            for call, value in data.items()
            if isinstance(value, dict) and "median_ms" in value
        }
        for figure in ("peak_rss_mib", "disk_mib"):
            if figure in data:
                found[kind][figure] = line(before[figure], data[figure])
    return found


def run(
    plan: Plan,
    workdir: Path,
    source: Path,
    dump: Path,
    sizes: tuple[int, ...] = (),
    queries: int = 30,
    done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Both stores and LangChain at each of ``sizes`` (10k and 100k; 10k with --quick); ``done`` after each."""
    questions = latency.queries(plan)[:queries]
    vectors, dumped = baseline.read_dump(dump)
    sizes = sizes or ((10_000,) if plan.quick else (10_000, 100_000))
    results: dict[str, Any] = {"queries": len(questions), "k": K, "sizes": {}}
    for size in sizes:
        log(f"milvus scale: {size} chunks: building the three indexes")
        files, milvus, theirs = (workdir / f"scale-{kind}-{size}" for kind in ("files", "milvus", "langchain"))
        split = synthetic.ours_index(source, size, files)
        built = _run_child(["build", str(source), str(size), str(milvus)], workdir)
        log(f"  milvus insert: {built['chunks_per_second']:.0f} chunks/s; serving each")
        texts, metadatas, padded, _ = synthetic.langchain_rows(vectors, dumped, size)
        baseline.write_dump(theirs, texts, metadatas, padded)
        del texts, metadatas, padded
        measured: dict[str, Any] = {}
        for kind, folder in (("files", files), ("milvus", milvus), ("langchain", theirs)):
            measured[kind] = {**_run_child([kind, str(folder), *questions], workdir), "disk_mib": 0.0}
            measured[kind]["disk_mib"] = _size_on_disk(folder) / 2**20
        measured["milvus"]["insert"] = built
        measured["files"]["split"] = split
        results["sizes"][str(size)] = measured
        log(
            "  retrieve median files {:.1f} ms, milvus {:.1f} ms; peak RSS files {:.0f}, milvus {:.0f} MiB".format(
                measured["files"]["retrieve"]["median_ms"],
                measured["milvus"]["retrieve"]["median_ms"],
                measured["files"]["peak_rss_mib"],
                measured["milvus"]["peak_rss_mib"],
            )
        )
        for folder in (files, milvus, theirs):
            shutil.rmtree(folder, ignore_errors=True)
        if done is not None:
            done(results)
    if len(sizes) >= 2:
        results["extrapolated"] = {str(EXTRAPOLATED): extrapolate(results["sizes"], sizes[0], sizes[-1])}
    return results


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], *sys.argv[2:])))
