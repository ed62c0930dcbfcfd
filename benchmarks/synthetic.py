"""Indexes of a given size: real OrangeSum chunks, padded with synthetic ones.

Embedding 100,000 chunks would take hours on two cores, and only the query
path is measured, so the real chunks are padded:

- ours: synthetic documents of real-sized chunks whose analysed tokens are
  drawn from the real chunks' token frequencies (so BM25 posting lists grow
  as they would), with random unit vectors, written through the store API
  (``write_version``) into a normal index folder;
- LangChain: real chunk texts reused (as new strings) with random unit
  vectors, added the way ``from_documents`` adds them.

Random unit vectors in 384 dimensions sit near cosine 0 from any query, so the
real chunks still win the dense ranking; the search still scans every vector.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.store.docstore import SourceFile, StoredChunk
from rag.store.index import Index, IndexContents, write_version
from rag.store.versions import writer_lock
from rag.types import Chunk, Document

SEED = 20240521


def unit_vectors(rng: np.random.Generator, count: int, dimension: int) -> np.ndarray:
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


@dataclass
class _Real:
    documents: list[Document]
    sources: list[SourceFile]
    chunks: list[StoredChunk]
    vectors: np.ndarray


def _real_part(index: Index, size: int) -> _Real:
    """Whole real documents, in path order, up to ``size`` chunks."""
    vectors = index.all_vectors()
    by_doc: dict[str, list[tuple[int, StoredChunk]]] = {}
    for row, stored in index.docstore.stored_chunks():
        by_doc.setdefault(stored.chunk.doc_id, []).append((row, stored))
    documents: list[Document] = []
    rows: list[int] = []
    chunks: list[StoredChunk] = []
    for document in index.docstore.documents():
        own = by_doc.get(document.id, [])
        if len(chunks) + len(own) > size:
            break
        documents.append(document)
        rows.extend(row for row, _ in own)
        chunks.extend(stored for _, stored in own)
    kept = {d.id for d in documents}
    sources = [s for s in index.docstore.sources() if s.doc_id in kept]
    return _Real(documents, sources, chunks, vectors[rows] if rows else vectors[:0])


def _synthetic(real: _Real, count: int, rng: np.random.Generator) -> _Real:
    counts = Counter(token for stored in real.chunks for token in stored.tokens)
    vocabulary = np.array(list(counts), dtype=object)
    weights = np.array(list(counts.values()), dtype=np.float64)
    lengths = rng.choice(np.array([len(s.tokens) for s in real.chunks]), size=count)
    drawn = vocabulary[rng.choice(len(vocabulary), size=int(lengths.sum()), p=weights / weights.sum())]
    per_doc = max(1, round(len(real.chunks) / max(len(real.documents), 1)))
    documents: list[Document] = []
    sources: list[SourceFile] = []
    chunks: list[StoredChunk] = []
    position = 0
    for first in range(0, count, per_doc):
        doc_id = f"synthetic{first:023d}"
        pieces: list[tuple[int, int, tuple[str, ...]]] = []
        text = ""
        for number in range(first, min(first + per_doc, count)):
            tokens = tuple(drawn[position : position + lengths[number]])
            position += int(lengths[number])
            start = len(text) + (2 if text else 0)
            text = f"{text}\n\n{' '.join(tokens)}" if text else " ".join(tokens)
            pieces.append((start, len(text), tokens))
        path = f"/synthetic/{first:08d}.txt"
        documents.append(Document(doc_id, path, text, f"Synthetic article {first}", None, "fr"))
        sources.append(SourceFile(path, doc_id, len(text.encode()), 0))
        for start, end, tokens in pieces:
            chunk = Chunk(doc_id, start, end, text[start:end])
            chunks.append(StoredChunk(chunk, tokens, f"synthetic-{len(chunks)}"))
    return _Real(documents, sources, chunks, unit_vectors(rng, count, real.vectors.shape[1]))


def ours_index(source: Path, size: int, destination: Path) -> dict[str, int]:
    """Write an index of exactly ``size`` chunks into ``destination``; returns the real/synthetic split."""
    index = Index.open(source)
    try:
        real = _real_part(index, size)
        manifest = index.manifest
    finally:
        index.close()
    pad = _synthetic(real, size - len(real.chunks), np.random.default_rng(SEED))
    with writer_lock(destination):
        write_version(
            destination,
            IndexContents(
                documents=sorted(real.documents + pad.documents, key=lambda d: d.path),
                sources=sorted(real.sources + pad.sources, key=lambda s: s.path),
                chunks=real.chunks + pad.chunks,
                vectors=np.concatenate([real.vectors, pad.vectors]),
                embedder=manifest.embedder,
                chunking=manifest.chunking,
                lexical=manifest.lexical,
            ),
        )
    return {"real": len(real.chunks), "synthetic": len(pad.chunks)}


def langchain_rows(
    vectors: np.ndarray, dumped: list[dict[str, Any]], size: int
) -> tuple[list[str], list[dict[str, Any]], np.ndarray, dict[str, int]]:
    """Texts, metadatas and vectors of ``size`` chunks: the real ones first, then padding."""
    real = min(size, len(dumped))
    texts = [c["text"] for c in dumped[:real]]
    metadatas = [{"source": c["source"], "start_index": c["start"]} for c in dumped[:real]]
    pad = size - real
    for number in range(pad):
        texts.append(f"{dumped[number % len(dumped)]['text']} [{number}]")
        metadatas.append({"source": f"/synthetic/{number // 3:08d}.txt", "start_index": 0})
    padding = unit_vectors(np.random.default_rng(SEED), pad, vectors.shape[1])
    return texts, metadatas, np.concatenate([vectors[:real], padding]), {"real": real, "synthetic": pad}
