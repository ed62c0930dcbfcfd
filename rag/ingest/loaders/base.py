"""What every loader backend returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.settings import Settings


@dataclass(frozen=True)
class LoadedText:
    """The text of one file; ``pages`` are PDF page start offsets into ``text``."""

    text: str
    title: str
    date: str | None
    format: str
    pages: tuple[int, ...] = ()


# Settings travel along because some backends have limits to honour
# (the PDF parser's time limit).
Loader = Callable[[Path, bytes, Settings], LoadedText]
