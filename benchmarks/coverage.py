"""How much of each article's text actually reaches the embedder.

all-MiniLM-L6-v2 reads at most 256 wordpieces ([CLS] + 254 + [SEP]) and
sentence-transformers silently drops the rest. A 1000-character French chunk
is ~300 wordpieces, so the baseline's chunk tails are never embedded (the
200-character overlap recovers part of them in the next chunk). Our chunks are
sized in wordpieces, title included, to fit. We tokenize exactly what each
pipeline embeds, find where the window ends in characters, and count the
article's non-blank characters that fall inside some chunk's read part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedders import Embedder
from rag.indexing.indexer import embed_text
from rag.store.index import Index

BATCH = 256


@dataclass(frozen=True)
class Embedded:
    """One chunk: where it sits in its article, what was embedded, where the chunk starts in that."""

    article: str
    start: int
    length: int
    embedded: str
    prefix: int  # characters of ``embedded`` before the chunk's own text (our title line)


def read_lengths(tokenizer: Any, texts: list[str], window: int) -> list[int]:
    """Characters of each text inside the model's window of ``window`` wordpieces."""
    lengths: list[int] = []
    for first in range(0, len(texts), BATCH):
        batch = texts[first : first + BATCH]
        encoded = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
        for text, offsets in zip(batch, encoded["offset_mapping"], strict=True):
            lengths.append(len(text) if len(offsets) <= window else int(offsets[window - 1][1]))
    return lengths


def counted_lengths(count: Callable[[str], int], texts: list[str], window: int) -> list[int]:
    """``read_lengths`` for a tokenizer known only by its count: the longest prefix within the window."""
    lengths: list[int] = []
    for text in texts:
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits; almost always the whole text at once
            middle = (low + high + 1) // 2 if count(text) > window else high
            if count(text[:middle]) <= window:
                low = middle
            else:
                high = middle - 1
        lengths.append(low)
    return lengths


def coverage(articles: dict[str, str], chunks: list[Embedded], reads: list[int]) -> dict[str, float]:
    """Share of non-blank characters embedded: per article (mean, min), overall, and truncated chunks."""
    masks = {name: np.zeros(len(text), dtype=bool) for name, text in articles.items()}
    truncated = 0
    for chunk, read in zip(chunks, reads, strict=True):
        inside = max(0, min(chunk.length, read - chunk.prefix))
        truncated += inside < chunk.length
        masks[chunk.article][chunk.start : chunk.start + inside] = True
    shares, total_read, total = [], 0, 0
    for name, text in articles.items():
        visible = np.fromiter((not ch.isspace() for ch in text), dtype=bool, count=len(text))
        wanted = int(visible.sum())
        got = int((visible & masks[name]).sum())
        shares.append(got / wanted if wanted else 1.0)
        total_read, total = total_read + got, total + wanted
    return {
        "share_mean": float(np.mean(shares)) if shares else 0.0,
        "share_min": float(np.min(shares)) if shares else 0.0,
        "share_overall": total_read / total if total else 0.0,
        "articles_fully_read": float(np.mean([s >= 0.9999 for s in shares])) if shares else 0.0,
        "chunks_truncated": truncated / len(chunks) if chunks else 0.0,
        "chunks": len(chunks),
    }


def langchain_chunks(dumped: Iterable[dict[str, Any]]) -> list[Embedded]:
    # HuggingFaceEmbeddings replaces newlines with spaces: same length, same offsets.
    return [Embedded(c["source"], c["start"], len(c["text"]), c["text"].replace("\n", " "), 0) for c in dumped]


def ours_chunks(index: Index) -> tuple[dict[str, str], list[Embedded]]:
    documents = {d.id: d for d in index.docstore.documents()}
    chunks = []
    for _, stored in index.docstore.stored_chunks():
        document = documents[stored.chunk.doc_id]
        embedded = embed_text(document, stored.chunk.text)
        prefix = len(embedded) - len(stored.chunk.text)
        chunks.append(Embedded(document.id, stored.chunk.start, len(stored.chunk.text), embedded, prefix))
    return {d.id: d.text for d in documents.values()}, chunks


def run(ours_index: Path, dumped: list[dict[str, Any]], tokenizer: Any, window: int, ours: Embedder) -> dict[str, Any]:
    """Each pipeline measured with its own model: ours with its tokenizer and window, LangChain's with MiniLM's."""
    index = Index.open(ours_index)
    try:
        texts, chunks = ours_chunks(index)
    finally:
        index.close()
    # Our embedder adds "passage: " itself; max_tokens already leaves room for it.
    read = counted_lengths(ours.count_tokens, [c.embedded for c in chunks], ours.max_tokens)
    mine = coverage(texts, chunks, read)
    sources = {c["source"] for c in dumped}
    theirs_chunks = langchain_chunks(dumped)
    theirs = coverage(
        {s: Path(s).read_text(encoding="utf-8") for s in sources},
        theirs_chunks,
        read_lengths(tokenizer, [c.embedded for c in theirs_chunks], window),
    )
    return {"window_wordpieces": window, "ours_window_tokens": ours.max_tokens, "ours": mine, "langchain": theirs}
