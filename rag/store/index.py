"""One published index version: FAISS vectors, SQLite docstore, BM25 arrays.

Everything is a plain file in the version folder (FAISS's own format, SQLite,
NumPy ``.npy`` without pickle, JSON) and listed with its checksum in the
manifest, which is checked on open.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np
import numpy.typing as npt

from rag.errors import UserError
from rag.store.bm25_index import BM25Index
from rag.store.docstore import DOCSTORE, DocStore, SourceFile, StoredChunk, write_docstore
from rag.store.manifest import IndexCorruptError, Manifest, checksums
from rag.store.sentences import SentenceScores, similarities
from rag.store.versions import current_version, next_version, publish, staging
from rag.text.analysis import char_grams, lexical_text
from rag.types import Document

VECTORS = "vectors.faiss"
LEXICAL = "lexical"
#: BM25 over 4-letter pieces of each chunk's words (``analysis.char_grams``), rows as in LEXICAL.
LEXICAL_CHARS = "lexical-chars"
#: BM25 over whole documents, one row per document in ``DOCUMENT_ROWS`` order.
LEXICAL_DOCUMENTS = "lexical-documents"
DOCUMENT_ROWS = "rows.json"
#: How LEXICAL_DOCUMENTS is built, recorded in the manifest: bump it when a document's terms
#: change, so older indexes are re-tokenised. 2: a document's terms are its chunks' stored
#: terms (title and overlaps counted per chunk), where 1 analysed its joined text once.
DOCUMENT_INDEX_VERSION = 2

log = logging.getLogger(__name__)


class IndexNotFoundError(UserError):
    pass


@dataclass(frozen=True)
class IndexContents:
    """Everything a new version holds; ``vectors[i]`` and ``sentences[i]`` belong to ``chunks[i]``."""

    documents: list[Document]
    sources: list[SourceFile]
    chunks: list[StoredChunk]
    vectors: np.ndarray
    embedder: dict[str, Any]
    chunking: dict[str, Any]
    lexical: dict[str, Any]
    sentences: list[bytes] = field(default_factory=list)


def write_version(index_dir: Path, contents: IndexContents) -> Path:
    """Write ``contents`` as a new version and publish it (caller holds the lock)."""
    with staging(index_dir) as folder:
        vectors = np.ascontiguousarray(contents.vectors, dtype=np.float32)
        flat = faiss.IndexFlatIP(int(contents.embedder["dimension"]))
        if len(vectors):
            flat.add(vectors)
        try:
            faiss.write_index(flat, str(folder / VECTORS))
        except RuntimeError as error:  # how faiss reports a failed write (disk full, read-only...)
            raise OSError(errno.EIO, _faiss_reason(error), str(folder / VECTORS)) from None
        try:
            write_docstore(folder / DOCSTORE, contents.documents, contents.sources, contents.chunks, contents.sentences)
        except sqlite3.Error as error:  # "database or disk is full", "disk I/O error"...
            raise OSError(errno.EIO, str(error), str(folder / DOCSTORE)) from None
        BM25Index.build([list(c.tokens) for c in contents.chunks]).save(folder / LEXICAL)
        _write_lexical_extras(folder, contents)
        Manifest(
            version=next_version(index_dir),
            embedder=contents.embedder,
            chunking=contents.chunking,
            lexical=contents.lexical,
            documents=len(contents.documents),
            chunks=len(contents.chunks),
            checksums=checksums(folder),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        ).write(folder)
        return publish(index_dir, folder)


def _faiss_reason(error: RuntimeError) -> str:
    """The system's reason at the end of faiss's message: "...: 19 != 256 (No space left on device)"."""
    message = " ".join(str(error).split())
    found = re.search(r"\(([^()]+)\)$", message) or re.search(r": ([^:]+)$", message)
    return found.group(1) if found else "write error"


def _write_lexical_extras(folder: Path, contents: IndexContents) -> None:
    """The sub-word index (rows as chunks) and the document index (rows as ``DOCUMENT_ROWS``)."""
    documents = {d.id: d for d in contents.documents}
    terms: dict[str, list[str]] = {d.id: [] for d in contents.documents}
    pieces = []
    for stored in contents.chunks:
        document = documents[stored.chunk.doc_id]
        pieces.append(char_grams(lexical_text(document.title, document.date, stored.chunk.text), document.language))
        # A document's terms are its chunks' (already analysed, title and overlaps
        # included): re-analysing every text at each publish would cost more.
        terms[document.id].extend(stored.tokens)
    BM25Index.build(pieces).save(folder / LEXICAL_CHARS)
    BM25Index.build([terms[d.id] for d in contents.documents]).save(folder / LEXICAL_DOCUMENTS)
    rows = json.dumps([d.id for d in contents.documents])
    (folder / LEXICAL_DOCUMENTS / DOCUMENT_ROWS).write_text(rows, encoding="utf-8")


T = TypeVar("T")


def open_newest_intact(index_dir: Path, opener: Callable[[Path], T]) -> T:
    """``opener`` applied to the current version or, if it finds it damaged, to the newest older one it accepts."""
    current = current_version(index_dir)
    if current is None:
        raise IndexNotFoundError(f"No index in {index_dir}: run `rag index PATH` first.")
    older = sorted((p for p in index_dir.glob("v[0-9]*") if p.name < current.name), reverse=True)
    damage: IndexCorruptError | None = None
    for folder in [current, *older]:
        try:
            opened = opener(folder)
        except IndexCorruptError as error:
            damage = damage or error
            continue
        if damage:
            log.warning("%s; using the previous version %s", damage, folder.name)
        return opened
    raise IndexCorruptError(f"{damage}: run `rag index` on your files again to rebuild it")


class Index:
    """A read-only view of one version; cheap to share between threads."""

    def __init__(self, folder: Path, verify: bool = True) -> None:
        self.folder = folder
        self.manifest = Manifest.read(folder)
        if verify:
            self.manifest.verify(folder)
        try:
            self.vectors = faiss.read_index(str(folder / VECTORS))
            self.docstore = DocStore(folder / DOCSTORE)
            self.lexical = BM25Index.load(folder / LEXICAL)
            # Absent from versions written before they existed: retrieval then uses words only.
            self.chars: BM25Index | None = (
                BM25Index.load(folder / LEXICAL_CHARS) if (folder / LEXICAL_CHARS).exists() else None
            )
            self.documents_lexical: BM25Index | None = None
            self.row_documents: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
            if (folder / LEXICAL_DOCUMENTS).exists():
                self.documents_lexical = BM25Index.load(folder / LEXICAL_DOCUMENTS)
                order = json.loads((folder / LEXICAL_DOCUMENTS / DOCUMENT_ROWS).read_text(encoding="utf-8"))
                position = {doc_id: i for i, doc_id in enumerate(order)}
                self.row_documents = np.array([position[d] for d in self.docstore.row_doc_ids()], dtype=np.int64)
        except Exception as error:
            raise IndexCorruptError(f"index files in {folder} are unreadable ({error})") from None
        if self.vectors.ntotal != self.manifest.chunks:
            raise IndexCorruptError(
                f"{folder / VECTORS} holds {self.vectors.ntotal} vectors, expected {self.manifest.chunks}"
            )

    @classmethod
    def open(cls, index_dir: Path, verify: bool = True) -> Index:
        """Open the current version, falling back to the previous one if it is damaged."""
        return open_newest_intact(index_dir, lambda folder: cls(folder, verify))

    def __len__(self) -> int:
        return int(self.vectors.ntotal)

    @property
    def version(self) -> str:
        return self.folder.name

    def document_prior(self, terms: list[str], rows: list[int]) -> dict[int, float]:
        if self.documents_lexical is None or not rows:
            return {}
        scores = self.documents_lexical.scores(terms)
        best = float(scores.max(initial=0.0))
        if best <= 0:
            return {}
        relative = scores[self.row_documents[rows]] / best
        return {row: float(value) for row, value in zip(rows, relative.tolist(), strict=True)}

    def all_vectors(self) -> npt.NDArray[np.float32]:
        if len(self) == 0:
            return np.zeros((0, self.vectors.d), dtype=np.float32)
        return np.asarray(self.vectors.reconstruct_n(0, len(self)), dtype=np.float32)

    def similarities(self, query: npt.NDArray[np.float32], rows: list[int]) -> dict[int, float]:
        """The inner product of ``query`` with each row's vector (its cosine: both are normalised)."""
        rows = [row for row in rows if 0 <= row < len(self)]  # a row outside the store is left out
        if not rows:
            return {}
        vectors = np.asarray(self.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64)), dtype=np.float32)
        scores = vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
        return {row: float(score) for row, score in zip(rows, scores.tolist(), strict=True)}

    def sentence_similarities(self, query: npt.NDArray[np.float32], rows: list[int]) -> dict[int, SentenceScores]:
        return {row: similarities(data, query) for row, data in self.docstore.sentences(rows).items()}

    def search_dense(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        if len(self) == 0 or k <= 0:
            return []
        scores, rows = self.vectors.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, len(self)))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def close(self) -> None:
        self.docstore.close()
