"""The one exception ingestion raises for a file it will not index."""

from __future__ import annotations


class SkipFile(Exception):
    """A file is left out of the index; ``reason`` is one line for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
