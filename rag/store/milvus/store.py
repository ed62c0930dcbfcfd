"""One published generation of a Milvus index, read as a ``Store`` (``rag.store.base``).

Every read filters on the generation the store was opened at, so a request
sees one version from start to end while a writer publishes the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from pymilvus import MilvusClient

from rag.store.docstore import DocumentMetadata, SourceFile, StoredChunk
from rag.store.manifest import Manifest
from rag.store.milvus import terms as encoded
from rag.store.milvus.collections import SENTENCES, Names, has_field, iterate, load
from rag.store.milvus.connection import call
from rag.store.milvus.dense_indexes import dense_index
from rag.store.milvus.generations import Published, live
from rag.store.milvus.lexical import MilvusLexical, bm25_score, quoted
from rag.store.sentences import SentenceScores, from_text, similarities
from rag.types import Chunk, Document

_CHUNK_FIELDS = ["key", "doc_id", "start", "end", "page", "text"]


def _chunk(row: dict[str, Any]) -> Chunk:
    page = int(row["page"])
    return Chunk(row["doc_id"], int(row["start"]), int(row["end"]), row["text"], page if page >= 0 else None)


def _metadata(row: dict[str, Any]) -> DocumentMetadata:
    return DocumentMetadata(row["doc_id"], row["path"], row["title"], row["date"] or None, row["language"])


class MilvusDocuments:
    """The documents, file names and chunks of one generation (``DocumentTable``)."""

    def __init__(self, client: MilvusClient, names: Names, generation: int) -> None:
        self._client, self._names = client, names
        self._live = live(generation)

    def _query(self, table: str, filter: str, fields: list[str]) -> list[dict[str, Any]]:
        return call(
            f"read {table}",
            lambda: self._client.query(table, filter=f"({filter}) and {self._live}", output_fields=fields),
        )

    def document_metadata(self) -> list[DocumentMetadata]:
        fields = ["doc_id", "path", "title", "date", "language"]
        rows = iterate(self._client, self._names.documents, self._live, fields)
        return sorted((_metadata(r) for r in rows), key=lambda d: (d.path, d.id))

    def documents(self) -> list[Document]:
        found = [self.document(d.id) for d in self.document_metadata()]
        return [d for d in found if d is not None]

    def document(self, doc_id: str) -> Document | None:
        fields = ["doc_id", "path", "title", "date", "language", "format", "pages", "excluded"]
        rows = self._query(self._names.documents, f"doc_id == {json.dumps(doc_id)}", fields)
        if not rows:
            return None
        parts = self._query(self._names.texts, f"doc_id == {json.dumps(doc_id)}", ["part", "text"])
        row = rows[0]
        return Document(
            id=row["doc_id"],
            path=row["path"],
            text="".join(p["text"] for p in sorted(parts, key=lambda p: int(p["part"]))),
            title=row["title"],
            date=row["date"] or None,
            language=row["language"],
            format=row["format"],
            pages=tuple(json.loads(row["pages"])),
            excluded=tuple(tuple(span) for span in json.loads(row["excluded"])),
        )

    def sources(self) -> list[SourceFile]:
        rows = iterate(self._client, self._names.sources, self._live, ["path", "doc_id", "size", "mtime_ns"])
        found = [SourceFile(r["path"], r["doc_id"], int(r["size"]), int(r["mtime_ns"])) for r in rows]
        return sorted(found, key=lambda s: s.path)

    def chunks(self, rows: list[int]) -> dict[int, Chunk]:
        if not rows:
            return {}
        found = self._query(self._names.chunks, f"key in {quoted(rows)}", _CHUNK_FIELDS)
        return {int(r["key"]): _chunk(r) for r in found}

    def tokens(self, rows: list[int]) -> dict[int, tuple[str, ...]]:
        if not rows:
            return {}
        found = self._query(self._names.chunks, f"key in {quoted(rows)}", ["key", "terms"])
        return {int(r["key"]): encoded.decode(r["terms"]) for r in found}

    def doc_ids(self, rows: list[int]) -> dict[int, str]:
        if not rows:
            return {}
        return {
            int(r["key"]): r["doc_id"]
            for r in self._query(self._names.chunks, f"key in {quoted(rows)}", ["key", "doc_id"])
        }

    def chunk_counts(self) -> dict[str, int]:
        rows = iterate(self._client, self._names.documents, self._live, ["doc_id", "chunks"])
        return {r["doc_id"]: int(r["chunks"]) for r in rows if int(r["chunks"])}

    def stored_chunks(self) -> Iterator[tuple[int, StoredChunk]]:
        rows = iterate(self._client, self._names.chunks, self._live, [*_CHUNK_FIELDS, "terms", "hash"])
        for row in sorted(rows, key=lambda r: int(r["key"])):
            yield int(row["key"]), StoredChunk(_chunk(row), encoded.decode(row["terms"]), row["hash"])

    def close(self) -> None:
        """Nothing to release: the client is shared by the process (``connection.connect``)."""


class MilvusStore:
    """A ``Store`` reading generation ``published.generation`` of one index on Milvus."""

    def __init__(self, client: MilvusClient, prefix: str, published: Published) -> None:
        self._client = client
        self._names = Names(prefix, published.build)
        self._published = published
        generation = published.generation
        self._live = live(generation)
        load(client, self._names)
        self.docstore = MilvusDocuments(client, self._names, generation)
        count = call(
            "count chunks",
            lambda: client.query(self._names.chunks, filter=self._live, output_fields=["count(*)"]),
        )
        self._rows = int(count[0]["count(*)"])
        self.lexical = MilvusLexical(client, self._names.chunks, "terms", generation, self._rows)
        self.chars = MilvusLexical(client, self._names.chunks, "grams", generation, self._rows)
        self._sentences = has_field(client, self._names.chunks, SENTENCES)

    @property
    def version(self) -> str:
        return f"g{self._published.generation:012d}"

    @property
    def manifest(self) -> Manifest:
        return self._published.manifest()

    def __len__(self) -> int:
        return self._rows

    def similarities(self, query: npt.NDArray[np.float32], rows: list[int]) -> dict[int, float]:
        if not rows:
            return {}
        found = call(
            "read vectors",
            lambda: self._client.query(
                self._names.chunks, filter=f"key in {quoted(rows)} and {self._live}", output_fields=["key", "dense"]
            ),
        )
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        return {int(r["key"]): float(np.asarray(r["dense"], dtype=np.float32) @ vector) for r in found}

    def sentence_similarities(self, query: npt.NDArray[np.float32], rows: list[int]) -> dict[int, SentenceScores]:
        if not rows or not self._sentences:
            return {}
        found = call(
            "read sentence vectors",
            lambda: self._client.query(
                self._names.chunks, filter=f"key in {quoted(rows)} and {self._live}", output_fields=["key", SENTENCES]
            ),
        )
        packed = {int(r["key"]): from_text(r[SENTENCES]) for r in found if r[SENTENCES]}
        return {row: similarities(data, query) for row, data in packed.items()}

    def search_dense(self, query: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        if k <= 0 or not self._rows:
            return []
        found = call(
            "search vectors",
            lambda: self._client.search(
                self._names.chunks,
                data=[np.asarray(query, dtype=np.float32).reshape(-1).tolist()],
                anns_field="dense",
                limit=min(k, self._rows),
                filter=self._live,
                output_fields=["key"],
                search_params=dense_index(self._published.dense_index).search_params(min(k, self._rows)),
            ),
        )
        return [(int(hit["key"]), float(hit["distance"])) for hit in found[0]]

    def document_prior(self, terms: list[str], rows: list[int]) -> dict[int, float]:
        """Each row's document BM25 for ``terms``, relative to the best document's (0 to 1)."""
        if not rows or not terms:
            return {}
        query = encoded.encode(terms)

        def best_documents(filter: str, limit: int) -> list[dict[str, Any]]:
            found = call(
                "search documents",
                lambda: self._client.search(
                    self._names.documents,
                    data=[query],
                    anns_field="terms_sparse",
                    limit=limit,
                    filter=filter,
                    output_fields=["doc_id"],
                ),
            )
            return list(found[0])

        top = best_documents(self._live, 1)
        best = bm25_score(top[0]["distance"]) if top else 0.0
        if best <= 0:
            return {}
        doc_of = self.docstore.doc_ids(rows)
        wanted = sorted(set(doc_of.values()))
        scores = {
            h["doc_id"]: bm25_score(h["distance"])
            for h in best_documents(f"doc_id in {quoted(wanted)} and {self._live}", len(wanted))
        }
        return {row: scores.get(doc_of[row], 0.0) / best for row in rows if row in doc_of}

    def close(self) -> None:
        self.docstore.close()
