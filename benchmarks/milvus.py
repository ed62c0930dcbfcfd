"""The Milvus column: the same app on ``store_backend = "milvus"`` (Milvus Lite) beside the file store.

- **quality**: PIAF dev through ``rag eval``'s scoring (``rag.evaluation``) on both stores,
  with the default e5 embedder. The corpus is embedded once, for the file store; the Milvus
  index is then built by its real indexer (``rag.indexing.milvus_indexer``) with an embedder
  that hands back the file store's vector of each text it has (``_Remembered``), so both
  stores hold the very same vectors and any difference is the store's.
- **indexing**: OrangeSum articles through ``rag index --store files|milvus`` and the
  LangChain tutorial build, each in a fresh child process, the same e5 model for both of ours.
- **scale** (``milvus_scale``): retrieval p50/p95 and serving RSS at 10k and 100k chunks.

The figures go into ``results.json`` under ``milvus``; see benchmarks/README.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import indexing, milvus_scale
from benchmarks.common import EVAL, Plan, last_json, log, memory_status, read_articles, run_process, write_articles
from rag.answering.service import Assistant
from rag.embedders import Embedder
from rag.embedders.base import Calibration, Vectors, embed_with_spans, pools_spans
from rag.evaluation import evaluate, read_questions
from rag.indexing.indexer import index_paths
from rag.indexing.preparing import embed_text
from rag.settings import Settings
from rag.store.index import Index
from rag.store.sentences import Embedded, unpack
from rag.types import Spans

STORES = ("files", "milvus")
PARTS = ("quality", "indexing", "scale")
#: The quality figures compared between the stores (``Scores.table`` keys).
COMPARED = ("recall@1", "recall@5", "recall@10", "mrr@10", "answer_contains", "citation_overlap")


class _Remembered:
    """Hands back the file store's vectors and sentence vectors for a text it holds; embeds only the others."""

    def __init__(self, inner: Embedder, known: dict[str, tuple[Embedded, int]]) -> None:
        self._inner, self._known = inner, known  # embedded text -> (its vectors, where its chunk's text starts)
        self.reused = self.embedded = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def max_tokens(self) -> int:
        return self._inner.max_tokens

    @property
    def languages(self) -> frozenset[str]:
        return self._inner.languages

    @property
    def calibration(self) -> Calibration | None:
        return self._inner.calibration

    @property
    def pools_spans(self) -> bool:
        return pools_spans(self._inner)

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def embed_query(self, text: str) -> Vectors:
        return self._inner.embed_query(text)

    def embed_documents(self, texts: list[str]) -> Vectors:
        return self.embed_with_spans(texts, [[] for _ in texts])[0]

    def embed_with_spans(self, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors]]:
        missing = [i for i, t in enumerate(texts) if t not in self._known]
        self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled = [np.zeros((len(s), self.dimension), dtype=np.float32) for s in spans]
        if missing:
            found, found_spans = embed_with_spans(self._inner, [texts[i] for i in missing], [spans[i] for i in missing])
            for n, i in enumerate(missing):
                vectors[i] = found[n]
                if found_spans is not None:
                    pooled[i] = found_spans[n]
        for i, text in enumerate(texts):
            if text in self._known:
                embedded, offset = self._known[text]
                vectors[i] = embedded.vector
                stored_spans, stored = unpack(embedded.sentences)
                by_span = {(a + offset, b + offset): row for (a, b), row in zip(stored_spans, stored, strict=True)}
                for j, span in enumerate(spans[i]):
                    if span in by_span:
                        pooled[i][j] = by_span[span]
        return vectors, pooled


def _file_vectors(index_dir: Path) -> dict[str, tuple[Embedded, int]]:
    """Each text a file index embedded (title line + chunk), its vectors, and where its chunk's text starts."""
    index = Index.open(index_dir)
    try:
        vectors, sentences = index.all_vectors(), index.docstore.all_sentences()
        documents = {d.id: d for d in index.docstore.documents()}
        known: dict[str, tuple[Embedded, int]] = {}
        for row, stored in index.docstore.stored_chunks():
            text = embed_text(documents[stored.chunk.doc_id], stored.chunk.text)
            embedded = Embedded(vectors[row], sentences.get(stored.hash, b""))
            known[text] = (embedded, len(text) - len(stored.chunk.text))
        return known
    finally:
        index.close()


def _questions_file(plan: Plan, workdir: Path) -> tuple[list[Path], Path]:
    folder = EVAL / "piaf"
    files = sorted((folder / "corpus").glob("*.txt"))
    qa = folder / "dev.jsonl"
    if not plan.quality_files:
        return files, qa
    files = files[: plan.quality_files]
    names = {f.name for f in files}
    chosen = [q for q in read_questions(qa) if q.answerable and all(s in names for s in q.sources)]
    wanted = {q.id for q in chosen[: plan.quality_questions]}
    subset = workdir / "piaf-subset.jsonl"
    lines = [line for line in qa.read_text(encoding="utf-8").splitlines() if json.loads(line)["id"] in wanted]
    subset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files, subset


def _evaluate(settings: Settings, embedder: Embedder, qa: Path) -> dict[str, Any]:
    assistant = Assistant(settings, embedder=embedder)
    started = time.perf_counter()
    scores = evaluate(assistant.ask, qa, None)
    table = scores.table()
    return {
        **{key: table[key] for key in (*COMPARED, "retrieval_ms_median", "answer_ms_median")},
        "questions": scores.questions,
        "answerable": scores.answerable,
        "seconds": time.perf_counter() - started,
    }


def quality(plan: Plan, embedder: Embedder, workdir: Path) -> dict[str, Any]:
    files, qa = _questions_file(plan, workdir)
    results: dict[str, Any] = {"files": len(files)}
    log(f"milvus quality: PIAF, {len(files)} files; the file store first (embeds the corpus)")
    settings = Settings(index_dir=workdir / "piaf-files")
    started = time.perf_counter()
    report = index_paths(files, settings, embedder)
    indexed = {"chunks": report.chunks_total, "index_seconds": time.perf_counter() - started}
    results["files"] = {**indexed, **_evaluate(settings, embedder, qa)}
    log(f"  files: recall@5 {results['files']['recall@5']:.3f}; the Milvus store, reusing those vectors")
    remembered = _Remembered(embedder, _file_vectors(settings.index_dir))
    settings = Settings(index_dir=workdir / "piaf-milvus", store_backend="milvus")
    started = time.perf_counter()
    report = index_paths(files, settings, remembered)
    indexed = {
        "chunks": report.chunks_total,
        "index_seconds_without_embedding": time.perf_counter() - started,
        "vectors_reused": remembered.reused,
        "vectors_embedded": remembered.embedded,
    }
    results["milvus"] = {**indexed, **_evaluate(settings, embedder, qa)}
    results["difference"] = {key: results["milvus"][key] - results["files"][key] for key in COMPARED}
    results["within_0.01"] = all(abs(v) <= 0.01 for v in results["difference"].values())
    log(f"  milvus: recall@5 {results['milvus']['recall@5']:.3f}; differences {results['difference']}")
    return results


def _index_child(store: str, folder: str, index: str) -> int:
    """``rag index FOLDER --index INDEX --store STORE --json``, then this process's peak memory."""
    import rag.cli

    rag.cli._progress_bar = lambda: None
    code = rag.cli.main(["index", folder, "--index", index, "--store", store, "--json"])
    print(json.dumps({"memory": memory_status()}), flush=True)
    return code


def _index(store: str, folder: Path, index: Path, workdir: Path, articles: int) -> dict[str, Any]:
    done = run_process([sys.executable, "-m", "benchmarks.milvus", "index", store, str(folder), str(index)], workdir)
    report = json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"added"')))
    chunks = int(report["chunks_total"])
    return {
        "seconds": done.seconds,
        "chunks": chunks,
        "chunks_embedded": report["chunks_embedded"],
        "chunks_per_second": chunks / done.seconds,
        "articles_per_second": articles / done.seconds,
        "peak_rss_mib": last_json(done.stdout)["memory"]["peak_rss_mib"],
    }


def lexical_sizes(index_dir: Path) -> dict[str, float]:
    """Per chunk, what the two BM25 fields hold: distinct words and pieces (postings), and their input in bytes."""
    from rag.store.milvus import terms as encoded
    from rag.text.analysis import char_grams, lexical_text

    index = Index.open(index_dir)
    try:
        documents = {d.id: d for d in index.docstore.documents()}
        sizes = []
        for _, stored in index.docstore.stored_chunks():
            document = documents[stored.chunk.doc_id]
            grams = char_grams(lexical_text(document.title, document.date, stored.chunk.text), document.language)
            words = stored.tokens
            text = len(stored.chunk.text.encode())
            sizes.append(
                (len(set(words)), len(set(grams)), len(encoded.encode(words)), len(encoded.encode(grams)), text)
            )
    finally:
        index.close()
    means = np.asarray(sizes, dtype=np.float64).mean(axis=0) if sizes else np.zeros(5)
    keys = ("word_postings", "piece_postings", "word_field_bytes", "piece_field_bytes", "text_bytes")
    return {"chunks": float(len(sizes)), **{key: float(value) for key, value in zip(keys, means, strict=True)}}


def indexing_throughput(plan: Plan, workdir: Path) -> dict[str, Any]:
    count = min(plan.articles, 300 if plan.quick else 1_000)
    folder = workdir / "milvus-orangesum"
    write_articles(read_articles(count), folder)
    results: dict[str, Any] = {"articles": count}
    for store in STORES:
        log(f"milvus indexing: {count} OrangeSum articles, rag index --store {store}")
        results[store] = _index(store, folder, workdir / f"orangesum-{store}", workdir, count)
        log(f"  {store}: {results[store]['seconds']:.1f} s, {results[store]['chunks_per_second']:.1f} chunks/s")
    log("  LangChain tutorial build")
    theirs = indexing.langchain_build(folder, workdir / "milvus-langchain-orangesum", workdir)
    results["langchain"] = {
        **theirs,
        "chunks_per_second": theirs["chunks"] / theirs["seconds"],
        "articles_per_second": count / theirs["seconds"],
    }
    results["lexical_per_chunk"] = lexical_sizes(workdir / "orangesum-files")
    return results


def run(
    plan: Plan,
    workdir: Path,
    embedder: Embedder,
    parts: Collection[str] = PARTS,
    done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The Milvus figures of ``parts``; ``done(results)`` after each part, so a late failure keeps the rest.

    ``scale`` pads the OrangeSum index that ``indexing`` builds, so it runs it too.
    """
    results: dict[str, Any] = {}

    def keep(name: str, value: dict[str, Any]) -> None:
        results[name] = value
        if done is not None:
            done(results)

    if "quality" in parts:
        keep("quality", quality(plan, embedder, workdir))
    if "indexing" in parts or "scale" in parts:
        keep("indexing", indexing_throughput(plan, workdir))
    if "scale" not in parts:
        return results
    source, dump = workdir / "orangesum-files", workdir / "milvus-langchain-orangesum"
    keep("scale", milvus_scale.run(plan, workdir, source, dump))
    return results


if __name__ == "__main__":
    if sys.argv[1] == "index":
        sys.exit(_index_child(*sys.argv[2:5]))
    raise SystemExit(f"unknown command {sys.argv[1]!r}")
