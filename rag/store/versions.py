"""Atomic versions of the index folder, and the writer's lock.

Layout::

    vectorstore/
        CURRENT         name of the published version, replaced atomically
        .lock           held by the one writer (flock: released even on SIGKILL)
        v000003/        manifest.json, vectors.faiss, docstore.sqlite, lexical/
        v000004/
        touched-files.json  files touched (same bytes) since CURRENT was written: a hint (rag.indexing.scan)

A writer fills a hidden staging folder, fsyncs it, renames it to the version
after ``CURRENT``'s and only then replaces ``CURRENT``. A crash at any moment
leaves ``CURRENT`` naming a complete version: the old one or the new one.
Besides the current version, the newest older one whose checksums hold is kept
as the fallback readers use when the current one is damaged.
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
from rag.store.manifest import IndexCorruptError, Manifest

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


def next_version(index_dir: Path) -> int:
    """The number the next published version gets: the one after CURRENT's (the manifest says the same)."""
    current = current_version(index_dir)
    return int(current.name[1:]) + 1 if current else 1


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
        _drop_unpublished(index_dir)
        final = index_dir / f"v{next_version(index_dir):06d}"
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


def _drop_unpublished(index_dir: Path) -> None:
    """Remove versions above CURRENT: left by writers killed before switching CURRENT, never read.

    Readers only open CURRENT or older versions, so none can hold one open; and the
    new version takes the number after CURRENT's, as its manifest says.
    """
    current = current_version(index_dir)
    for version in _versions(index_dir):
        if current is None or version.name > current.name:
            shutil.rmtree(version, ignore_errors=True)


def _collect_garbage(index_dir: Path, current: Path) -> None:
    """Drop leftovers of crashed writers and all versions but the current one and its fallbacks.

    Readers that still hold an old version open keep their open files (POSIX
    keeps an unlinked file alive), so serving is never disturbed.
    """
    for path in index_dir.iterdir():
        if path.name.startswith(_STAGING_PREFIX) or path.name.endswith(".tmp"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    keep = {current.name, *(v.name for v in _fallbacks(index_dir, current))}
    for version in _versions(index_dir):
        if version.name not in keep:
            shutil.rmtree(version, ignore_errors=True)


def _fallbacks(index_dir: Path, current: Path) -> list[Path]:
    """The newest older versions whose checksums hold: a damaged one can never serve, so it is not kept."""
    intact: list[Path] = []
    for version in reversed([v for v in _versions(index_dir) if v.name < current.name]):
        if len(intact) == KEEP_VERSIONS - 1:
            break
        if _is_intact(version):
            intact.append(version)
    return intact


def _is_intact(version: Path) -> bool:
    try:
        Manifest.read(version).verify(version)
    except (IndexCorruptError, OSError):
        return False
    return True
