"""Indexing files into the store the settings name (``store_backend``): a registry of writers.

``index_paths`` reads, chunks and embeds only what changed since the last run;
``remove_document`` drops one document. Each store has its own writer:
``file_indexer`` (versioned files) and ``milvus_indexer``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.embedders import Embedder
from rag.indexing import file_indexer, milvus_indexer
from rag.indexing.preparing import IndexReport, Progress, embed_text
from rag.registry import choose
from rag.settings import Settings

__all__ = ["IndexReport", "Progress", "embed_text", "index_paths", "remove_document"]

Indexer = Callable[[list[Path], Settings, Embedder, Progress | None], IndexReport]
Remover = Callable[[str, Settings], IndexReport]

_INDEXERS: dict[str, tuple[Indexer, Remover]] = {
    "files": (file_indexer.index_paths, file_indexer.remove_document),
    "milvus": (milvus_indexer.index_paths, milvus_indexer.remove_document),
}


def index_paths(
    paths: list[Path], settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> IndexReport:
    """Bring the index up to date with the files under ``paths``; see ``IndexReport`` for what changed."""
    return choose(_INDEXERS, settings.store_backend, "store_backend")[0](paths, settings, embedder, progress)


def remove_document(doc_id: str, settings: Settings) -> IndexReport:
    """Drop a document (under all its file names) from the index; nothing is re-embedded."""
    return choose(_INDEXERS, settings.store_backend, "store_backend")[1](doc_id, settings)
