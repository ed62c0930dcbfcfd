"""Indexing into the file store: only what changed is read, chunked and embedded, then a new version is written.

What changed is found by ``rag.indexing.scan``; the whole next version is
written beside the current one and published atomically (``rag.store.versions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rag.embedders import Embedder
from rag.errors import UserError
from rag.indexing.discover import discover
from rag.indexing.preparing import (
    MODEL_CHANGED,
    IndexReport,
    Progress,
    chunking_info,
    embed_texts,
    embedder_info,
    lexical_info,
    make_chunker,
    rebuild_reason,
    to_embed,
)
from rag.indexing.scan import (
    IndexState,
    forget_deleted,
    recall_touched,
    relink_documents,
    remember_touched,
    scan,
)
from rag.settings import Settings
from rag.store.index import Index, IndexContents, IndexNotFoundError, write_version
from rag.store.versions import writer_lock


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
        lexical = lexical_info()
        stale: set[str] = set()
        if previous is not None:
            report.rebuilt = rebuild_reason(previous.manifest, emb_info, chunk_info, lexical)
            previous.close()
        if report.rebuilt:
            stale = set(state.documents)
            if report.rebuilt.startswith(MODEL_CHANGED):
                state.vectors.clear()

        chunker = make_chunker(settings, embedder)
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
        # Chunks embedded with nothing else changed: sentence vectors the version lacked, now pooled.
        changed = (
            report.added or report.updated or report.removed or report.rebuilt or renamed or report.chunks_embedded
        )
        if changed or previous is None:
            _publish(settings, state, {**emb_info, "dimension": embedder.dimension}, chunk_info, lexical)
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
    embedded = [state.vectors[c.hash] for c in ordered]
    vectors = np.stack([e.vector for e in embedded]) if ordered else np.zeros((0, dimension), np.float32)
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
            sentences=[e.sentences for e in embedded],
        ),
    )


def _embed_missing(state: IndexState, embedder: Embedder, progress: Progress | None) -> int:
    """Embed every chunk whose exact text has no cached vector (or no sentence vectors); return how many."""
    documents = ((state.documents[doc_id], chunks) for doc_id, chunks in state.chunks.items())
    todo = to_embed(documents, state.vectors, embedder)
    for key, embedded in embed_texts(todo, embedder, progress):
        state.vectors[key] = embedded
    return len(todo)
