"""The textbook LangChain pipeline we compare against, exactly as the tutorials write it.

TextLoader per file, RecursiveCharacterTextSplitter(1000, 200), HuggingFaceEmbeddings
with the same all-MiniLM-L6-v2, FAISS.from_documents, similarity_search. No tuning.
The only additions are ``add_start_index=True`` (metadata only: it lets the quality
benchmark locate each chunk in its file) and dumping the built index as NumPy and
JSON for the latency and memory benchmarks: a LangChain FAISS store can only be
saved with pickle (``save_local``), which this project never uses.

Run as a child process for the indexing and cold-start figures::

    python -m benchmarks.baseline build FOLDER --dump OUT   # time to a built index
    python -m benchmarks.baseline ask FOLDER QUESTION       # time to the first passages
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_community.document_loaders import TextLoader
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from benchmarks.common import memory_status, model_path, set_offline

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


def embeddings() -> HuggingFaceEmbeddings:
    set_offline()
    return HuggingFaceEmbeddings(model_name=model_path())


def load(paths: Iterable[Path]) -> list[Document]:
    documents: list[Document] = []
    for path in paths:
        documents.extend(TextLoader(str(path), encoding="utf-8").load())
    return documents


def split(documents: list[Document]) -> list[Document]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
    return splitter.split_documents(documents)


def build(paths: Iterable[Path], embedder: HuggingFaceEmbeddings) -> tuple[FAISS, dict[str, float]]:
    """The tutorial: load, split, embed and index; returns the store and each stage's seconds."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    documents = load(paths)
    times["load"] = time.perf_counter() - started
    started = time.perf_counter()
    chunks = split(documents)
    times["split"] = time.perf_counter() - started
    started = time.perf_counter()
    store = FAISS.from_documents(chunks, embedder)
    times["embed_and_index"] = time.perf_counter() - started
    return store, times


def files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.txt"))


def chunks_of(store: FAISS) -> list[Document]:
    """The stored chunks in FAISS row order."""
    return [store.docstore.search(store.index_to_docstore_id[row]) for row in range(store.index.ntotal)]  # type: ignore[misc]


def dump(store: FAISS, folder: Path) -> None:
    """The built index as .npy vectors and JSON-lines chunks (no pickle), in FAISS row order."""
    chunks = chunks_of(store)
    metadatas = [d.metadata for d in chunks]
    write_dump(folder, [d.page_content for d in chunks], metadatas, store.index.reconstruct_n(0, store.index.ntotal))


def write_dump(folder: Path, texts: list[str], metadatas: list[dict[str, Any]], vectors: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "vectors.npy", np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for text, metadata in zip(texts, metadatas, strict=True):
            line = {"text": text, "source": metadata["source"], "start": metadata["start_index"]}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")


def read_dump(folder: Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    with (folder / "chunks.jsonl").open(encoding="utf-8") as handle:
        return vectors, [json.loads(line) for line in handle]


def store_from_vectors(
    texts: list[str], metadatas: list[dict[str, Any]], vectors: np.ndarray, embedder: HuggingFaceEmbeddings
) -> FAISS:
    """The store ``from_documents`` would build, from vectors computed earlier.

    ``tolist()`` mirrors what ``from_documents`` holds: HuggingFaceEmbeddings
    returns Python lists of floats, which FAISS then copies into an array.
    """
    return FAISS.from_embeddings(list(zip(texts, vectors.tolist(), strict=True)), embedder, metadatas=metadatas)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build")
    build_cmd.add_argument("folder", type=Path)
    build_cmd.add_argument("--dump", type=Path)
    ask_cmd = commands.add_parser("ask")
    ask_cmd.add_argument("folder", type=Path)
    ask_cmd.add_argument("question")
    args = parser.parse_args(argv)
    embedder = embeddings()
    store, times = build(files(args.folder), embedder)
    if args.command == "ask":
        found = store.similarity_search(args.question, k=4)
        ready = time.time()
        print(json.dumps({"ready": ready, "passages": [d.page_content[:80] for d in found]}, ensure_ascii=False))
        return 0
    ready = time.time()
    if args.dump:
        dump(store, args.dump)
    print(json.dumps({"ready": ready, "stages": times, "chunks": store.index.ntotal, **memory_status()}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
