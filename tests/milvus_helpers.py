"""Shared by the Milvus tests: ``rag`` in child processes on the Milvus store, and reading that store directly.

Milvus Lite serves its file to one process at a time: whatever this process opens
is closed again (``read_corpus``, ``released``) before a child process runs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings
from rag.store.backends import store_backend
from rag.store.base import Store
from rag.store.milvus.backend import milvus_uri
from rag.store.milvus.connection import disconnect
from tests.helpers import FAKE_ENV, ROOT

MILVUS_ENV = {**FAKE_ENV, "RAG_STORE_BACKEND": "milvus"}


def milvus_settings(index_dir: Path, **changes: object) -> Settings:
    return Settings(index_dir=index_dir, embedding_backend="fake", store_backend="milvus").replace(**changes)


def rag(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """``rag ARGS`` in a fresh process on the Milvus store (fake embedder; ``env`` adds variables)."""
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**MILVUS_ENV, **env},
        cwd=ROOT,
        check=False,
    )


def release(settings: Settings) -> None:
    """Let another process open this index: close this process's client (and its Milvus Lite server)."""
    disconnect(milvus_uri(settings), settings.milvus_token)


@contextmanager
def opened(settings: Settings) -> Iterator[Store]:
    """The published version, read in this process, released on leaving."""
    store = store_backend(settings).open()
    try:
        yield store
    finally:
        store.close()
        release(settings)


@dataclass(frozen=True)
class Whole:
    """One document as a reader sees it: its text, its file names and its chunks."""

    text: str
    paths: tuple[str, ...]
    chunks: tuple[tuple[int, int, str], ...]  # (start, end, text), in offset order


def read_corpus(settings: Settings) -> dict[str, Whole]:
    """Every visible document by id, each checked to be consistent on its own, as one reader of one version sees it."""
    with opened(settings) as store:
        paths: dict[str, list[str]] = {}
        for source in store.docstore.sources():
            paths.setdefault(source.doc_id, []).append(source.path)
        chunks: dict[str, list[tuple[int, int, str]]] = {}
        for _, stored in store.docstore.stored_chunks():
            chunk = stored.chunk
            chunks.setdefault(chunk.doc_id, []).append((chunk.start, chunk.end, chunk.text))
        counts = store.docstore.chunk_counts()
        corpus: dict[str, Whole] = {}
        for metadata in store.docstore.document_metadata():
            document = store.docstore.document(metadata.id)
            assert document is not None, f"{metadata.id} is listed but cannot be read"
            own = sorted(chunks.pop(metadata.id, []))
            assert own and len(own) == counts.get(metadata.id), f"{metadata.path}: {len(own)} chunks, not {counts}"
            for start, end, text in own:
                assert document.text[start:end] == text, f"{metadata.path}: a chunk is not its document's text"
            assert metadata.id in paths, f"{metadata.path} has no file name"
            corpus[metadata.id] = Whole(document.text, tuple(sorted(paths.pop(metadata.id))), tuple(own))
        assert not chunks, f"chunks of documents that are not visible: {sorted(chunks)}"
        assert not paths, f"file names of documents that are not visible: {paths}"
        assert store.manifest.documents == len(corpus) and store.manifest.chunks == len(store)
        assert len(store) == sum(len(w.chunks) for w in corpus.values())
        return corpus
