"""Documents, their file names and their chunks in one SQLite file.

Each index version has its own copy, written once and then only read, so a
reader never sees a half-applied change. The row number of a chunk is its id
in the FAISS index and in the lexical index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.types import Chunk, Document

DOCSTORE = "docstore.sqlite"

_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, title TEXT NOT NULL, date TEXT,
    language TEXT NOT NULL, format TEXT NOT NULL, text TEXT NOT NULL,
    pages TEXT NOT NULL, excluded TEXT NOT NULL
);
CREATE TABLE sources (
    path TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, end INTEGER NOT NULL, page INTEGER,
    text TEXT NOT NULL, tokens TEXT NOT NULL, hash TEXT NOT NULL,
    sentences BLOB NOT NULL DEFAULT x''
);
CREATE INDEX chunks_by_doc ON chunks(doc_id);
CREATE INDEX sources_by_doc ON sources(doc_id);
"""


@dataclass(frozen=True)
class SourceFile:
    """A file name pointing at a stored document (identical files share one)."""

    path: str
    doc_id: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DocumentInfo:
    """A document as ``rag sources`` and the Documents tab list it: every file name, and its chunk count."""

    doc_id: str
    title: str
    date: str | None
    paths: tuple[str, ...]
    chunks: int
    language: str

    @property
    def path(self) -> str:
        return self.paths[0]


@dataclass(frozen=True)
class DocumentMetadata:
    """A stored document without its text, pages or excluded spans: what a hit or a listing shows."""

    id: str
    path: str
    title: str
    date: str | None
    language: str


@dataclass(frozen=True)
class StoredChunk:
    chunk: Chunk
    tokens: tuple[str, ...]
    hash: str


def write_docstore(
    path: Path,
    documents: Iterable[Document],
    sources: Iterable[SourceFile],
    chunks: Iterable[StoredChunk],
    sentences: Sequence[bytes] = (),
) -> None:
    """One version's file; ``sentences[i]``, when given, packs the sentence vectors of chunk ``i``."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (
                    d.id,
                    d.path,
                    d.title,
                    d.date,
                    d.language,
                    d.format,
                    d.text,
                    json.dumps(d.pages),
                    json.dumps(d.excluded),
                )
                for d in documents
            ),
        )
        connection.executemany(
            "INSERT INTO sources VALUES (?,?,?,?)",
            ((s.path, s.doc_id, s.size, s.mtime_ns) for s in sources),
        )
        connection.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (
                    row,
                    c.chunk.doc_id,
                    c.chunk.start,
                    c.chunk.end,
                    c.chunk.page,
                    c.chunk.text,
                    " ".join(c.tokens),
                    c.hash,
                    sentences[row] if row < len(sentences) else b"",
                )
                for row, c in enumerate(chunks)
            ),
        )
        connection.commit()
    finally:
        connection.close()


def _document(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"],
        path=row["path"],
        title=row["title"],
        date=row["date"],
        language=row["language"],
        format=row["format"],
        text=row["text"],
        pages=tuple(json.loads(row["pages"])),
        excluded=tuple(tuple(span) for span in json.loads(row["excluded"])),
    )


def _chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(doc_id=row["doc_id"], start=row["start"], end=row["end"], text=row["text"], page=row["page"])


class DocStore:
    """Read-only access to one version's SQLite file."""

    def __init__(self, path: Path) -> None:
        # Read-only and immutable: the file never changes once its version is published.
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(chunks)")}
        # A version written before sentence vectors existed has none; its answers read words only.
        self._sentences = "sentences" in columns

    def close(self) -> None:
        self._db.close()

    def documents(self) -> list[Document]:
        return [_document(r) for r in self._db.execute("SELECT * FROM documents ORDER BY path")]

    def document_metadata(self) -> list[DocumentMetadata]:
        """Every document in ``documents()`` order, without reading the texts (most of the file)."""
        rows = self._db.execute("SELECT id, path, title, date, language FROM documents ORDER BY path")
        return [DocumentMetadata(*row) for row in rows]

    def document(self, doc_id: str) -> Document | None:
        row = self._db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return _document(row) if row else None

    def sources(self) -> list[SourceFile]:
        rows = self._db.execute("SELECT path, doc_id, size, mtime_ns FROM sources ORDER BY path")
        return [SourceFile(*row) for row in rows]

    def chunk_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id")
        return {doc_id: count for doc_id, count in rows}

    def chunks(self, rows: list[int]) -> dict[int, Chunk]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self._db.execute(f"SELECT * FROM chunks WHERE row IN ({marks})", rows)
        return {r["row"]: _chunk(r) for r in found}

    def tokens(self, rows: list[int]) -> dict[int, tuple[str, ...]]:
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = self._db.execute(f"SELECT row, tokens FROM chunks WHERE row IN ({marks})", rows)
        return {row: tuple(tokens.split()) for row, tokens in found}

    def sentences(self, rows: list[int]) -> dict[int, bytes]:
        """The packed sentence vectors (``rag.store.sentences``) of each row that has them."""
        if not rows or not self._sentences:
            return {}
        marks = ",".join("?" * len(rows))
        found = self._db.execute(f"SELECT row, sentences FROM chunks WHERE row IN ({marks})", rows)
        return {row: bytes(data) for row, data in found if data}

    def all_sentences(self) -> dict[str, bytes]:
        """Every chunk's packed sentence vectors, by the chunk's hash: what a new version reuses."""
        if not self._sentences:
            return {}
        found = self._db.execute("SELECT hash, sentences FROM chunks WHERE length(sentences) > 0")
        return {chunk_hash: bytes(data) for chunk_hash, data in found}

    def row_doc_ids(self) -> list[str]:
        """The document of every chunk row, in row order."""
        return [r[0] for r in self._db.execute("SELECT doc_id FROM chunks ORDER BY row")]

    def chunk_rows(self, doc_id: str) -> list[int]:
        found = self._db.execute("SELECT row FROM chunks WHERE doc_id = ? ORDER BY row", (doc_id,))
        return [r[0] for r in found]

    def stored_chunks(self) -> Iterator[tuple[int, StoredChunk]]:
        for r in self._db.execute("SELECT * FROM chunks ORDER BY row"):
            tokens = tuple(r["tokens"].split()) if r["tokens"] else ()
            yield r["row"], StoredChunk(_chunk(r), tokens, r["hash"])
