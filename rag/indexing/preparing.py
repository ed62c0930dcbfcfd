"""What every store's indexer shares: how a document becomes stored chunks, and what records how.

A chunk is keyed by the hash of the exact text embedded (with the model's
name), so a changed article re-embeds only the chunks whose text changed, and
an unchanged one nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rag.embedders import Embedder, backend_name
from rag.embedders.base import embed_with_spans, pools_spans
from rag.ingest import chunk_document
from rag.settings import Settings
from rag.store.docstore import StoredChunk
from rag.store.index import DOCUMENT_INDEX_VERSION
from rag.store.manifest import Manifest
from rag.store.sentences import Embedded, pack
from rag.text.analysis import ANALYSIS_VERSION, CHAR_GRAM, analyze, lexical_text
from rag.text.sentences import sentence_spans
from rag.types import Document, Skipped, Spans

# Bump when the chunker's output changes for the same input: it forces a rebuild.
# (The analyzer's output has its own ANALYSIS_VERSION, in rag.text.analysis.)
CHUNKER_VERSION = 1

# Texts handed to the embedder per call: the progress bar moves after each call.
# Not `embedding_batch_size`, the model's forward-pass size (what bounds memory and
# padding): the embedder splits each call into passes of that size.
TEXTS_PER_EMBED_CALL = 64

MODEL_CHANGED = "Embedding model changed"

Progress = Callable[[str, int, int], None]
Chunker = Callable[[Document], list[StoredChunk]]


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    rebuilt: str | None = None
    empty_folders: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "chunks_embedded": self.chunks_embedded,
            "chunks_total": self.chunks_total,
        }


def embed_text(document: Document, text: str) -> str:
    """What the embedder sees: the title situates a passage that never names its subject."""
    return f"{document.title}\n{text}" if document.title else text


def embedder_info(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Identifies the vectors' space; read without loading the model (dimension comes on write)."""
    return {"backend": backend_name(settings), "name": embedder.name}


def chunking_info(settings: Settings) -> dict[str, Any]:
    return {
        "max_tokens": settings.chunk_max_tokens,
        "overlap_tokens": settings.chunk_overlap_tokens,
        "version": CHUNKER_VERSION,
    }


def lexical_info() -> dict[str, Any]:
    # The sub-word and document indexes are part of the lexical layout: an
    # index without them is re-tokenised (nothing is re-embedded).
    return {"analyzer": ANALYSIS_VERSION, "char_grams": CHAR_GRAM, "documents": DOCUMENT_INDEX_VERSION}


def rebuild_reason(
    old: Manifest, embedder: dict[str, Any], chunking: dict[str, Any], lexical: dict[str, Any]
) -> str | None:
    """Why the stored documents must be chunked or analysed again, or None."""
    if {key: old.embedder.get(key) for key in embedder} != embedder:
        return f"{MODEL_CHANGED} ({old.embedder.get('name')} -> {embedder['name']}): rebuilding the index."
    if old.chunking != chunking:
        return "Chunking settings changed: rebuilding the index."
    if old.lexical != lexical:
        return "Text analysis changed: re-tokenising the index."
    return None


def content_hash(embedder: Embedder, text: str) -> str:
    return hashlib.sha256(f"{embedder.name}\0{text}".encode()).hexdigest()[:32]


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    def chunk(document: Document) -> list[StoredChunk]:
        # The title is embedded with every chunk, so it takes part of the window.
        title_tokens = embedder.count_tokens(document.title) + 1 if document.title else 0
        budget = max(32, min(settings.chunk_max_tokens, embedder.max_tokens - title_tokens))
        chunks = chunk_document(document, embedder.count_tokens, budget, settings.chunk_overlap_tokens)
        return [
            StoredChunk(
                chunk,
                tuple(analyze(lexical_text(document.title, document.date, chunk.text), document.language)),
                content_hash(embedder, embed_text(document, chunk.text)),
            )
            for chunk in chunks
        ]

    return chunk


@dataclass(frozen=True)
class Passage:
    """What the embedder reads for one chunk: its text after the title, and where its sentences are in it."""

    text: str
    #: Where the chunk's own text starts in ``text``.
    offset: int
    #: The chunk's sentences, as offsets into the chunk's own text.
    sentences: Spans


def passage(document: Document, chunk_text: str) -> Passage:
    text = embed_text(document, chunk_text)
    return Passage(text, len(text) - len(chunk_text), sentence_spans(chunk_text))


def to_embed(
    documents: Iterable[tuple[Document, list[StoredChunk]]], known: dict[str, Embedded], embedder: Embedder
) -> dict[str, Passage]:
    """The chunks to embed: those without a vector, and those whose sentences the embedder could pool but never did."""
    pools = pools_spans(embedder)
    todo: dict[str, Passage] = {}
    for document, chunks in documents:
        for stored in chunks:
            found = known.get(stored.hash)
            if found is None or (pools and not found.sentences):
                todo[stored.hash] = passage(document, stored.chunk.text)
    return todo


def embed_texts(
    todo: dict[str, Passage], embedder: Embedder, progress: Progress | None, done: int = 0, total: int = 0
) -> Iterable[tuple[str, Embedded]]:
    """``(key, embedded)`` for each ``key: passage`` of ``todo``, in calls of ``TEXTS_PER_EMBED_CALL``.

    With an embedder that pools spans, each chunk's sentences get their vectors from the same pass.
    """
    # Similar lengths in a batch keep padding, hence wasted work, small.
    ordered = sorted(todo.items(), key=lambda item: len(item[1].text))
    total = total or len(ordered)
    for start in range(0, len(ordered), TEXTS_PER_EMBED_CALL):
        batch = [p for _, p in ordered[start : start + TEXTS_PER_EMBED_CALL]]
        spans = [[(a + p.offset, b + p.offset) for a, b in p.sentences] for p in batch]
        vectors, pooled = embed_with_spans(embedder, [p.text for p in batch], spans)
        for i, (key, found) in enumerate(ordered[start : start + TEXTS_PER_EMBED_CALL]):
            sentences = pack(found.sentences, pooled[i]) if pooled is not None else b""
            yield key, Embedded(vectors[i], sentences)
        if progress:
            progress("embedding", done + start + len(batch), total)
