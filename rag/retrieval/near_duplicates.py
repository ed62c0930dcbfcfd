"""Passages that repeat a better-ranked one are dropped, so they do not crowd the top k."""

from __future__ import annotations

from rag.types import Chunk, Hit

#: Share of the shorter passage two hits of one document may share before the lower one is dropped.
NEAR_DUPLICATE = 0.5
#: Word-set similarity (Jaccard) above which two passages are the same text.
NEAR_DUPLICATE_WORDS = 0.9


def is_near_duplicate(
    chunk: Chunk, tokens: tuple[str, ...], kept: list[Hit], tokens_by_row: dict[int, tuple[str, ...]]
) -> bool:
    """A passage mostly inside a better-ranked one, or with nearly the same words, adds nothing.

    Neighbouring chunks share only their small overlap, so they both stay;
    repeated articles (a wire story in two files) do not.
    """
    words = set(tokens)
    for hit in kept:
        if hit.chunk.doc_id == chunk.doc_id:
            shared = min(hit.chunk.end, chunk.end) - max(hit.chunk.start, chunk.start)
            if shared > NEAR_DUPLICATE * min(len(chunk.text), len(hit.chunk.text)):
                return True
        other = set(tokens_by_row.get(hit.row, ()))
        if words and other and len(words & other) / len(words | other) >= NEAR_DUPLICATE_WORDS:
            return True
    return False
