"""BM25 over one text field of a Milvus chunk table, at one generation (``LexicalIndex``).

The field holds our own analysed terms, hexadecimal (``terms``), fed to Milvus's BM25
function; a term's document frequency, for its IDF, is read from its postings.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pymilvus import MilvusClient

from rag.store.milvus import terms as encoded
from rag.store.milvus.connection import call
from rag.store.milvus.generations import live

#: The most results one Milvus search returns (its topk limit).
MAX_LIMIT = 16_384


def quoted(values: list[Any]) -> str:
    """A list for a Milvus filter expression (``key in [...]``)."""
    return json.dumps(list(values), ensure_ascii=False)


def bm25_score(distance: float) -> float:
    # Milvus Lite reports a BM25 score as a negative distance, a server as the score itself.
    return abs(float(distance))


class MilvusLexical:
    """BM25 over one analysed-text field (``LexicalIndex``), as Milvus's BM25 function scores it."""

    def __init__(self, client: MilvusClient, table: str, field: str, generation: int, rows: int) -> None:
        self._client, self._table, self._field = client, table, field
        self._live = live(generation)
        self._rows = rows
        self._df: dict[str, int] = {}

    def __len__(self) -> int:
        return self._rows

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        if k <= 0 or not query_tokens or not self._rows:
            return []
        found = call(
            "search the lexical index",
            lambda: self._client.search(
                self._table,
                data=[encoded.encode(query_tokens)],
                anns_field=f"{self._field}_sparse",
                limit=min(k, self._rows),
                filter=self._live,
                output_fields=["key"],
            ),
        )
        hits = [(int(hit["key"]), bm25_score(hit["distance"])) for hit in found[0]]
        return sorted((hit for hit in hits if hit[1] > 0), key=lambda hit: (-hit[1], hit[0]))

    def _document_frequency(self, token: str) -> int:
        """How many live rows hold ``token``.

        Counted from a one-term BM25 search, which reads the term's postings: a
        ``TEXT_MATCH`` count scans every row in Milvus Lite (18 times slower for a
        question's terms over PIAF's 954 chunks, and most of a Lite retrieval). A search
        returns at most ``MAX_LIMIT`` rows, so a term found in that many is counted exactly
        by ``TEXT_MATCH`` instead.
        """
        if not self._rows:
            return 0
        if token not in self._df:
            limit = min(self._rows, MAX_LIMIT)
            found = call(
                "count terms",
                lambda: self._client.search(
                    self._table,
                    data=[encoded.encode([token])],
                    anns_field=f"{self._field}_sparse",
                    limit=limit,
                    filter=self._live,
                    output_fields=["key"],
                ),
            )
            count = sum(1 for hit in found[0] if bm25_score(hit["distance"]) > 0)
            if count == limit and limit < self._rows:
                condition = f"TEXT_MATCH({self._field}, '{encoded.match(token)}') and {self._live}"
                rows = call(
                    "count terms",
                    lambda: self._client.query(self._table, filter=condition, output_fields=["count(*)"]),
                )
                count = int(rows[0]["count(*)"])
            self._df[token] = count
        return self._df[token]

    def holds(self, token: str) -> bool:
        return self._document_frequency(token) > 0

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Lucene's IDF, as ``BM25Index.idf``: the same weights for the same counts."""
        n = self._rows
        return {
            t: math.log(1 + (n - self._document_frequency(t) + 0.5) / (self._document_frequency(t) + 0.5))
            for t in tokens
        }
