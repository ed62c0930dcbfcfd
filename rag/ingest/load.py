"""Read one file into a Document, or say in one line why it is skipped."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from rag.ingest.clean import find_boilerplate
from rag.ingest.errors import SkipFile
from rag.ingest.loaders import LOADERS
from rag.settings import Settings
from rag.text.language import detect_language
from rag.types import Document

SUPPORTED_EXTENSIONS = frozenset(LOADERS)
_MB = 1024 * 1024


def load_document(path: Path, settings: Settings, root: Path | None = None) -> Document:
    """Load ``path``; with ``root``, refuse files (or links) that resolve outside it."""
    extension = path.suffix.lower()
    loader = LOADERS.get(extension)
    if loader is None:
        raise SkipFile(f"unsupported extension {extension}" if extension else "no file extension")
    if root is not None and not path.resolve().is_relative_to(root.resolve()):
        raise SkipFile(f"symlink target is outside {root}")
    data = _read(path, settings.max_file_bytes)
    loaded = loader(path, data, settings)
    if not loaded.text.strip():
        raise SkipFile("no text found")
    return Document(
        # Content, not path: the same file under two names gets one id.
        id=hashlib.sha256(data).hexdigest()[:32],
        path=str(path),
        text=loaded.text,
        title=loaded.title or path.stem,  # untitled: the file's name, never its first sentence
        date=loaded.date,
        language=detect_language(loaded.text),
        format=loaded.format,
        pages=loaded.pages,
        excluded=find_boilerplate(loaded.text),
    )


def _read(path: Path, limit: int) -> bytes:
    try:
        info = path.stat()
    except OSError as error:
        raise SkipFile(f"cannot read file: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SkipFile("not a regular file")
    if info.st_size > limit:
        raise SkipFile(too_big_reason(info.st_size, limit))
    if info.st_size == 0:
        raise SkipFile("empty file")
    try:
        with path.open("rb") as handle:
            # One byte more than allowed tells a file that grew since stat().
            data = handle.read(limit + 1)
    except OSError as error:
        raise SkipFile(f"cannot read file: {error.strerror or error}") from None
    if len(data) > limit:
        raise SkipFile(too_big_reason(len(data), limit))
    if not data:
        raise SkipFile("empty file")
    return data


def too_big_reason(size: int, limit: int) -> str:
    """Why a file of ``size`` bytes is skipped, one line for the user (uploads say the same)."""
    return f"file is {size / _MB:.1f} MB, above the {limit / _MB:.1f} MB limit (max_file_bytes)"
