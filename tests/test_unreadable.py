"""A folder or file that cannot be read is not a deleted one: its indexed documents stay.

Root reads through ``chmod 000``, so the in-process test makes ``os.scandir`` raise
the PermissionError the kernel gives for that folder, and the CLI tests run ``rag
index`` under ``setpriv`` without the capabilities that let root ignore permissions.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.catalog import list_documents
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.versions import current_version
from tests.helpers import index_seeds, run_cli, without_permission_override

BREST = "Combien d'escales de navires le port de Brest a-t-il accueillies en 2022 ?"


def add_locked_folder(corpus: Path, settings: Settings) -> Path:
    """A subfolder with one article, indexed with the rest; the test then makes it unreadable."""
    locked = corpus / "locked"
    locked.mkdir()
    (locked / "brest.md").write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n")
    report = index_paths([corpus], settings, HashingEmbedder())
    assert report.added == [str(locked / "brest.md")]
    return locked


def test_folder_that_cannot_be_listed_keeps_its_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, settings = index_seeds(tmp_path)
    locked = add_locked_folder(corpus, settings)
    version = current_version(settings.index_dir)
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if not isinstance(path, int) and Path(os.fsdecode(path)) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = index_paths([corpus], settings, HashingEmbedder())
    assert not report.removed and not report.empty_folders
    (skip,) = report.skipped
    assert skip.path == str(locked) and "cannot read this folder (Permission denied)" in skip.reason
    assert current_version(settings.index_dir) == version
    assert len(list_documents(settings)) == 3
    assert "4 200" in Assistant(settings, embedder=HashingEmbedder()).ask(BREST).text


@pytest.mark.parametrize(
    ("mode", "unreadable"),
    [(0o000, ""), (0o444, "brest.md")],
    ids=["folder-000-cannot-list", "folder-444-cannot-open-files"],
)
def test_cli_keeps_what_a_permission_hides_and_says_so(tmp_path: Path, mode: int, unreadable: str) -> None:
    prefix = without_permission_override()
    corpus, settings = index_seeds(tmp_path)
    locked = add_locked_folder(corpus, settings)
    locked.chmod(mode)
    try:
        done = run_cli("index", str(corpus), "--index", str(settings.index_dir), prefix=prefix)
        as_json = run_cli("index", str(corpus), "--index", str(settings.index_dir), "--json", prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "removed: 0" in done.stdout and "skipped: 1" in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if "Permission denied" in line]
    assert f"{locked.name}/{unreadable}".rstrip("/") + ": cannot read" in line
    report = json.loads(as_json.stdout)
    assert report["removed"] == [] and [s["path"] for s in report["skipped"]] == [str(locked / unreadable)]
    assert len(list_documents(settings)) == 3
    assert "4 200" in Assistant(settings, embedder=HashingEmbedder()).ask(BREST).text
