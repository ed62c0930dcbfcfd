"""The manifest: what an index version holds and how to check it is intact."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import UserError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class IndexCorruptError(UserError):
    """An index file does not match its manifest (tampered with or half-written)."""


@dataclass(frozen=True)
class Manifest:
    version: int
    embedder: dict[str, Any]
    chunking: dict[str, Any]
    lexical: dict[str, Any]
    documents: int
    chunks: int
    checksums: dict[str, str] = field(default_factory=dict)
    created: str = ""
    format_version: int = FORMAT_VERSION

    def write(self, folder: Path) -> None:
        data = json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False)
        (folder / MANIFEST).write_text(data + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            manifest = cls(**data)
        except (OSError, ValueError, TypeError) as error:
            raise IndexCorruptError(f"index manifest in {folder} is unreadable ({error})") from None
        if manifest.format_version != FORMAT_VERSION:
            raise IndexCorruptError(
                f"index in {folder} has format {manifest.format_version}, this version reads {FORMAT_VERSION}"
            )
        return manifest

    def verify(self, folder: Path) -> None:
        for name, expected in self.checksums.items():
            path = folder / name
            if not path.is_file() or file_sha256(path) != expected:
                raise IndexCorruptError(f"{path} does not match the index manifest's checksum")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
