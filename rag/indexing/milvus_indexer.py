"""Indexing into Milvus: files stream through in batches, each committed as whole documents.

Unlike the file store, nothing is held for the whole corpus but the file
names: documents are read, chunked, embedded and written a batch at a time
(``BATCH_CHUNKS``), and each batch is one atomic commit (``rag.store.milvus.generations``),
so a run that dies loses at most the batch in flight and a re-run goes on
from there. A file is recognised by its path, size and modification time and
a document by the hash of its bytes, as in ``rag.indexing.scan``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.embedders import Embedder
from rag.errors import UserError
from rag.indexing.discover import Discovery, absolute_path, discover
from rag.indexing.preparing import (
    MODEL_CHANGED,
    Chunker,
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
from rag.indexing.scan import deleted_paths
from rag.ingest import SkipFile, load_document
from rag.settings import Settings
from rag.store.docstore import SourceFile, StoredChunk
from rag.store.milvus.backend import MilvusBackend
from rag.store.milvus.collections import Names
from rag.store.milvus.writer import Batch, MilvusWriter
from rag.store.sentences import Embedded
from rag.store.versions import writer_lock
from rag.types import Document, Skipped

#: Chunks per commit: large enough that a commit's fixed cost (a few Milvus calls) is
#: small beside embedding them, small enough that a crash loses little.
BATCH_CHUNKS = 512


@dataclass
class _Run:
    """One indexing run: the file names as they stand, and the batch being filled."""

    writer: MilvusWriter
    chunker: Chunker
    embedder: Embedder
    info: dict[str, dict[str, Any]]
    progress: Progress | None
    report: IndexReport
    sources: dict[str, SourceFile] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    batch: Batch = field(default_factory=Batch)
    staged: dict[str, tuple[Document, list[StoredChunk]]] = field(default_factory=dict)
    #: Documents whose file names changed in this batch: dropped if none is left, renamed if their first changed.
    affected: set[str] = field(default_factory=set)

    def set_source(self, source: SourceFile, previous: SourceFile | None) -> None:
        self.sources[source.path] = source
        self.batch.sources[source.path] = source
        if previous is not None:
            self.affected.add(previous.doc_id)
        self.affected.add(source.doc_id)

    def forget(self, path: str) -> None:
        source = self.sources.pop(path)
        self.batch.sources.pop(path, None)
        self.batch.forgotten.add(path)
        self.affected.add(source.doc_id)

    def flush(self) -> None:
        names: dict[str, list[str]] = {}
        for path, source in sorted(self.sources.items()):
            if source.doc_id in self.affected:
                names.setdefault(source.doc_id, []).append(path)
        for doc_id in sorted(self.affected):
            first = names.get(doc_id)
            if doc_id in self.staged:
                document, chunks = self.staged[doc_id]
                self.staged[doc_id] = (replace(document, path=first[0]) if first else document, chunks)
            elif doc_id in self.documents and not first:
                self.batch.dropped.add(doc_id)
            elif doc_id in self.documents and first and first[0] != self.documents[doc_id]:
                stored = self.writer.store().docstore.document(doc_id)
                if stored is not None:
                    self.batch.renamed[doc_id] = replace(stored, path=first[0])
        self.batch.documents = list(self._embedded())
        if self.batch:
            self.writer.commit(self.batch, self.info)
        for document, _, _ in self.batch.documents:
            self.documents[document.id] = document.path
        for doc_id, document in self.batch.renamed.items():
            self.documents[doc_id] = document.path
        for doc_id in self.batch.dropped:
            self.documents.pop(doc_id, None)
        self.batch, self.staged, self.affected = Batch(), {}, set()

    def _embedded(self) -> Iterator[tuple[Document, list[StoredChunk], list[Embedded]]]:
        staged = list(self.staged.values())
        hashes = sorted({stored.hash for _, chunks in staged for stored in chunks})
        vectors = self.writer.vectors_for(hashes)
        todo = to_embed(staged, vectors, self.embedder)
        # Embedding happens batch by batch while files are read: the "reading" bar measures both.
        vectors.update(embed_texts(todo, self.embedder, None))
        self.report.chunks_embedded += len(todo)
        for document, chunks in staged:
            yield document, chunks, [vectors[stored.hash] for stored in chunks]

    def pending_chunks(self) -> int:
        return sum(len(chunks) for _, chunks in self.staged.values())


def index_paths(
    paths: list[Path], settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> IndexReport:
    report = IndexReport()
    found = discover(paths)
    report.skipped.extend(found.skipped)
    backend = MilvusBackend(settings)
    with writer_lock(settings.index_dir):
        writer = MilvusWriter(backend.client(), backend.prefix, embedder.dimension, backend.dense_index)
        info = {
            "embedder": {**embedder_info(settings, embedder), "dimension": embedder.dimension},
            "chunking": chunking_info(settings),
            "lexical": lexical_info(),
        }
        run = _Run(writer, make_chunker(settings, embedder), embedder, info, progress, report)
        if writer.published.generation > 0:
            manifest = writer.published.manifest()
            report.rebuilt = rebuild_reason(
                manifest, embedder_info(settings, embedder), info["chunking"], info["lexical"]
            ) or (None if writer.holds_sentences() else OLD_LAYOUT)
        if report.rebuilt:
            _rebuild(run, same_model=not report.rebuilt.startswith(MODEL_CHANGED))
        run.sources, run.documents = writer.sources(), writer.document_paths()
        seen = _scan(found, settings, run)
        report.removed, report.empty_folders = _forget_deleted(found, seen, run)
        run.flush()
        if writer.published.generation == 0:
            writer.commit(Batch(), info)  # a first run publishes an index, even an empty one
        report.chunks_total = writer.published.chunks
    return report


#: A build made before chunks carried sentence vectors has no field for them (Milvus fixes a schema).
OLD_LAYOUT = "The index predates sentence vectors: rebuilding it into new collections."


def _scan(found: Discovery, settings: Settings, run: _Run) -> set[str]:
    seen: set[str] = set()
    report = run.report
    for number, candidate in enumerate(found.candidates, 1):
        if run.progress:
            run.progress("reading", number, len(found.candidates))
        path = str(absolute_path(candidate.path))
        known = run.sources.get(path)
        try:
            stat = candidate.path.stat()
        except OSError as error:
            # Only a file that is really gone is deleted; one we may not read is kept.
            kept = known is not None and not isinstance(error, FileNotFoundError)
            note = "; the indexed version is kept" if kept else ""
            report.skipped.append(Skipped(path, f"cannot read file ({error.strerror}){note}"))
            if kept:
                seen.add(path)
            continue
        if known and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            seen.add(path)
            report.unchanged += 1
            continue
        try:
            document = load_document(candidate.path, settings, candidate.root)
        except SkipFile as skip:
            report.skipped.append(Skipped(path, skip.reason))
            if known:  # keep the version we have rather than lose it
                seen.add(path)
            continue
        seen.add(path)
        run.set_source(SourceFile(path, document.id, stat.st_size, stat.st_mtime_ns), known)
        if known and known.doc_id == document.id:
            report.unchanged += 1  # touched, same bytes
            continue
        (report.updated if known else report.added).append(path)
        if document.id not in run.documents and document.id not in run.staged:
            run.staged[document.id] = (document, run.chunker(document))
            if run.pending_chunks() >= BATCH_CHUNKS:
                run.flush()
    return seen


def _forget_deleted(found: Discovery, seen: set[str], run: _Run) -> tuple[list[str], list[str]]:
    """The files gone from the folders walked leave the index (``scan.deleted_paths``)."""
    removed, empty = deleted_paths(found, seen, list(run.sources))
    for path in removed:
        run.forget(path)
    return removed, empty


def _rebuild(run: _Run, same_model: bool) -> None:
    """Every stored document chunked (and, for another model, embedded) again into a new build."""
    old = run.writer.store()
    old_names: Names = run.writer.names
    documents = old.docstore.document_metadata()
    sources = old.docstore.sources()

    def batches() -> Iterator[Batch]:
        batch, pending = Batch(), 0
        for number, metadata in enumerate(documents, 1):
            document = old.docstore.document(metadata.id)
            if document is None:
                continue
            chunks = run.chunker(document)
            hashes = [stored.hash for stored in chunks]
            reused = run.writer.vectors_for(hashes, old_names) if same_model else {}
            todo = to_embed([(document, chunks)], reused, run.embedder)
            reused.update(embed_texts(todo, run.embedder, None))
            run.report.chunks_embedded += len(todo)
            batch.documents.append((document, chunks, [reused[h] for h in hashes]))
            pending += len(chunks)
            if run.progress:
                run.progress("rebuilding", number, len(documents))
            if pending >= BATCH_CHUNKS:
                yield batch
                batch, pending = Batch(), 0
        batch.sources = {s.path: s for s in sources}
        yield batch

    run.writer.rebuild(batches(), run.info)


def remove_document(doc_id: str, settings: Settings) -> IndexReport:
    """Drop a document (under all its file names) from the index; nothing is re-embedded."""
    report = IndexReport()
    backend = MilvusBackend(settings)
    with writer_lock(settings.index_dir):
        if backend.published() is None:  # checked first: a writer would create an empty index
            raise UserError("That document is not in the index (it may have been removed already).")
        writer = MilvusWriter(backend.client(), backend.prefix, 0, backend.dense_index)
        sources = writer.sources()
        report.removed = sorted(path for path, source in sources.items() if source.doc_id == doc_id)
        if not report.removed:
            raise UserError("That document is not in the index (it may have been removed already).")
        manifest = writer.published
        info = {"embedder": manifest.embedder, "chunking": manifest.chunking, "lexical": manifest.lexical}
        writer.commit(Batch(dropped={doc_id}, forgotten=set(report.removed)), info)
        report.chunks_total = writer.published.chunks
    return report
