"""Where the index lives, chosen by the ``store_backend`` setting: a registry, not an if-chain.

Each backend opens the published version as a ``Store`` (``rag.store.base``),
names that version cheaply (so a long-running service notices a new one), and
lists the indexed documents. Writing is ``rag.indexing``'s, per backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rag.registry import build, choose
from rag.settings import Settings
from rag.store.base import Store
from rag.store.docstore import DocumentInfo
from rag.store.file_backend import FileBackend
from rag.store.milvus.backend import MilvusBackend


class StoreBackend(Protocol):
    def describe(self) -> str:
        """Where the index is, for messages: a folder, or a Milvus collection and URI."""
        ...

    def published(self) -> str | None:
        """The published version's name (later ones sort after it), or None before the first index."""
        ...

    def open(self) -> Store:
        """The published version, read-only; ``IndexNotFoundError`` before the first index."""
        ...

    def list_documents(self) -> list[DocumentInfo]:
        """Every indexed document with its file names and chunk count, ordered by path."""
        ...


BACKENDS: dict[str, Callable[[Settings], StoreBackend]] = {"files": FileBackend, "milvus": MilvusBackend}


def validate(settings: Settings) -> None:
    choose(BACKENDS, settings.store_backend, "store_backend")


def store_backend(settings: Settings) -> StoreBackend:
    return build(BACKENDS, settings.store_backend, "store_backend", settings)
