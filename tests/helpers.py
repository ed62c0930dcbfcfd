"""Shared by the tests that build an index of the seed articles and drive ``rag`` in child processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# Child processes embed with the fake embedder too, so they read the index the test built with it.
FAKE_ENV = {**os.environ, "RAG_EMBEDDING_BACKEND": "fake", "PYTHONPATH": str(ROOT)}


def index_seeds(root: Path, embedder: HashingEmbedder | None = None) -> tuple[Path, Settings]:
    """(folder of the seed articles, settings of their index), both under ``root``, indexed with the fake embedder."""
    corpus = root / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    settings = Settings(index_dir=root / "index", embedding_backend="fake")
    index_paths([corpus], settings, embedder or HashingEmbedder())
    return corpus, settings


def run_captured(command: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``command`` from the repository root with the fake embedder; the caller checks its exit code and output."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=FAKE_ENV, cwd=ROOT, check=False)


def run_cli(*args: str, prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """``rag ARGS`` in a fresh process; ``prefix`` wraps it (e.g. a command that drops privileges)."""
    return run_captured([*prefix, sys.executable, "-m", "rag.cli", *args])


def without_permission_override() -> list[str]:
    """A command prefix under which file permissions bind, even for root (who normally ignores them)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root, where chmod does not bind, and setpriv is missing to drop that power")
    drop = "-dac_override,-dac_read_search,-fowner"
    prefix = ["setpriv", "--bounding-set", drop, "--inh-caps", drop]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip(
            f"running as root, where chmod does not bind, and setpriv cannot drop that power here "
            f"({probe.stderr.strip()[:80]})"
        )
    return prefix


def access_times_recorded(folder: Path) -> bool:
    """Whether the file system under ``folder`` updates access times on read (noatime mounts do not)."""
    probe = folder / "atime-probe"
    probe.write_text("x")
    os.utime(probe, (0, probe.stat().st_mtime))
    probe.read_text()
    return probe.stat().st_atime > 0
