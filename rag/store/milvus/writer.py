"""Writing the next generation of a Milvus index: whole documents per commit (see ``generations``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pymilvus import MilvusClient

from rag.store.docstore import SourceFile, StoredChunk
from rag.store.milvus import terms as encoded
from rag.store.milvus.collections import (
    PLACEHOLDER_VECTOR,
    SENTENCES,
    TEXT_PART_CHARS,
    Names,
    create_build,
    drop_other_builds,
    has_field,
    iterate,
    load,
    reindex_dense,
)
from rag.store.milvus.connection import call
from rag.store.milvus.generations import (
    NEVER,
    Published,
    collect_garbage,
    live,
    publish,
    read_published,
    recover,
    retire,
)
from rag.store.milvus.store import MilvusStore
from rag.store.sentences import Embedded, from_text, to_text
from rag.text.analysis import char_grams, lexical_text
from rag.types import Document

#: Rows per insert call: Milvus caps a request's size (64 MB by default).
_INSERT_ROWS = 500


@dataclass
class Batch:
    """What one commit changes: documents written whole, documents dropped, file names set or dropped."""

    documents: list[tuple[Document, list[StoredChunk], list[Embedded]]] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    renamed: dict[str, Document] = field(default_factory=dict)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.documents or self.dropped or self.renamed or self.sources or self.forgotten)


def _row_key(doc_id: str, generation: int, ordinal: int) -> int:
    # 63 bits of a hash: unique for any practical corpus, and never negative.
    digest = hashlib.blake2b(f"{doc_id}:{generation}:{ordinal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


def _quoted(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False)


class MilvusWriter:
    """The one writer of an index: recovers what a dead writer left, then commits batches."""

    def __init__(self, client: MilvusClient, prefix: str, dimension: int, dense_index: str = "FLAT") -> None:
        self._client, self._prefix = client, prefix
        self._dimension, self._dense_index = dimension, dense_index
        self._fields: dict[str, bool] = {}  # chunk table -> whether it has the sentence vectors' field
        published = read_published(client, prefix)
        if published is None:
            published = Published(generation=0, build=1, dense_index=dense_index)
            create_build(client, Names(prefix, 1), dimension, dense_index)
            self._fields.clear()
            published = publish(client, prefix, published)
        self.published = published
        self.names = Names(prefix, published.build)
        load(client, self.names)
        recover(client, self.names, published.generation)
        drop_other_builds(client, self.names)
        if published.dense_index != dense_index:
            # Milvus drops an index only from a released collection: searches wait until it is built again.
            reindex_dense(client, self.names, dense_index)
            self.published = publish(client, prefix, replace(published, dense_index=dense_index))

    def store(self) -> MilvusStore:
        return MilvusStore(self._client, self._prefix, self.published)

    def sources(self) -> dict[str, SourceFile]:
        rows = iterate(
            self._client, self.names.sources, live(self.published.generation), ["path", "doc_id", "size", "mtime_ns"]
        )
        return {r["path"]: SourceFile(r["path"], r["doc_id"], int(r["size"]), int(r["mtime_ns"])) for r in rows}

    def document_paths(self) -> dict[str, str]:
        """Every live document's id and the file name it is shown under."""
        rows = iterate(self._client, self.names.documents, live(self.published.generation), ["doc_id", "path"])
        return {r["doc_id"]: r["path"] for r in rows}

    def holds_sentences(self, names: Names | None = None) -> bool:
        """Whether a build's chunks (the current one's by default) have a field for sentence vectors."""
        table = (names or self.names).chunks
        if table not in self._fields:  # a collection's fields never change: asked once per table
            self._fields[table] = has_field(self._client, table, SENTENCES)
        return self._fields[table]

    def vectors_for(self, hashes: list[str], names: Names | None = None) -> dict[str, Embedded]:
        """The stored vectors of each chunk text already embedded (keyed by its content hash)."""
        table = (names or self.names).chunks
        fields = ["hash", "dense"] + ([SENTENCES] if self.holds_sentences(names) else [])
        found: dict[str, Embedded] = {}
        for start in range(0, len(hashes), 500):
            wanted = _quoted(hashes[start : start + 500])
            rows = call("read vectors", self._client.query, table, filter=f"hash in {wanted}", output_fields=fields)
            for row in rows:
                vector = np.asarray(row["dense"], dtype=np.float32)
                found[row["hash"]] = Embedded(vector, from_text(row.get(SENTENCES, "")))
        return found

    def commit(self, batch: Batch, info: dict[str, dict[str, Any]]) -> None:
        """Apply ``batch`` as the next generation and publish it, with ``info`` (embedder, chunking, lexical)."""
        generation = self.published.generation + 1
        self._insert_documents(batch, generation)
        replaced = {document.id for document, _, _ in batch.documents} | batch.dropped
        if replaced:
            ids = _quoted(sorted(replaced))
            for table in (self.names.chunks, self.names.texts):
                retire(self._client, table, f"doc_id in {ids}", generation)
        touched = replaced | set(batch.renamed)
        if touched:
            retire(self._client, self.names.documents, f"doc_id in {_quoted(sorted(touched))}", generation)
        paths = sorted(set(batch.sources) | batch.forgotten)
        for start in range(0, len(paths), 500):
            retire(self._client, self.names.sources, f"path in {_quoted(paths[start : start + 500])}", generation)
        self._insert(self.names.sources, [self._source_row(s, generation) for s in batch.sources.values()])
        self._publish(generation, info)

    def _insert_documents(self, batch: Batch, generation: int) -> None:
        chunk_rows: list[dict[str, Any]] = []
        text_rows: list[dict[str, Any]] = []
        document_rows: list[dict[str, Any]] = []
        # A build made before sentence vectors (being replaced by a rebuild) has no field for them.
        with_sentences = self.holds_sentences() if batch.documents else False
        for document, chunks, vectors in batch.documents:
            for ordinal, (stored, embedded) in enumerate(zip(chunks, vectors, strict=True)):
                row = self._chunk_row(document, stored, embedded, _row_key(document.id, generation, ordinal))
                if not with_sentences:
                    del row[SENTENCES]
                chunk_rows.append(row)
            for part, start in enumerate(range(0, max(len(document.text), 1), TEXT_PART_CHARS)):
                text = document.text[start : start + TEXT_PART_CHARS]
                key = f"{document.id}:{generation}:{part}"
                text_rows.append({"key": key, "doc_id": document.id, "part": part, "text": text})
            terms = [t for stored in chunks for t in stored.tokens]
            document_rows.append(self._document_row(document, len(chunks), terms))
        for document in batch.renamed.values():
            document_rows.append(self._document_row(document, *self._stored_terms(document.id)))
        for rows in (chunk_rows, text_rows, document_rows):
            for row in rows:
                row.update(added=generation, removed=NEVER)
        for row in text_rows:
            row["placeholder"] = PLACEHOLDER_VECTOR
        for row in document_rows:
            row["key"] = f"{row['doc_id']}:{generation}"
        self._insert(self.names.chunks, chunk_rows)
        self._insert(self.names.texts, text_rows)
        self._insert(self.names.documents, document_rows)

    def _chunk_row(self, document: Document, stored: StoredChunk, embedded: Embedded, key: int) -> dict[str, Any]:
        chunk = stored.chunk
        grams = char_grams(lexical_text(document.title, document.date, chunk.text), document.language)
        return {
            "key": key,
            "doc_id": chunk.doc_id,
            "start": chunk.start,
            "end": chunk.end,
            "page": -1 if chunk.page is None else chunk.page,
            "text": chunk.text,
            "hash": stored.hash,
            "dense": np.asarray(embedded.vector, dtype=np.float32).tolist(),
            SENTENCES: to_text(embedded.sentences),
            "terms": encoded.encode(stored.tokens),
            "grams": encoded.encode(grams),
        }

    def _document_row(self, document: Document, chunks: int, terms: list[str]) -> dict[str, Any]:
        return {
            "doc_id": document.id,
            "path": document.path,
            "title": document.title,
            "date": document.date or "",
            "language": document.language,
            "format": document.format,
            "pages": json.dumps(list(document.pages)),
            "excluded": json.dumps([list(span) for span in document.excluded]),
            "chunks": chunks,
            # A document's terms are its chunks', as in the file store (cut, for a very long one, at 64 KB).
            "terms": encoded.encode(terms),
        }

    def _stored_terms(self, doc_id: str) -> tuple[int, list[str]]:
        rows = iterate(
            self._client,
            self.names.chunks,
            f"doc_id == {json.dumps(doc_id)} and {live(self.published.generation)}",
            ["key", "terms"],
        )
        ordered = sorted(rows, key=lambda r: int(r["key"]))
        return len(ordered), [t for r in ordered for t in encoded.decode(r["terms"])]

    def _source_row(self, source: SourceFile, generation: int) -> dict[str, Any]:
        return {
            "key": f"{generation}:{source.path}",
            "path": source.path,
            "doc_id": source.doc_id,
            "size": source.size,
            "mtime_ns": source.mtime_ns,
            "added": generation,
            "removed": NEVER,
            "placeholder": PLACEHOLDER_VECTOR,
        }

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), _INSERT_ROWS):
            call(f"write {table}", self._client.insert, table, rows[start : start + _INSERT_ROWS])

    def _count(self, table: str, generation: int) -> int:
        rows = call("count rows", self._client.query, table, filter=live(generation), output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _publish(self, generation: int, info: dict[str, dict[str, Any]], build: int | None = None) -> None:
        state = replace(
            self.published,
            generation=generation,
            build=self.published.build if build is None else build,
            dense_index=self._dense_index,
            embedder=info["embedder"],
            chunking=info["chunking"],
            lexical=info["lexical"],
            documents=self._count(self.names.documents, generation),
            chunks=self._count(self.names.chunks, generation),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.published = publish(self._client, self._prefix, state)
        collect_garbage(self._client, self.names, generation)

    def rebuild(self, batches: Iterable[Batch], info: dict[str, dict[str, Any]]) -> None:
        """Write every document again into a new build's tables, then publish them in one step.

        For another embedding model (the vectors' space, maybe their dimension, changes) or
        other chunking: readers keep the current build until the new one is whole, and a
        rebuild that dies leaves tables the next one drops.
        """
        generation = self.published.generation + 1
        old, self.names = self.names, Names(self._prefix, self.published.build + 1)
        create_build(self._client, self.names, self._dimension, self._dense_index)
        self._fields.clear()
        for batch in batches:
            self._insert_documents(batch, generation)
            self._insert(self.names.sources, [self._source_row(s, generation) for s in batch.sources.values()])
        self._publish(generation, info, build=self.names.build)
        for table in old.tables():
            call(f"drop {table}", self._client.drop_collection, table)
