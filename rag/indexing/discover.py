"""Turn the paths a user names into the files to index."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import UserError
from rag.types import Skipped


class PathNotFoundError(UserError):
    pass


@dataclass(frozen=True)
class Candidate:
    path: Path
    #: The folder the user named (symbolic links may not leave it); None for a named file.
    root: Path | None


@dataclass(frozen=True)
class Discovery:
    candidates: list[Candidate]
    #: Folders walked: an indexed file under one of them that is gone was deleted...
    folders: list[Path]
    skipped: list[Skipped]
    #: ...unless it lies under one of these, which could not be listed (permissions, I/O error).
    unreadable: list[Path] = field(default_factory=list)


def absolute_path(path: Path) -> Path:
    """Absolute, without ``..``, but not resolving symbolic links (the link's own name counts)."""
    return Path(os.path.normpath(path.expanduser().absolute()))


def discover(paths: list[Path]) -> Discovery:
    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise PathNotFoundError(f"No such file or folder: {', '.join(missing)}.")
    candidates: list[Candidate] = []
    folders: list[Path] = []
    skipped: list[Skipped] = []
    unreadable: list[Path] = []
    for given in paths:
        path = absolute_path(given)
        if not path.is_dir():
            candidates.append(Candidate(path, None))
            continue
        folders.append(path)
        _walk(path, candidates, skipped, unreadable)
    return Discovery(candidates, folders, skipped, unreadable)


def _walk(root: Path, candidates: list[Candidate], skipped: list[Skipped], unreadable: list[Path]) -> None:
    errors: list[OSError] = []
    # Without onerror, os.walk passes over a folder it cannot list as if it were empty.
    for folder, dirnames, filenames in os.walk(root, onerror=errors.append, followlinks=False):
        base = Path(folder)
        # Hidden folders (.git, .venv...) are never articles.
        for name in sorted(dirnames):
            if name.startswith(".") or (base / name).is_symlink():
                if (base / name).is_symlink():
                    skipped.append(Skipped(str(base / name), "symbolic link to a folder, not followed"))
                dirnames.remove(name)
        dirnames.sort()
        candidates.extend(Candidate(base / name, root) for name in sorted(filenames) if not name.startswith("."))
    for error in errors:
        where = Path(error.filename) if error.filename else root
        unreadable.append(where)
        skipped.append(Skipped(str(where), _unreadable_reason(error)))


def _unreadable_reason(error: OSError) -> str:
    return (
        f"cannot read this folder ({error.strerror or error}); what was indexed from it is kept: "
        "make it readable and index again"
    )
