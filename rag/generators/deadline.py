"""Pulling a backend's pieces until a deadline, whatever the backend does meanwhile.

A timeout on each read bounds each wait for a token, not the answer: a server
that streams slowly, or stalls after a few tokens, can hold a request for
minutes. Here the pieces are pulled in a worker thread and handed over
through a queue, so the caller stops waiting at the deadline even while the
worker is blocked in a read. The worker then closes the pieces as soon as it
gets control back (at the next token, or when its read times out), which
closes the request, and the server stops generating.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The deadline passed before the pieces ended."""


def until(deadline: float, pieces: Iterator[T]) -> Iterator[T]:
    """``pieces`` as they come, until ``deadline`` (a ``time.perf_counter()`` reading), then DeadlineExceeded.

    An exception raised by the pieces is raised here, in the caller's thread.
    """
    handed: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def pull() -> None:
        try:
            for piece in pieces:
                if stop.is_set():
                    break
                handed.put(piece)
            handed.put(_END)
        except BaseException as error:
            handed.put(_Failure(error))
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    # A daemon: a worker still blocked in a read must not keep a finished `rag ask` alive.
    threading.Thread(target=pull, name="answer-pieces", daemon=True).start()
    try:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise DeadlineExceeded
            try:
                item = handed.get(timeout=remaining)
            except queue.Empty:
                raise DeadlineExceeded from None
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()


_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def call_before(deadline: float, function: Callable[[], T]) -> T:
    """``function()``, or DeadlineExceeded if it has not returned by ``deadline``."""

    def once() -> Iterator[T]:
        yield function()

    for value in until(deadline, once()):
        return value
    raise AssertionError("once() yields exactly one value")  # pragma: no cover
