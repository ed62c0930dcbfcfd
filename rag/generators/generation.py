"""One answer being written: its pieces as they come, and a report of how it is going.

An LLM backend returns a ``Generation`` from ``generate``: iterating it gives
the ``str`` pieces and ``Claim``s of the Generator protocol, and its
``report`` says what the backend learned and did (the context window, the
passages given, dropped or trimmed, how the answer ended). The report is set
as soon as the prompt is fitted, so a caller that gives up at its deadline
still knows what the model was given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rag.generators.base import GeneratorUnavailableError
from rag.types import Claim, GenerationReport


class GenerationCutError(GeneratorUnavailableError):
    """The backend answered, but its output was cut (``kind``); the message says why and what to do."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Generation(Iterator[str | Claim]):
    """The pieces of one answer, written by ``write(self)``, which keeps ``report`` up to date."""

    def __init__(self, write: Callable[[Generation], Iterator[str | Claim]]) -> None:
        self.report: GenerationReport | None = None
        self._pieces = write(self)

    def __iter__(self) -> Generation:
        return self

    def __next__(self) -> str | Claim:
        return next(self._pieces)

    def close(self) -> None:
        """Stop writing: the backend's request is closed, so the server stops generating too."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def report_of(pieces: object) -> GenerationReport | None:
    """The report of an answer's pieces, if the backend keeps one (the offline ones do not)."""
    return pieces.report if isinstance(pieces, Generation) else None
