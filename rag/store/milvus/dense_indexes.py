"""How Milvus searches the dense vectors (``milvus_index``): exact FLAT by default, graphs or clusters when large.

FLAT compares the query with every vector: exact, the file store's ranking,
and fast enough to a few million chunks on a server. HNSW (a graph) and IVF
(clusters; SQ8 stores a byte per dimension) answer in well under linear time
at a small loss of recall (docs/scale-out.md, "Sizing"). Changing it rebuilds
only the vector index: nothing is re-embedded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag.registry import choose


@dataclass(frozen=True)
class DenseIndex:
    build: dict[str, Any]
    #: Search-time parameters for ``limit`` results.
    exploration: str = ""
    breadth: int = 0

    def search_params(self, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.exploration:
            params["params"] = {self.exploration: max(self.breadth, limit)}
        return params


DENSE_INDEXES = {
    "FLAT": DenseIndex({}),
    # M and efConstruction as Milvus's guides suggest for 384-dimension text embeddings.
    "HNSW": DenseIndex({"M": 16, "efConstruction": 200}, "ef", 128),
    "IVF_FLAT": DenseIndex({"nlist": 1024}, "nprobe", 32),
    "IVF_SQ8": DenseIndex({"nlist": 1024}, "nprobe", 32),
}


def dense_index(name: str) -> DenseIndex:
    return choose(DENSE_INDEXES, name, "milvus_index")


def index_spec(name: str) -> dict[str, Any]:
    """``add_index`` arguments for the dense field (Lite reads parameters from a nested "params" too)."""
    build = dense_index(name).build
    return {"index_type": name, "metric_type": "IP", "params": {**build, "params": dict(build)} if build else {}}
