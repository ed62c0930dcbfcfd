"""One opened index version and its retriever: what a request reads from start to end."""

from __future__ import annotations

from dataclasses import dataclass

from rag.embedders import Embedder, backend_name
from rag.errors import UserError
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import Settings
from rag.store.backends import StoreBackend
from rag.store.base import Store


@dataclass(frozen=True)
class Snapshot:
    #: The version published when this snapshot was opened. Not always ``index.version``: when the
    #: published version is damaged, the file store falls back to an older one.
    published: str | None
    index: Store
    retriever: HybridRetriever


def open_snapshot(settings: Settings, store: StoreBackend, embedder: Embedder, published: str | None) -> Snapshot:
    """Open the published index version (``published``), refusing one built by another embedder."""
    index = store.open()
    # The same name under another backend is another vector space (e5 with or without its prefixes).
    built = (
        index.manifest.embedder.get("name"),
        index.manifest.embedder.get("backend", backend_name(settings)),
    )
    wanted = (embedder.name, backend_name(settings))
    if built != wanted:
        index.close()
        raise UserError(
            f"The index was built with {built[0]} ({built[1]}) but the settings name {wanted[0]} ({wanted[1]}): "
            "run `rag index` on your files to rebuild it."
        )
    if published is None or index.version > published:
        # The store read the published name again: a version published meanwhile is what it opened.
        published = index.version
    retriever = HybridRetriever(index, embedder, mode=settings.retrieval_mode, min_relevance=settings.min_relevance)
    return Snapshot(published, index, retriever)
