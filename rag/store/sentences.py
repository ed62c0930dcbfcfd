"""A chunk's sentence vectors, packed into bytes that both stores keep beside the chunk.

The offline answer picks the sentence that answers among a few passages' dozens;
each sentence's vector is pooled from its chunk's own pass through the model at
index time (``rag.embedders.base.SpanPooling``), so a question costs one dot
product per sentence. Kept in the chunk's own row (a SQLite blob, a Milvus
string), a sentence vector is written, replaced and removed with its chunk.

Layout, little-endian: the number of sentences ``n`` and the dimension ``d``
(uint16 each); ``n`` pairs of int32 offsets into the chunk's text; ``n``
float32 scales; ``n * d`` int8 values, each row the vector divided by its scale.
Eight bits keep a cosine to within about 0.001 at a quarter of float32's size
(about 400 bytes a sentence at 384 dimensions).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.types import Spans

#: A chunk of 512 tokens rarely holds 40 sentences; 96 of 384 dimensions, in base64, fit a Milvus string.
MAX_SENTENCES = 96
#: The most bytes packed for one chunk: their base64 fits a Milvus string (65,535 characters).
MAX_BYTES = 65_535 // 4 * 3
#: ``(start, end, cosine)`` of each sentence of a chunk, offsets into the chunk's text.
SentenceScores = list[tuple[int, int, float]]
_HEADER = np.dtype([("count", "<u2"), ("dimension", "<u2")])


@dataclass(frozen=True)
class Embedded:
    """A chunk's vector, and its sentences' vectors packed (empty when the model pools none)."""

    vector: npt.NDArray[np.float32]
    sentences: bytes = b""


def pack(spans: Spans, vectors: npt.NDArray[np.float32]) -> bytes:
    """``spans`` (offsets into the chunk's text) and their unit vectors, the first ``MAX_SENTENCES`` of them.

    A span without tokens (a zero row) is left out; a chunk with none still gets a header, which
    says that it was pooled (an indexer re-embeds a chunk whose sentences were never pooled).
    """
    dimension = vectors.shape[1] if vectors.ndim == 2 else 0
    fits = (MAX_BYTES - _HEADER.itemsize) // (12 + dimension)  # a wider model keeps fewer sentences
    kept = [i for i in range(len(spans)) if np.any(vectors[i])][: min(MAX_SENTENCES, fits)]
    rows = vectors[kept].astype(np.float32).reshape(len(kept), dimension)
    scales = np.abs(rows).max(axis=1, initial=0.0) / 127
    values = np.round(rows / scales[:, None]).astype(np.int8)
    header = np.array([(len(kept), dimension)], dtype=_HEADER)
    offsets = np.asarray([spans[i] for i in kept], dtype="<i4").reshape(-1, 2)
    return header.tobytes() + offsets.tobytes() + scales.astype("<f4").tobytes() + values.tobytes()


def unpack(data: bytes) -> tuple[Spans, npt.NDArray[np.float32]]:
    """The spans and their (nearly unit) vectors of ``pack``'s bytes."""
    if not data:
        return [], np.zeros((0, 0), dtype=np.float32)
    header = np.frombuffer(data, dtype=_HEADER, count=1)[0]
    count, dimension = int(header["count"]), int(header["dimension"])
    at = _HEADER.itemsize
    offsets = np.frombuffer(data, dtype="<i4", count=2 * count, offset=at).reshape(count, 2)
    at += 8 * count
    scales = np.frombuffer(data, dtype="<f4", count=count, offset=at)
    at += 4 * count
    values = np.frombuffer(data, dtype=np.int8, count=count * dimension, offset=at).reshape(count, dimension)
    spans = [(int(a), int(b)) for a, b in offsets.tolist()]
    return spans, values.astype(np.float32) * scales[:, None]


def similarities(data: bytes, query: npt.NDArray[np.float32]) -> SentenceScores:
    """``(start, end, cosine with query)`` for each sentence packed in ``data``."""
    spans, vectors = unpack(data)
    if not spans or vectors.shape[1] != query.size:
        return []
    scores = vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
    return [(a, b, float(s)) for (a, b), s in zip(spans, scores.tolist(), strict=True)]


def to_text(data: bytes) -> str:
    """For a store that keeps strings (Milvus): base64."""
    return base64.b64encode(data).decode("ascii")


def from_text(text: str) -> bytes:
    return base64.b64decode(text) if text else b""
