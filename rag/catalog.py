"""What is in the index, for listing and removing documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.store.index import Index


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    date: str | None
    paths: tuple[str, ...]
    chunks: int
    language: str

    @property
    def path(self) -> str:
        return self.paths[0]


def list_documents(index_dir: Path) -> list[DocumentInfo]:
    index = Index.open(index_dir)
    try:
        counts = index.docstore.chunk_counts()
        paths: dict[str, list[str]] = {}
        for source in index.docstore.sources():
            paths.setdefault(source.doc_id, []).append(source.path)
        return [
            DocumentInfo(d.id, d.title, d.date, tuple(paths.get(d.id, [d.path])), counts.get(d.id, 0), d.language)
            for d in index.docstore.documents()
        ]
    finally:
        index.close()
