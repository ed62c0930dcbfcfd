"""Laying out the collections of one index on Milvus (connecting: ``connection``).

One index is five collections sharing a prefix (``milvus_collection``):

* ``<prefix>_meta``: one row, the published generation and the manifest (JSON);
* ``<prefix>_<build>_chunks``: a row per chunk: its id (the row every other part
  of the app names it by), offsets, text, content hash, dense vector, and its
  analysed terms and character grams, each with Milvus's BM25 function;
* ``<prefix>_<build>_documents``: a row per document, with its terms for the document BM25;
* ``<prefix>_<build>_texts``: each document's text, in parts (a VARCHAR holds 64 KB);
* ``<prefix>_<build>_sources``: a row per indexed file name.

``<build>`` changes only when the index is rebuilt for another embedding model
(its vectors may not even have the same dimension); the meta row says which
build is published. Every row carries ``added`` and ``removed`` generations:
see ``generations``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pymilvus import DataType, Function, FunctionType, MilvusClient

from rag.store.milvus.connection import call
from rag.store.milvus.dense_indexes import index_spec

#: ``removed`` of a row no generation has removed yet.
NEVER = 2**62
#: Characters of document text per ``texts`` row: 4 UTF-8 bytes each at most stay under 64 KB.
TEXT_PART_CHARS = 16_000
_VARCHAR = 65_535
#: The chunks' field of sentence vectors; builds made before it have none.
SENTENCES = "sentences"
#: Milvus wants a vector field in every collection; the tables without vectors hold this one.
_PLACEHOLDER = "placeholder"
PLACEHOLDER_VECTOR = [0.0, 0.0]
#: Lucene's BM25 parameters, as the file store's ``BM25Index`` uses them.
_BM25 = {"bm25_k1": 1.2, "bm25_b": 0.75}


@dataclass(frozen=True)
class Names:
    """The collection names of one build of one index."""

    prefix: str
    build: int

    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    def _of(self, table: str) -> str:
        return f"{self.prefix}_b{self.build}_{table}"

    @property
    def chunks(self) -> str:
        return self._of("chunks")

    @property
    def documents(self) -> str:
        return self._of("documents")

    @property
    def texts(self) -> str:
        return self._of("texts")

    @property
    def sources(self) -> str:
        return self._of("sources")

    def tables(self) -> tuple[str, str, str, str]:
        return (self.chunks, self.documents, self.texts, self.sources)


def _versioned(client: MilvusClient, key: DataType, key_length: int = 0) -> Any:
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    if key == DataType.INT64:
        schema.add_field("key", DataType.INT64, is_primary=True)
    else:
        schema.add_field("key", DataType.VARCHAR, max_length=key_length, is_primary=True)
    schema.add_field("added", DataType.INT64)
    schema.add_field("removed", DataType.INT64)
    return schema


def _bm25_field(schema: Any, field: str, *, match: bool) -> None:
    schema.add_field(
        field,
        DataType.VARCHAR,
        max_length=_VARCHAR,
        enable_analyzer=True,
        enable_match=match,
        analyzer_params={"tokenizer": "standard"},
    )
    schema.add_field(f"{field}_sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name=f"{field}_bm25",
            function_type=FunctionType.BM25,
            input_field_names=[field],
            output_field_names=[f"{field}_sparse"],
        )
    )


def _indexes(client: MilvusClient, vectors: dict[str, dict[str, Any]], scalars: tuple[str, ...] = ()) -> Any:
    """Index parameters: every vector field must have one; scalar indexes speed up filters on large tables.

    Only the chunks table gets scalar indexes: every search filters it on the
    generation, and it is the one that grows to millions of rows.
    """
    params = client.prepare_index_params()
    for field, spec in vectors.items():
        params.add_index(field, **spec)
    for field in scalars:
        params.add_index(field, index_type="INVERTED")
    return params


def _bm25_index() -> dict[str, Any]:
    # pymilvus 3 sends each of ``params`` as its own key, which a server reads; Milvus Lite
    # reads them only from a JSON "params" key (else it uses k1 = 1.5): send both.
    return {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25", "params": {**_BM25, "params": dict(_BM25)}}


def _placeholder_index() -> dict[str, Any]:
    return {"index_type": "FLAT", "metric_type": "L2"}


def has_field(client: MilvusClient, table: str, name: str) -> bool:
    described = call(f"describe {table}", client.describe_collection, table)
    return any(f.get("name") == name for f in described.get("fields", []))


def create_build(client: MilvusClient, names: Names, dimension: int, dense_index: str) -> None:
    """Create and load the four tables of a new build (dropping any left by a build that died)."""
    for table in names.tables():
        if client.has_collection(table):
            client.drop_collection(table)
    chunks = _versioned(client, DataType.INT64)
    chunks.add_field("doc_id", DataType.VARCHAR, max_length=64)
    for field in ("start", "end", "page"):
        chunks.add_field(field, DataType.INT64)
    chunks.add_field("text", DataType.VARCHAR, max_length=_VARCHAR)
    chunks.add_field("hash", DataType.VARCHAR, max_length=64)
    chunks.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    # Packed sentence vectors (rag.store.sentences), in base64: in the chunk's row, they come and go with it.
    chunks.add_field(SENTENCES, DataType.VARCHAR, max_length=_VARCHAR)
    _bm25_field(chunks, "terms", match=True)
    _bm25_field(chunks, "grams", match=False)
    vectors = {"dense": index_spec(dense_index), "terms_sparse": _bm25_index(), "grams_sparse": _bm25_index()}
    chunk_indexes = _indexes(client, vectors, ("added", "removed", "doc_id", "hash"))
    _create(client, names.chunks, chunks, chunk_indexes)

    documents = _versioned(client, DataType.VARCHAR, 160)
    documents.add_field("doc_id", DataType.VARCHAR, max_length=64)
    for field in ("path", "title", "date", "language", "format", "pages", "excluded"):
        documents.add_field(field, DataType.VARCHAR, max_length=_VARCHAR)
    documents.add_field("chunks", DataType.INT64)
    _bm25_field(documents, "terms", match=False)
    _create(client, names.documents, documents, _indexes(client, {"terms_sparse": _bm25_index()}))

    texts = _versioned(client, DataType.VARCHAR, 160)
    texts.add_field("doc_id", DataType.VARCHAR, max_length=64)
    texts.add_field("part", DataType.INT64)
    texts.add_field("text", DataType.VARCHAR, max_length=_VARCHAR)
    texts.add_field(_PLACEHOLDER, DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER_VECTOR))
    _create_plain(client, names.texts, texts)

    sources = _versioned(client, DataType.VARCHAR, _VARCHAR)
    sources.add_field("path", DataType.VARCHAR, max_length=_VARCHAR)
    sources.add_field("doc_id", DataType.VARCHAR, max_length=64)
    sources.add_field("size", DataType.INT64)
    sources.add_field("mtime_ns", DataType.INT64)
    sources.add_field(_PLACEHOLDER, DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER_VECTOR))
    _create_plain(client, names.sources, sources)
    for table in names.tables():
        client.load_collection(table)


def _create_plain(client: MilvusClient, name: str, schema: Any) -> None:
    _create(client, name, schema, _indexes(client, {_PLACEHOLDER: _placeholder_index()}))


def _create(client: MilvusClient, name: str, schema: Any, indexes: Any) -> None:
    """A collection and its indexes, not yet loaded.

    pymilvus waits for each new index by polling every half second, even on an empty
    collection whose index is ready at once: 5.5 s for the 11 indexes of a new index.
    Loading the collection (``load``) waits for its indexes instead.
    """
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, indexes, sync=False)


def reindex_dense(client: MilvusClient, names: Names, dense_index: str) -> None:
    """Replace the dense field's index (FLAT, HNSW...): the vectors stay, nothing is re-embedded."""
    call("release chunks", client.release_collection, names.chunks)
    call("drop the vector index", client.drop_index, names.chunks, "dense")
    params = client.prepare_index_params()
    params.add_index("dense", **index_spec(dense_index))
    call("build the vector index", client.create_index, names.chunks, params)
    call("load chunks", client.load_collection, names.chunks)


def drop_other_builds(client: MilvusClient, names: Names) -> None:
    """Drop the tables of builds other than ``names``': a rebuild that died, or one whose old build outlived it."""
    own = re.compile(rf"^{re.escape(names.prefix)}_b(\d+)_(chunks|documents|texts|sources)$")
    for table in call("list collections", client.list_collections):
        found = own.match(table)
        if found and int(found.group(1)) != names.build:
            call(f"drop {table}", client.drop_collection, table)


def load(client: MilvusClient, names: Names) -> None:
    """Load a build's tables: Milvus searches only loaded collections, and a new process finds them released."""
    for table in names.tables():
        call(f"load {table}", client.load_collection, table)


def ensure_meta(client: MilvusClient, names: Names) -> None:
    if client.has_collection(names.meta):
        client.load_collection(names.meta)
        return
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    # One row per publication, keyed by its revision: publishing inserts, never overwrites.
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("value", DataType.VARCHAR, max_length=_VARCHAR)
    schema.add_field(_PLACEHOLDER, DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER_VECTOR))
    _create(client, names.meta, schema, _indexes(client, {_PLACEHOLDER: _placeholder_index()}))
    client.load_collection(names.meta)


def iterate(
    client: MilvusClient, table: str, filter: str, fields: list[str], batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every row matching ``filter``, in batches: a collection may hold more rows than one query returns."""
    rows = call(
        f"read {table}", lambda: client.query_iterator(table, batch_size=batch, filter=filter, output_fields=fields)
    )
    try:
        while True:
            found = call(f"read {table}", rows.next)
            if not found:
                return
            yield from found
    finally:
        rows.close()
