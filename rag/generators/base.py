"""The generator role: numbered passages and a question in, answer text out.

Generators write plain text in which every sentence ends with citation
markers such as ``[1]`` or ``[1, 3]`` pointing at the numbered passages;
parsing them (``rag.answering.markers``), verifying each sentence against its passage
(``rag.answering.verification``) and turning them into cited spans (``rag.answering.citing``) is shared,
so every backend's citations are checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag.errors import UserError
from rag.types import Hit


class GeneratorUnavailableError(UserError):
    """The answer backend cannot be reached or failed; the message says what to check."""


class Generator(Protocol):
    name: str

    def generate(self, question: str, passages: list[Hit], language: str) -> Iterator[str]:
        """Yield the answer in pieces as they are produced (tokens for an LLM)."""
        ...

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        """A standalone version of a follow-up question, or None to use the built-in heuristic."""
        ...
