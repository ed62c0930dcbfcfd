"""The store role: what the rest of the app reads from one published index version.

Two backends implement it: ``rag.store.index.Index`` (FAISS, SQLite and BM25
files in a version folder) and ``rag.store.milvus.store.MilvusStore`` (one
generation of Milvus collections); ``rag.store.backends`` chooses one by settings.
The read side is everything retrieval, answering and listing touch: writing a
version stays the backend's own business.

A row is a chunk's non-negative integer id, and the same row names the same
chunk everywhere: in the vectors, the lexical indexes and the document table
(the file store numbers them from 0; Milvus keys are not consecutive). Vectors
are L2-normalised, so an inner product is a cosine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from rag.store.docstore import DocumentMetadata, SourceFile, StoredChunk
from rag.store.manifest import Manifest
from rag.store.sentences import SentenceScores
from rag.types import Chunk, Document


@runtime_checkable
class LexicalIndex(Protocol):
    """BM25 over analysed terms (``rag.text.analysis``), one row per chunk or per document."""

    def __len__(self) -> int:
        """How many rows it holds, matching or not."""
        ...

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(row, score)`` pairs with a score above 0, best first, ties by row; [] for ``k <= 0``."""
        ...

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Each token's inverse document frequency; a token no row holds gets the highest."""
        ...

    def holds(self, token: str) -> bool:
        """Whether any row holds ``token``."""
        ...


@runtime_checkable
class DocumentTable(Protocol):
    """The documents, their file names and their chunks: everything but the vectors and the lexical indexes."""

    def document_metadata(self) -> list[DocumentMetadata]:
        """Every document without its text, ordered by path: what a hit or a listing shows."""
        ...

    def documents(self) -> list[Document]:
        """Every document with its text, in ``document_metadata()`` order (the indexer reads them back)."""
        ...

    def document(self, doc_id: str) -> Document | None:
        """One document with its text (quotes are offsets into it), or None if the store does not hold it."""
        ...

    def sources(self) -> list[SourceFile]:
        """Every indexed file name, ordered by path; identical files share one document."""
        ...

    def chunks(self, rows: list[int]) -> dict[int, Chunk]:
        """The chunk of each of ``rows`` that exists; a row outside the store is left out, not an error."""
        ...

    def tokens(self, rows: list[int]) -> dict[int, tuple[str, ...]]:
        """The analysed terms of each of ``rows`` that exists, as the lexical index holds them."""
        ...

    def chunk_counts(self) -> dict[str, int]:
        """How many chunks each document has, by document id (a document without chunks is absent)."""
        ...

    def stored_chunks(self) -> Iterator[tuple[int, StoredChunk]]:
        """Every ``(row, chunk with its terms and content hash)``, in row order (the indexer reads them back)."""
        ...

    def close(self) -> None:
        """Release what the table holds open; it must not be read afterwards. Closing twice is harmless."""
        ...


@runtime_checkable
class Store(Protocol):
    """One published index version, read-only and shared between threads (as the service does); see the module."""

    @property
    def version(self) -> str:
        """Names this version; later versions sort after it (the service compares it with the published one)."""
        ...

    @property
    def manifest(self) -> Manifest:
        """What the version holds and how it was built (embedder name and dimension, chunking, counts)."""
        ...

    @property
    def docstore(self) -> DocumentTable:
        """The documents, file names and chunks, by row."""
        ...

    @property
    def lexical(self) -> LexicalIndex:
        """BM25 over each chunk's words, one row per chunk."""
        ...

    @property
    def chars(self) -> LexicalIndex | None:
        """BM25 over 4-letter pieces of each chunk's words, one row per chunk; None in versions without it."""
        ...

    def __len__(self) -> int:
        """How many chunks (and vectors) the version holds."""
        ...

    def similarities(self, query: npt.NDArray[np.float32], rows: list[int]) -> dict[int, float]:
        """The inner product of ``query`` with each of ``rows``' vectors: their cosine, both being normalised."""
        ...

    def sentence_similarities(self, query: npt.NDArray[np.float32], rows: list[int]) -> dict[int, SentenceScores]:
        """For each of ``rows`` whose chunk has sentence vectors, ``(start, end, cosine with query)`` of each sentence.

        Offsets are into the chunk's text; a row without sentence vectors (an embedder that pools
        none, a version written before them) is left out.
        """
        ...

    def document_prior(self, terms: list[str], rows: list[int]) -> dict[int, float]:
        """For each of ``rows``, its whole document's BM25 for ``terms`` over the best document's: 0 to 1.

        Empty when no document matches (or the version has no document index).
        """
        ...

    def search_dense(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``min(k, len(store))`` rows whose vectors are closest to ``query``, best first; [] for ``k <= 0``."""
        ...

    def close(self) -> None:
        """Release files and connections; the store must not be read afterwards. Closing twice is harmless."""
        ...
