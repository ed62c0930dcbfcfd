"""What changed on disk since the index's current version.

A file is recognised by its path, size and modification time; a document by
the SHA-256 of its bytes, so an identical file under two names is stored once.
A file or folder that cannot be read is never taken for a deleted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.indexing.discover import Candidate, Discovery, absolute_path
from rag.indexing.preparing import Chunker, Progress
from rag.ingest import SkipFile, load_document
from rag.settings import Settings
from rag.store.docstore import SourceFile, StoredChunk
from rag.store.index import Index
from rag.store.sentences import Embedded
from rag.types import Document, Skipped

#: Beside the versions: files touched (same bytes) since the current version was written.
TOUCHED_FILES = "touched-files.json"


class IndexState:
    """The previous version, unpacked into what the next one is built from."""

    def __init__(self, index: Index | None) -> None:
        self.documents: dict[str, Document] = {}
        self.sources: dict[str, SourceFile] = {}
        self.chunks: dict[str, list[StoredChunk]] = {}
        self.vectors: dict[str, Embedded] = {}
        #: The file names as the version on disk holds them, to tell what a run changed.
        self.published: dict[str, SourceFile] = {}
        if index is None:
            return
        self.documents = {d.id: d for d in index.docstore.documents()}
        self.sources = {s.path: s for s in index.docstore.sources()}
        self.published = dict(self.sources)
        vectors, sentences = index.all_vectors(), index.docstore.all_sentences()
        for row, stored in index.docstore.stored_chunks():
            self.chunks.setdefault(stored.chunk.doc_id, []).append(stored)
            self.vectors[stored.hash] = Embedded(vectors[row], sentences.get(stored.hash, b""))


@dataclass
class ScanResult:
    seen: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def scan(
    candidates: list[Candidate],
    settings: Settings,
    chunker: Chunker,
    state: IndexState,
    stale: set[str],
    progress: Progress | None,
) -> ScanResult:
    """Read new and changed files into ``state``; ``seen`` holds the paths still present."""
    result = ScanResult()
    for number, candidate in enumerate(candidates, 1):
        if progress:
            progress("reading", number, len(candidates))
        path = str(absolute_path(candidate.path))
        known = state.sources.get(path)
        try:
            stat = candidate.path.stat()
        except OSError as error:
            # Only a file that is really gone is deleted; one we may not read is kept.
            kept = known is not None and not isinstance(error, FileNotFoundError)
            note = "; the indexed version is kept" if kept else ""
            result.skipped.append(Skipped(path, f"cannot read file ({error.strerror}){note}"))
            if kept:
                result.seen.add(path)
            continue
        if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            result.seen.add(path)
            result.unchanged += 1
            continue
        try:
            document = load_document(candidate.path, settings, candidate.root)
        except SkipFile as skip:
            result.skipped.append(Skipped(path, skip.reason))
            if known:  # keep the version we have rather than lose it
                result.seen.add(path)
            continue
        result.seen.add(path)
        state.sources[path] = SourceFile(path, document.id, stat.st_size, stat.st_mtime_ns)
        if known and known.doc_id == document.id:
            result.unchanged += 1  # touched, same bytes
            continue
        (result.updated if known else result.added).append(path)
        if document.id not in state.documents or document.id in stale:
            state.documents[document.id] = document
            state.chunks[document.id] = chunker(document)
            stale.discard(document.id)
    return result


def under(path: str, folder: Path) -> bool:
    return path.startswith(str(folder).rstrip(os.sep) + os.sep)


def deleted_paths(found: Discovery, seen: set[str], known: Iterable[str]) -> tuple[list[str], list[str]]:
    """The ``known`` files gone from the folders walked, except under a folder that could not be listed.

    Returns (removed paths, folders with nothing indexable). Shared by both stores' indexers.
    """
    removed: list[str] = []
    taken: set[str] = set()
    empty: list[str] = []
    known = list(known)
    for folder in found.folders:
        if folder not in found.unreadable and not any(under(path, folder) for path in seen):
            empty.append(str(folder))
        for path in known:
            gone = under(path, folder) and path not in seen and not any(under(path, u) for u in found.unreadable)
            if gone and path not in taken:
                removed.append(path)
                taken.add(path)
    return removed, empty


def forget_deleted(found: Discovery, seen: set[str], state: IndexState) -> tuple[list[str], list[str]]:
    """Drop the files gone from the folders walked (``deleted_paths``), and the documents left without a file."""
    removed, empty = deleted_paths(found, seen, state.sources)
    for path in removed:
        del state.sources[path]
    live = {s.doc_id for s in state.sources.values()}
    for doc_id in list(state.documents):
        if doc_id not in live:
            del state.documents[doc_id]
            state.chunks.pop(doc_id, None)
    return removed, empty


def relink_documents(state: IndexState) -> bool:
    """Name each document after its first indexed file, as ``rag sources`` lists it; True if one changed.

    A document's path is the source its passages cite: when the name it was first
    read under is deleted while a copy remains, it must follow the copy.
    """
    first_names: dict[str, str] = {}
    for path in sorted(state.sources):
        first_names.setdefault(state.sources[path].doc_id, path)
    changed = False
    for doc_id, document in list(state.documents.items()):
        name = first_names.get(doc_id)
        if name is not None and name != document.path:
            state.documents[doc_id] = replace(document, path=name)
            changed = True
    return changed


def recall_touched(index_dir: Path, state: IndexState) -> None:
    """Apply the sizes and times of files touched since the current version (same bytes, so same document).

    A hint only: an entry that no longer names the document indexed for its path is ignored,
    and a missing or unreadable file just means touched files are read once more.
    """
    try:
        entries = json.loads((index_dir / TOUCHED_FILES).read_text(encoding="utf-8"))
        touched = [SourceFile(str(p), str(d), int(s), int(m)) for p, d, s, m in entries]
    except (OSError, ValueError, TypeError):
        return
    for source in touched:
        known = state.sources.get(source.path)
        if known is not None and known.doc_id == source.doc_id:
            state.sources[source.path] = source


def remember_touched(index_dir: Path, state: IndexState, published: bool) -> None:
    """Save the new times of files touched since the current version, beside it, so the next run need not read them.

    Writing a whole version for them would rebuild every BM25 index. After a publish
    the version holds them, so nothing is left to remember.
    """
    touched = [] if published else [s for p, s in state.sources.items() if state.published.get(p) != s]
    target = index_dir / TOUCHED_FILES
    with contextlib.suppress(OSError):  # a hint that cannot be saved costs one re-read
        if touched:
            rows = [[s.path, s.doc_id, s.size, s.mtime_ns] for s in sorted(touched, key=lambda s: s.path)]
            _write_atomically(target, json.dumps(rows, ensure_ascii=False))
        else:
            target.unlink(missing_ok=True)


def _write_atomically(target: Path, text: str) -> None:
    # A ``.tmp`` name: should this process die before the rename, the version clean-up sweeps it.
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
