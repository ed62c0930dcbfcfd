"""Incremental indexing: only what changed is read, chunked and embedded.

What changed is found by ``rag.indexing.scan``. Vectors are cached by the hash of the
exact text embedded, so a changed article re-embeds only the chunks whose text
changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedders import Embedder, backend_name
from rag.errors import UserError
from rag.indexing.discover import discover
from rag.indexing.scan import (
    Chunker,
    IndexState,
    Progress,
    forget_deleted,
    recall_touched,
    relink_documents,
    remember_touched,
    scan,
)
from rag.ingest import chunk_document
from rag.settings import Settings
from rag.store.docstore import StoredChunk
from rag.store.index import DOCUMENT_INDEX_VERSION, Index, IndexContents, IndexNotFoundError, write_version
from rag.store.manifest import Manifest
from rag.store.versions import writer_lock
from rag.text.analysis import ANALYSIS_VERSION, CHAR_GRAM, analyze, lexical_text
from rag.types import Document, Skipped

# Bump when the chunker's output changes for the same input: it forces a rebuild.
# (The analyzer's output has its own ANALYSIS_VERSION, in rag.text.analysis.)
CHUNKER_VERSION = 1

# Texts handed to the embedder per call: the progress bar moves after each call.
# Not `embedding_batch_size`, the model's forward-pass size (what bounds memory and
# padding): the embedder splits each call into passes of that size.
TEXTS_PER_EMBED_CALL = 64

MODEL_CHANGED = "Embedding model changed"


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


def _rebuild_reason(
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


def index_paths(
    paths: list[Path], settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> IndexReport:
    report = IndexReport()
    found = discover(paths)
    report.skipped.extend(found.skipped)
    with writer_lock(settings.index_dir):
        try:
            previous: Index | None = Index.open(settings.index_dir)
        except IndexNotFoundError:
            previous = None
        state = IndexState(previous)
        recall_touched(settings.index_dir, state)
        emb_info, chunk_info = embedder_info(settings, embedder), chunking_info(settings)
        # The sub-word and document indexes are part of the lexical layout: an
        # index without them is re-tokenised (nothing is re-embedded).
        lexical_info = {"analyzer": ANALYSIS_VERSION, "char_grams": CHAR_GRAM, "documents": DOCUMENT_INDEX_VERSION}
        stale: set[str] = set()
        if previous is not None:
            report.rebuilt = _rebuild_reason(previous.manifest, emb_info, chunk_info, lexical_info)
            previous.close()
        if report.rebuilt:
            stale = set(state.documents)
            if report.rebuilt.startswith(MODEL_CHANGED):
                state.vectors.clear()

        chunker = _chunker(settings, embedder)
        scanned = scan(found.candidates, settings, chunker, state, stale, progress)
        report.added, report.updated, report.unchanged = scanned.added, scanned.updated, scanned.unchanged
        report.skipped.extend(scanned.skipped)
        report.removed, report.empty_folders = forget_deleted(found, scanned.seen, state)
        renamed = relink_documents(state)
        stale &= set(state.documents)
        for doc_id in sorted(stale):
            state.chunks[doc_id] = chunker(state.documents[doc_id])
        report.chunks_embedded = _embed_missing(state, embedder, progress)
        report.chunks_total = sum(len(c) for c in state.chunks.values())
        changed = report.added or report.updated or report.removed or report.rebuilt or renamed
        if changed or previous is None:
            _publish(settings, state, {**emb_info, "dimension": embedder.dimension}, chunk_info, lexical_info)
        remember_touched(settings.index_dir, state, published=bool(changed) or previous is None)
    return report


def remove_document(doc_id: str, settings: Settings) -> IndexReport:
    """Drop a document (under all its file names) from the index; nothing is re-embedded."""
    report = IndexReport()
    with writer_lock(settings.index_dir):
        previous = Index.open(settings.index_dir)
        state = IndexState(previous)
        manifest = previous.manifest
        previous.close()
        report.removed = sorted(path for path, source in state.sources.items() if source.doc_id == doc_id)
        if not report.removed:
            raise UserError("That document is not in the index (it may have been removed already).")
        for path in report.removed:
            del state.sources[path]
        state.documents.pop(doc_id, None)
        state.chunks.pop(doc_id, None)
        report.chunks_total = sum(len(c) for c in state.chunks.values())
        _publish(settings, state, manifest.embedder, manifest.chunking, manifest.lexical)
    return report


def _publish(
    settings: Settings,
    state: IndexState,
    embedder: dict[str, Any],
    chunking: dict[str, Any],
    lexical: dict[str, Any],
) -> None:
    ordered = [c for doc_id in sorted(state.chunks) for c in state.chunks[doc_id]]
    dimension = int(embedder["dimension"])
    vectors = np.stack([state.vectors[c.hash] for c in ordered]) if ordered else np.zeros((0, dimension), np.float32)
    write_version(
        settings.index_dir,
        IndexContents(
            documents=sorted(state.documents.values(), key=lambda d: d.path),
            sources=sorted(state.sources.values(), key=lambda s: s.path),
            chunks=ordered,
            vectors=vectors,
            embedder=embedder,
            chunking=chunking,
            lexical=lexical,
        ),
    )


def _content_hash(embedder: Embedder, text: str) -> str:
    return hashlib.sha256(f"{embedder.name}\0{text}".encode()).hexdigest()[:32]


def _chunker(settings: Settings, embedder: Embedder) -> Chunker:
    def chunk(document: Document) -> list[StoredChunk]:
        # The title is embedded with every chunk, so it takes part of the window.
        title_tokens = embedder.count_tokens(document.title) + 1 if document.title else 0
        budget = max(32, min(settings.chunk_max_tokens, embedder.max_tokens - title_tokens))
        chunks = chunk_document(document, embedder.count_tokens, budget, settings.chunk_overlap_tokens)
        return [
            StoredChunk(
                chunk,
                tuple(analyze(lexical_text(document.title, document.date, chunk.text), document.language)),
                _content_hash(embedder, embed_text(document, chunk.text)),
            )
            for chunk in chunks
        ]

    return chunk


def _embed_missing(state: IndexState, embedder: Embedder, progress: Progress | None) -> int:
    """Embed every chunk whose exact text has no cached vector; return how many."""
    todo: dict[str, str] = {}
    for doc_id, chunks in state.chunks.items():
        document = state.documents[doc_id]
        for stored in chunks:
            if stored.hash not in state.vectors:
                todo[stored.hash] = embed_text(document, stored.chunk.text)
    # Similar lengths in a batch keep padding, hence wasted work, small.
    ordered = sorted(todo.items(), key=lambda item: len(item[1]))
    for start in range(0, len(ordered), TEXTS_PER_EMBED_CALL):
        batch = ordered[start : start + TEXTS_PER_EMBED_CALL]
        vectors = embedder.embed_documents([text for _, text in batch])
        for (key, _), vector in zip(batch, vectors, strict=True):
            state.vectors[key] = vector
        if progress:
            progress("embedding", start + len(batch), len(ordered))
    return len(ordered)
