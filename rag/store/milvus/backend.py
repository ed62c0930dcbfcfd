"""The Milvus store, chosen with ``store_backend = "milvus"``: Milvus Lite in a file, a server or a cluster."""

from __future__ import annotations

from pathlib import Path

from pymilvus import MilvusClient

from rag.settings import Settings
from rag.store.docstore import DocumentInfo
from rag.store.index import IndexNotFoundError
from rag.store.milvus.connection import connect
from rag.store.milvus.dense_indexes import dense_index
from rag.store.milvus.generations import Published, read_published
from rag.store.milvus.store import MilvusStore

#: The Milvus Lite file in ``index_dir`` when ``milvus_uri`` is empty.
LITE_FILE = "milvus.db"


def milvus_uri(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index_dir / LITE_FILE)


def version_name(published: Published) -> str:
    return f"g{published.generation:012d}"


class MilvusBackend:
    def __init__(self, settings: Settings) -> None:
        self.uri = milvus_uri(settings)
        self.token = settings.milvus_token
        self.prefix = settings.milvus_collection
        dense_index(settings.milvus_index)  # a wrong name fails now, in one line
        self.dense_index = settings.milvus_index

    def describe(self) -> str:
        return f"Milvus collection {self.prefix} at {self.uri}"

    def client(self) -> MilvusClient:
        if self.uri.endswith(".db"):
            # Milvus Lite creates its file, not the folder it goes in.
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        return connect(self.uri, self.token)

    def _published(self) -> Published | None:
        published = read_published(self.client(), self.prefix)
        return published if published is not None and published.generation > 0 else None

    def published(self) -> str | None:
        published = self._published()
        return version_name(published) if published else None

    def open(self) -> MilvusStore:
        published = self._published()
        if published is None:
            raise IndexNotFoundError(f"No index in {self.describe()}: run `rag index PATH` first.")
        return MilvusStore(self.client(), self.prefix, published)

    def list_documents(self) -> list[DocumentInfo]:
        store = self.open()
        counts = store.docstore.chunk_counts()
        paths: dict[str, list[str]] = {}
        for source in store.docstore.sources():
            paths.setdefault(source.doc_id, []).append(source.path)
        return [
            DocumentInfo(d.id, d.title, d.date, tuple(paths.get(d.id, [d.path])), counts.get(d.id, 0), d.language)
            for d in store.docstore.document_metadata()
        ]
