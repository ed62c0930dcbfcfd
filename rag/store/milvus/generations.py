"""Atomic writes on Milvus: generations instead of version folders.

Milvus has no transactions across rows, so every row carries the generation
that ``added`` it and the one that ``removed`` it (``NEVER`` while it lives).
The meta row names the published generation ``G``; a reader of ``G`` sees the
rows with ``added <= G < removed``. A writer:

1. inserts the new rows with ``added = G + 1``;
2. marks the rows they replace ``removed = G + 1``;
3. publishes ``G + 1`` in the meta row: the one write that makes the change visible;
4. deletes the rows no generation from ``G`` on can see.

A writer that dies before step 3 left rows no reader sees; the next writer
first deletes them and revives the rows it had marked (``recover``). So a
document is never seen with half of its chunks, nor with its old and new ones
at once. Each commit publishes whole documents, so a long bulk load becomes
visible batch by batch, and a crash loses at most the batch in flight.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pymilvus import MilvusClient

from rag.store.manifest import Manifest
from rag.store.milvus.collections import NEVER, PLACEHOLDER_VECTOR, Names, ensure_meta, iterate
from rag.store.milvus.connection import call

_REVISION = "revision"


@dataclass(frozen=True)
class Published:
    """What the meta row says: the generation readers see, in which build, made how."""

    generation: int
    build: int
    embedder: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)
    lexical: dict[str, Any] = field(default_factory=dict)
    documents: int = 0
    chunks: int = 0
    created: str = ""
    #: How the dense vectors are searched (``dense_indexes``).
    dense_index: str = "FLAT"
    #: Which publication this is (the meta row's key): each one inserts the next.
    revision: int = 0

    def manifest(self) -> Manifest:
        return Manifest(
            version=self.generation,
            embedder=self.embedder,
            chunking=self.chunking,
            lexical=self.lexical,
            documents=self.documents,
            chunks=self.chunks,
            created=self.created,
        )


def live(generation: int) -> str:
    """The filter for the rows a reader of ``generation`` sees."""
    return f"added <= {generation} and removed > {generation}"


def read_published(client: MilvusClient, prefix: str) -> Published | None:
    """The published state, or None for an index that was never written."""
    names = Names(prefix, 0)
    if not call("list collections", lambda: client.has_collection(names.meta)):
        return None
    call("load the index", lambda: client.load_collection(names.meta))
    rows = call("read the index state", client.query, names.meta, filter="key >= 0", output_fields=["key", "value"])
    if not rows:
        return None
    newest = max(rows, key=lambda row: int(row["key"]))
    return Published(
        **{k: v for k, v in json.loads(newest["value"]).items() if k != _REVISION}, revision=int(newest["key"])
    )


def publish(client: MilvusClient, prefix: str, state: Published) -> Published:
    """Publish ``state`` as a new meta row, the one write that makes a generation visible; returns it as stored.

    A new row rather than an update of the last: an insert is all or nothing, where an
    upsert is a delete and an insert that a crash could separate, leaving no state at all.
    The rows before the previous one are deleted afterwards.
    """
    names = Names(prefix, state.build)
    call("create the index", lambda: ensure_meta(client, names))
    stored = replace(state, revision=state.revision + 1)
    value = json.dumps({k: v for k, v in asdict(stored).items() if k != _REVISION}, ensure_ascii=False)
    row = {"key": stored.revision, "value": value, "placeholder": PLACEHOLDER_VECTOR}
    call("publish the index", client.insert, names.meta, [row])
    call("clean the index state", client.delete, names.meta, filter=f"key < {stored.revision - 1}")
    return stored


def recover(client: MilvusClient, names: Names, generation: int) -> None:
    """Undo what a writer that died left after ``generation``: its new rows go, the rows it retired live again."""
    for table in names.tables():
        call(f"clean {table}", client.delete, table, filter=f"added > {generation}")
        keys = [r["key"] for r in _rows(client, table, f"removed > {generation} and removed < {NEVER}")]
        set_removed(client, table, keys, NEVER)


def retire(client: MilvusClient, table: str, filter: str, generation: int) -> int:
    """Mark the rows of ``table`` that ``filter`` selects among the live ones removed from ``generation`` on."""
    keys = [r["key"] for r in _rows(client, table, f"({filter}) and {live(generation - 1)}")]
    set_removed(client, table, keys, generation)
    return len(keys)


def set_removed(client: MilvusClient, table: str, keys: list[Any], generation: int) -> None:
    for start in range(0, len(keys), 1000):
        rows = [{"key": key, "removed": generation} for key in keys[start : start + 1000]]
        call(f"update {table}", client.upsert, table, rows, partial_update=True)


def collect_garbage(client: MilvusClient, names: Names, generation: int) -> None:
    """Delete the rows that neither ``generation`` nor the one before it sees (a request may still read that one)."""
    for table in names.tables():
        call(f"clean {table}", client.delete, table, filter=f"removed < {generation}")


def _rows(client: MilvusClient, table: str, filter: str) -> list[dict[str, Any]]:
    return list(iterate(client, table, filter, ["key"]))
