"""The generator role: numbered passages and a question in, cited sentences out.

A generator yields its answer as it is written, and its cited sentences:
``str`` pieces are text to show while it streams (an LLM's tokens), and each
``Claim`` is one sentence with the numbers of the passages it cites (and, for
a quote, its span). The service shows the pieces and verifies the claims
against their passages (``rag.answering.verification``), the same way for
every backend; an extractive generator yields claims only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag.errors import UserError
from rag.types import Claim, Hit


class GeneratorUnavailableError(UserError):
    """The answer backend cannot be reached or failed; the message says what to check."""


class Generator(Protocol):
    name: str

    def generate(self, question: str, passages: list[Hit], language: str) -> Iterator[str | Claim]:
        """Yield text to show as it is produced, and the answer's cited sentences."""
        ...

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        """A standalone version of a follow-up question, or None to use the built-in heuristic."""
        ...

    def check(self) -> str:
        """One line saying the backend is ready; raises GeneratorUnavailableError when it is not."""
        ...
