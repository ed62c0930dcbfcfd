"""How many requests the API runs at once, how many may wait, and the refusal of the rest.

The chat queues its requests the same way (two at a time, ``max_queue``
waiting): answering is CPU-bound on a small machine, so more at once would
only make every answer slower, and a request that would wait behind a full
queue is better refused at once (HTTP 429) than left to time out.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Answers computed at once, as in the chat (``default_concurrency_limit=2``).
WORKERS = 2


class Admission:
    """At most ``workers`` requests run and ``queue`` more wait; ``enter`` says no to the next one."""

    def __init__(self, queue: int, workers: int = WORKERS) -> None:
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rag-api")
        self._lock = threading.Lock()  # left from worker threads, entered on the event loop
        self._admitted = 0

    @property
    def admitted(self) -> int:
        return self._admitted

    def enter(self) -> bool:
        """Take a place (running or waiting), or False when every place is taken."""
        with self._lock:
            if self._admitted >= self.capacity:
                return False
            self._admitted += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._admitted -= 1

    def run(self, work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``work`` on a worker thread, giving the place back when it ends (not when its caller stops waiting)."""
        future: Future[T] = self._executor.submit(work, *args)
        future.add_done_callback(lambda _: self.leave())
        return asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
