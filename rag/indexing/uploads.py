"""Uploaded files: a safe name, the size limit, a copy under ``data_dir/uploads``, then indexing.

The browser chooses the file name, so it is treated as hostile: only its last
path component is kept, stripped of control characters, ``..``, characters
that are special on some filesystem and Windows device names, and shortened.
Sizes are checked on the uploaded file before anything reads it. The copy is
indexed file by file (never the folder), so other documents are untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rag.embedders import Embedder
from rag.indexing.discover import absolute_path
from rag.indexing.indexer import Progress, index_paths
from rag.ingest import SUPPORTED_EXTENSIONS, too_big_reason
from rag.settings import Settings

UPLOADS = "uploads"
MAX_NAME_CHARS = 120
# Filesystems cap a name at 255 bytes, and an accented letter takes two.
MAX_NAME_BYTES = 240
_MAX_EXTENSION_CHARS = 16
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)
# Letters and digits of any script, and a little punctuation common in article titles.
_UNSAFE = re.compile(r"[^\w .,()+&@'’-]")

Status = Literal["indexed", "updated", "unchanged", "skipped"]


@dataclass(frozen=True)
class UploadResult:
    name: str
    status: Status
    detail: str = ""


def uploads_dir(settings: Settings) -> Path:
    return settings.data_dir / UPLOADS


def safe_filename(name: str) -> str:
    """A name that is safe to create inside the uploads folder, whatever the client sent."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]  # the basename, whichever OS the client runs
    name = "".join(ch if ch.isprintable() else " " for ch in name)  # NUL, newlines, other controls
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name)  # no ".." anywhere
    name = re.sub(r"\s+", " ", name).strip(" .")  # no hidden file, no trailing dot (Windows drops it)
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > _MAX_EXTENSION_CHARS:
        stem, extension = name, ""
    suffix = f".{extension.lower()}" if extension else ""
    stem = stem.strip(" .") or "upload"
    if stem.split(".", 1)[0].strip().casefold() in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    while len(stem) + len(suffix) > MAX_NAME_CHARS or len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(" .") or "upload") + suffix


def _unique(name: str, taken: set[str]) -> str:
    """Two files of one upload with the same safe name must not overwrite each other."""
    stem, suffix = os.path.splitext(name)
    candidate, number = name, 2
    while candidate.casefold() in taken:
        candidate = f"{stem[: MAX_NAME_CHARS - len(suffix) - 6]} ({number}){suffix}"
        number += 1
    taken.add(candidate.casefold())
    return candidate


class _TooBigError(Exception):
    pass


def _copy(source: Path, target: Path, limit: int) -> None:
    """Copy through a temporary name, so a half-written file never has the real name."""
    partial = target.with_name(f".upload-{uuid.uuid4().hex[:12]}.part")
    try:
        with source.open("rb") as reader, partial.open("xb") as writer:
            copied = 0
            while block := reader.read(1 << 20):
                copied += len(block)
                if copied > limit:  # it grew since it was measured
                    raise _TooBigError(too_big_reason(copied, limit))
                writer.write(block)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@dataclass
class _Saved:
    shown: str
    path: Path
    created: bool
    result: UploadResult | None = None
    #: The copy a re-upload of the same name replaced, put back if the new file is refused.
    previous: Path | None = None

    def undo(self) -> None:
        """Leave the uploads folder as it was before this file came in."""
        if self.previous is not None:
            os.replace(self.previous, self.path)
            self.previous = None
        elif self.created:
            self.path.unlink(missing_ok=True)

    def keep(self) -> None:
        if self.previous is not None:
            self.previous.unlink(missing_ok=True)
            self.previous = None


def _set_aside(target: Path) -> Path | None:
    """A second name for the copy at ``target``, so replacing ``target`` can be undone."""
    if not target.exists():
        return None
    # Hidden: discovery never indexes it, even if the uploads folder is indexed as a folder.
    kept = target.with_name(f".upload-{uuid.uuid4().hex[:12]}.previous")
    try:
        os.link(target, kept)  # the same file, times and all: putting it back changes nothing
    except OSError:
        try:
            shutil.copy2(target, kept)
        except OSError:
            kept.unlink(missing_ok=True)
            raise
    return kept


def _check(source: Path, limit: int) -> str | None:
    """Why ``source`` cannot be taken, decided from its name and size alone, or None."""
    extension = source.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        supported = " ".join(sorted(SUPPORTED_EXTENSIONS))
        return f"unsupported file type {extension or '(none)'}; supported: {supported}"
    try:
        info = source.stat()
    except OSError as error:
        return f"cannot read the uploaded file ({error.strerror or error})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > limit:
        return too_big_reason(info.st_size, limit)
    return None


def _digest(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _save(source: Path, target: Path, limit: int, shown: str) -> _Saved:
    """Copy ``source`` to ``target``, setting aside the copy it replaces until indexing accepts the new one."""
    previous = None
    try:
        previous = _set_aside(target)
        _copy(source, target, limit)
    except (OSError, _TooBigError) as error:
        if previous is not None:
            previous.unlink(missing_ok=True)  # ``target`` is still the previous copy
        reason = str(error) if isinstance(error, _TooBigError) else f"could not save it ({error})"
        return _Saved(shown, source, False, UploadResult(shown, "skipped", reason))
    return _Saved(target.name, target, previous is None, previous=previous)


def index_uploads(
    files: Iterable[str | Path], settings: Settings, embedder: Embedder, progress: Progress | None = None
) -> list[UploadResult]:
    """Copy the uploaded ``files`` into the uploads folder and index them; one result per file, in order.

    Raises the indexer's UserError (e.g. another indexing run holds the lock);
    the uploads folder is then put back as it was. A refused file never replaces
    the earlier upload of its name.
    """
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[_Saved] = []
    taken: set[str] = set()
    stored: dict[str, str] = {}  # content hash -> name saved in this upload
    for file in files:
        source = Path(file)
        shown = safe_filename(source.name)
        problem = _check(source, settings.max_file_bytes)
        digest = None if problem else _digest(source)
        if digest in stored:  # the same file chosen twice is stored once
            detail = f"same content as {stored[digest]}"
            entries.append(_Saved(shown, source, False, UploadResult(shown, "unchanged", detail)))
            continue
        if problem or digest is None:
            reason = problem or "cannot read the uploaded file"
            entries.append(_Saved(shown, source, False, UploadResult(shown, "skipped", reason)))
            continue
        target = folder / _unique(shown, taken)
        saved = _save(source, target, settings.max_file_bytes, shown)
        entries.append(saved)
        if saved.result is None:
            stored[digest] = target.name
    to_index = [e for e in entries if e.result is None]
    if not to_index:
        return [e.result for e in entries if e.result]
    try:
        report = index_paths([e.path for e in to_index], settings, embedder, progress)
    except BaseException:
        for entry in to_index:
            with contextlib.suppress(OSError):  # the indexer's error is the one to report
                entry.undo()
        raise
    added, updated = set(report.added), set(report.updated)
    refused = {s.path: s.reason for s in report.skipped}
    for entry in to_index:
        key = str(absolute_path(entry.path))
        if key in refused:
            kept = "; the earlier upload of that name is kept" if entry.previous else ""
            entry.result = UploadResult(entry.shown, "skipped", refused[key] + kept)
            entry.undo()  # keep the uploads folder to what is indexed
            continue
        entry.keep()
        if key in added:
            entry.result = UploadResult(entry.shown, "indexed")
        elif key in updated:
            entry.result = UploadResult(entry.shown, "updated", "replaces the earlier upload of that name")
        else:
            entry.result = UploadResult(entry.shown, "unchanged", "already indexed with the same content")
    return [e.result for e in entries if e.result]


def delete_uploaded_copies(paths: Iterable[str], settings: Settings) -> int:
    """Delete the files among ``paths`` that live in the uploads folder (never the user's own files)."""
    folder = absolute_path(uploads_dir(settings))
    deleted = 0
    for path in map(Path, paths):
        if absolute_path(path).parent == folder and path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
