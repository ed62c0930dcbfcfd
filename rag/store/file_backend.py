"""The default store: versioned files in ``index_dir`` (``rag.store.versions``), opened as an ``Index``.

Listing reads the manifest and the docstore of the newest version whose
docstore matches its checksum, falling back like ``Index.open``, and nothing
else: hashing and loading the vectors and the BM25 arrays is what makes opening
a whole version slow and memory-hungry, and a list of documents needs neither.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rag.settings import Settings
from rag.store.docstore import DOCSTORE, DocStore, DocumentInfo
from rag.store.index import Index, open_newest_intact
from rag.store.manifest import IndexCorruptError, Manifest, file_sha256
from rag.store.versions import current_version


class FileBackend:
    def __init__(self, settings: Settings) -> None:
        self.index_dir = settings.index_dir

    def describe(self) -> str:
        return str(self.index_dir)

    def published(self) -> str | None:
        current = current_version(self.index_dir)
        return current.name if current else None

    def open(self) -> Index:
        return Index.open(self.index_dir)

    def list_documents(self) -> list[DocumentInfo]:
        return open_newest_intact(self.index_dir, _documents_in)


def _documents_in(folder: Path) -> list[DocumentInfo]:
    path = folder / DOCSTORE
    expected = Manifest.read(folder).checksums.get(DOCSTORE)
    if expected is None or not path.is_file() or file_sha256(path) != expected:
        raise IndexCorruptError(f"{path} does not match the index manifest's checksum")
    docstore = DocStore(path)
    try:
        counts = docstore.chunk_counts()
        paths: dict[str, list[str]] = {}
        for source in docstore.sources():
            paths.setdefault(source.doc_id, []).append(source.path)
        return [
            DocumentInfo(d.id, d.title, d.date, tuple(paths.get(d.id, [d.path])), counts.get(d.id, 0), d.language)
            for d in docstore.document_metadata()
        ]
    except sqlite3.Error as error:  # only a forged manifest lets an unreadable docstore get this far
        raise IndexCorruptError(f"{path} is unreadable ({error})") from None
    finally:
        docstore.close()
