"""Atomic versions of the index folder, and the writer's lock.

Layout::

    vectorstore/
        CURRENT         name of the published version, replaced atomically
        .lock           held by the one writer (flock: released even on SIGKILL)
        v000003/        manifest.json, vectors.faiss, docstore.sqlite, lexical/
        v000004/

A writer fills a hidden staging folder, fsyncs it, renames it to the next
``vNNNNNN`` and only then replaces ``CURRENT``. A crash at any moment leaves
``CURRENT`` naming a complete version: the old one or the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from rag.errors import UserError

CURRENT = "CURRENT"
_VERSION = re.compile(r"^v(\d{6})$")
_STAGING_PREFIX = ".staging-"
KEEP_VERSIONS = 2


class IndexLockedError(UserError):
    pass


class IndexWriteError(UserError):
    pass


def current_version(index_dir: Path) -> Path | None:
    """The published version folder, or None for an empty or new index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    folder = index_dir / name
    return folder if _VERSION.match(name) and folder.is_dir() else None


def _versions(index_dir: Path) -> list[Path]:
    found = [p for p in index_dir.iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return sorted(found, key=lambda p: p.name)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = (index_dir / ".lock").open("a+")
    except OSError as error:
        raise IndexWriteError(f"Cannot write to the index folder {index_dir}: {error.strerror}.") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"Another indexing run is writing to {index_dir}; wait for it to finish and try again."
            ) from None
        yield
    finally:
        handle.close()


@contextlib.contextmanager
def staging(index_dir: Path) -> Iterator[Path]:
    """A fresh folder to write a version into; removed unless published."""
    folder = index_dir / f"{_STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        folder.mkdir(parents=True)
        yield folder
    except OSError as error:
        raise IndexWriteError(
            f"Could not write the index in {index_dir} ({_reason(error)}); the previous version is untouched."
        ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _reason(error: OSError) -> str:
    """One line: which index file, and what the system said (disk full, read-only...)."""
    reason = " ".join(str(error.strerror or error).split())
    name = Path(error.filename).name if error.filename else ""
    internal = name.startswith((_STAGING_PREFIX, CURRENT)) or _VERSION.match(name)
    return f"{name}: {reason}" if name and not internal else reason


def publish(index_dir: Path, staged: Path) -> Path:
    """Make ``staged`` the current version; the caller holds the writer lock."""
    final: Path | None = None
    pointer = index_dir / f"{CURRENT}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        _fsync_tree(staged)
        existing = _versions(index_dir)
        number = int(existing[-1].name[1:]) + 1 if existing else 1
        final = index_dir / f"v{number:06d}"
        os.rename(staged, final)
        with pointer.open("w", encoding="utf-8") as handle:
            handle.write(final.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except OSError as error:
        # A version that never became current must not linger: the next run would keep it
        # as the fallback instead of the version the user actually had.
        with contextlib.suppress(OSError):
            pointer.unlink(missing_ok=True)
        if final is not None and current_version(index_dir) != final:
            shutil.rmtree(final, ignore_errors=True)
        raise IndexWriteError(
            f"Could not publish the new index version in {index_dir} ({_reason(error)}); "
            "the previous version is untouched."
        ) from None
    assert final is not None  # set before anything that can succeed
    _collect_garbage(index_dir, final)
    return final


def _collect_garbage(index_dir: Path, current: Path) -> None:
    """Drop leftovers of crashed writers and all but the newest versions.

    Readers that still hold an old version open keep their open files (POSIX
    keeps an unlinked file alive), so serving is never disturbed.
    """
    for path in index_dir.iterdir():
        if path.name.startswith(_STAGING_PREFIX) or path.name.endswith(".tmp"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    keep = {current.name}
    older = [v for v in _versions(index_dir) if v.name < current.name]
    keep.update(v.name for v in older[-(KEEP_VERSIONS - 1) :])
    for version in _versions(index_dir):
        if version.name not in keep:
            shutil.rmtree(version, ignore_errors=True)
