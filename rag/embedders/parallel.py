"""Embedding in several processes at once (``rag index --workers N``), each with its own copy of the model.

On a machine with many cores one PyTorch process stops scaling well before
it uses them all, so N processes embed N slices of each batch side by side.
Workers are plain subprocesses (``python -m rag.embedders.worker``) that read
texts as JSON lines and answer with raw float32 rows: nothing is pickled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from typing import IO, Any

import numpy as np

from rag.embedders.base import Calibration, Embedder, Vectors, pools_spans
from rag.errors import UserError
from rag.settings import Settings
from rag.types import Spans


class EmbeddingWorkerError(UserError):
    pass


class _Worker:
    def __init__(self, settings: Settings, threads: int) -> None:
        values = {k: str(v) if not isinstance(v, int | float | tuple) else v for k, v in asdict(settings).items()}
        # Each worker gets its share of the cores: N PyTorch processes each using them all would thrash.
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rag.embedders.worker", json.dumps(values)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.dimension = int(self._header()["dimension"])

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def _header(self) -> dict[str, Any]:
        line = self._pipes()[1].readline()
        if not line:
            raise EmbeddingWorkerError(
                f"An embedding worker stopped (exit code {self.process.poll()}): run with --workers 1 to see why."
            )
        header: dict[str, Any] = json.loads(line)
        if "error" in header:
            raise EmbeddingWorkerError(f"An embedding worker failed: {header['error']}")
        return header

    def send(self, texts: list[str], spans: list[Spans] | None = None) -> None:
        stdin, _ = self._pipes()
        request: dict[str, Any] = {"texts": texts} if spans is None else {"texts": texts, "spans": spans}
        stdin.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        stdin.flush()

    def receive(self) -> tuple[Vectors, int | None]:
        """The texts' rows followed by their spans' rows, and how many of those (None: not pooled)."""
        header = self._header()
        spans = header.get("spans")
        rows = int(header["rows"]) + (spans or 0)
        data = self._pipes()[1].read(rows * self.dimension * 4)
        return np.frombuffer(data, dtype=np.float32).reshape(rows, self.dimension).copy(), spans

    def close(self) -> None:
        stdin, _ = self._pipes()
        stdin.close()
        self.process.wait(timeout=30)


class ParallelEmbedder:
    """An ``Embedder`` whose ``embed_documents`` is split across ``workers`` processes; the rest is ``local``'s."""

    def __init__(self, settings: Settings, local: Embedder, workers: int) -> None:
        self._settings, self._local, self._count = settings, local, workers
        self._workers: list[_Worker] = []

    @property
    def name(self) -> str:
        return self._local.name

    @property
    def dimension(self) -> int:
        return self._local.dimension

    @property
    def max_tokens(self) -> int:
        return self._local.max_tokens

    @property
    def languages(self) -> frozenset[str]:
        return self._local.languages

    @property
    def calibration(self) -> Calibration | None:
        return self._local.calibration

    def count_tokens(self, text: str) -> int:
        return self._local.count_tokens(text)

    def embed_query(self, text: str) -> Vectors:
        return self._local.embed_query(text)

    def embed_documents(self, texts: list[str]) -> Vectors:
        return self._split(texts, None)[0]

    @property
    def pools_spans(self) -> bool:
        return pools_spans(self._local)

    def embed_with_spans(self, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors]] | None:
        vectors, pooled = self._split(texts, spans)
        return None if pooled is None else (vectors, pooled)

    def _split(self, texts: list[str], spans: list[Spans] | None) -> tuple[Vectors, list[Vectors] | None]:
        """The texts' vectors from the workers, each embedding a slice, and their spans' when asked and pooled."""
        if not self._workers:
            threads = max(1, (os.cpu_count() or 1) // self._count)
            self._workers = [_Worker(self._settings, threads) for _ in range(self._count)]
        size = max(1, -(-len(texts) // len(self._workers)))
        starts = list(range(0, len(texts), size))
        for worker, start in zip(self._workers, starts, strict=False):
            worker.send(texts[start : start + size], None if spans is None else spans[start : start + size])
        vectors: list[Vectors] = []
        pooled: list[Vectors] | None = [] if spans is not None else None
        for worker, start in zip(self._workers, starts, strict=False):
            rows, pooled_rows = worker.receive()
            count = len(texts[start : start + size])
            vectors.append(rows[:count])
            if pooled is None or pooled_rows is None or spans is None:
                pooled = None
                continue
            offset = count
            for text_spans in spans[start : start + size]:
                pooled.append(rows[offset : offset + len(text_spans)])
                offset += len(text_spans)
        return (np.vstack(vectors) if vectors else np.zeros((0, self.dimension), dtype=np.float32)), pooled

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers = []
