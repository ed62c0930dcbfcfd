"""Crashes and failed writes never leave a mixed or broken index.

* ``rag index`` is killed with SIGKILL at random moments, again and again, while it
  switches the index between two versions of a corpus: after each kill the index
  opens, its checksums hold, and it is exactly the old or the new complete version.
* Every write step fails in turn (disk full, read-only, permission denied), by
  monkeypatching each writer: one-line IndexWriteError, previous version intact,
  nothing half-written left behind.
* The same on real filesystems: a full tmpfs and a read-only bind mount (in a
  private mount namespace, where the machine allows it) and a ``chmod 0o555``
  folder written by a process without the power to ignore permissions.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store import index as index_module
from rag.store.bm25_index import BM25Index
from rag.store.index import Index
from rag.store.manifest import Manifest
from rag.store.versions import CURRENT, IndexWriteError, current_version
from tests.helpers import FAKE_ENV, ROOT, index_seeds, run_captured, run_cli, without_permission_override

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
FILES = 40
KILL_RUNS = 32


@dataclass(frozen=True)
class State:
    """What a complete version holds, independent of file times."""

    sources: frozenset[tuple[str, str]]  # (path, document id)
    chunks: int

    @classmethod
    def of(cls, index: Index) -> State:
        sources = frozenset((s.path, s.doc_id) for s in index.docstore.sources())
        return cls(sources, len(index))


def read_state(index_dir: Path) -> State:
    """The published version, opened without falling back and with every checksum verified."""
    folder = current_version(index_dir)
    assert folder is not None, "CURRENT must always name a complete version"
    index = Index(folder, verify=True)  # no fallback: the current version itself must be whole
    try:
        assert index.manifest.chunks == len(index) and index.manifest.documents == len(index.docstore.documents())
        return State.of(index)
    finally:
        index.close()


def leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(".staging-") or p.name.endswith(".tmp"))


def written(index_dir: Path) -> set[str]:
    """Everything a writer creates: staging folders, pointer files, version folders."""
    return {p.name for p in index_dir.iterdir() if p.name.startswith((".staging-", "v")) or p.name.endswith(".tmp")}


# Kill loop ----------------------------------------------------------------------------


def _article(number: int, variant: str) -> str:
    lines = [f"# Note {number} ({variant})", ""]
    for paragraph in range(4):
        lines.append(
            f"Le port numéro {number} a accueilli {number * 100 + paragraph} escales de navires en "
            f"{2000 + paragraph}, selon la chambre de commerce. Variante {variant}. " * 5
        )
        lines.append("")
    return "\n".join(lines)


def corpus_variant(variant: str, files: int = FILES, turnover: int = 5) -> dict[str, str]:
    """``files`` small articles; B changes every third one, drops ``turnover`` and adds as many."""
    found = {f"n{n:02d}.md": _article(n, "A") for n in range(files)}
    if variant == "B":
        for n in range(0, files, 3):
            found[f"n{n:02d}.md"] = _article(n, "B")
        for n in range(files - turnover, files):
            del found[f"n{n:02d}.md"]
        found.update({f"m{n:02d}.md": _article(100 + n, "B") for n in range(turnover)})
    return found


def switch_corpus(folder: Path, variant: str, files: int = FILES, turnover: int = 5) -> None:
    wanted = corpus_variant(variant, files, turnover)
    for path in folder.iterdir():
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def start_index(folder: Path, index_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "index", str(folder), "--index", str(index_dir), "--json"],
        env=FAKE_ENV,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def complete_run(folder: Path, index_dir: Path) -> float:
    started = time.monotonic()
    process = start_index(folder, index_dir)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    return time.monotonic() - started


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_the_old_or_the_new_version(tmp_path: Path) -> None:
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    states: dict[str, State] = {}
    durations = []
    for variant in ("A", "B", "A"):  # three complete runs: the two known states and the typical duration
        switch_corpus(folder, variant)
        durations.append(complete_run(folder, index_dir))
        states[variant] = read_state(index_dir)
    assert states["A"] != states["B"] and states["A"].chunks > 3 * FILES
    typical = sorted(durations)[1]
    rng = random.Random(20240611)
    outcomes = {"killed before writing": 0, "killed while writing": 0, "killed after publishing": 0, "finished": 0}
    held = "A"
    runs = 0
    # At least KILL_RUNS runs, and more (up to twice as many) until a few kills have hit the write phase.
    while runs < KILL_RUNS or (outcomes["killed while writing"] < 3 and runs < 2 * KILL_RUNS):
        runs += 1
        target = "B" if held == "A" else "A"
        switch_corpus(folder, target)
        earlier = written(index_dir)
        process = start_index(folder, index_dir)
        # Anywhere in a typical run but its first 30 %, spent starting Python, before anything is open.
        time.sleep(rng.uniform(0.3 * typical, typical))
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        _, err = process.communicate(timeout=60)
        if not killed:
            assert process.returncode == 0, err.decode()
        state = read_state(index_dir)
        assert state in (states[held], states[target]), "the index holds a mix of two versions"
        answer = Assistant(Settings(index_dir=index_dir, embedding_backend="fake"), embedder=HashingEmbedder())
        assert not answer.ask("Combien d'escales le port numéro 7 a-t-il accueillies en 2001 ?").abstained
        if not killed:
            outcomes["finished"] += 1
            assert state == states[target]
        elif state == states[target]:
            outcomes["killed after publishing"] += 1
        elif written(index_dir) - earlier:  # its staging folder or unpublished version is there: killed mid-write
            outcomes["killed while writing"] += 1
        else:
            outcomes["killed before writing"] += 1
        held = "A" if state == states["A"] else "B"
    # A last, uninterrupted run completes the switch and sweeps what the killed writers left.
    target = "B" if held == "A" else "A"
    switch_corpus(folder, target)
    complete_run(folder, index_dir)
    assert read_state(index_dir) == states[target] and not leftovers(index_dir)
    assert len([p for p in index_dir.iterdir() if p.name.startswith("v")]) <= 2
    kills = runs - outcomes["finished"]
    print(f"\n{runs} runs, {kills} killed with SIGKILL (typical run {typical:.2f} s): {outcomes}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "crash.json").write_text(
        json.dumps({"runs": runs, "killed": kills, "typical_run_seconds": round(typical, 3), **outcomes}) + "\n"
    )
    assert kills >= runs // 2, "most runs must really be killed for this test to mean anything"


# Injected write failures -------------------------------------------------------------------

DISK_FULL = OSError(errno.ENOSPC, "No space left on device")
READ_ONLY = OSError(errno.EROFS, "Read-only file system")
NO_PERMISSION = PermissionError(errno.EACCES, "Permission denied")
ERRORS = {"disk-full": DISK_FULL, "read-only": READ_ONLY, "permission": NO_PERMISSION}


def _failing(error: BaseException) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise error

    return fail


def _fail_rename_of_staging(error: BaseException) -> Callable[..., Any]:
    real = os.rename

    def rename(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if Path(source).name.startswith(".staging-"):
            raise error
        real(source, target, *args, **kwargs)

    return rename


def _fail_replace_of_current(error: BaseException) -> Callable[..., Any]:
    real = os.replace

    def replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if Path(target).name == CURRENT:
            raise error
        real(source, target, *args, **kwargs)

    return replace


# Each writer of a version, in the order they run, and how to make it fail.
WRITERS: dict[str, Callable[[pytest.MonkeyPatch, BaseException], None]] = {
    "faiss.write_index": lambda mp, e: mp.setattr(faiss, "write_index", _failing(e)),
    "write_docstore": lambda mp, e: mp.setattr(index_module, "write_docstore", _failing(e)),
    "BM25Index.save": lambda mp, e: mp.setattr(BM25Index, "save", _failing(e)),
    "Manifest.write": lambda mp, e: mp.setattr(Manifest, "write", _failing(e)),
    "fsync": lambda mp, e: mp.setattr(os, "fsync", _failing(e)),
    "rename-staging": lambda mp, e: mp.setattr(os, "rename", _fail_rename_of_staging(e)),
    "replace-CURRENT": lambda mp, e: mp.setattr(os, "replace", _fail_replace_of_current(e)),
}

# What the libraries really raise when their disk is full: neither is an OSError.
NATIVE_ERRORS = [
    (
        "faiss.write_index",
        RuntimeError(
            "Error in void faiss::write_index(const Index*, IOWriter*, int) at index_write.cpp:499: Error: "
            "'ret == (size * 4)' failed: write error in /x/vectors.faiss: 19955 != 256000 (No space left on device)"
        ),
        "vectors.faiss: No space left on device",
    ),
    (
        "write_docstore",
        sqlite3.OperationalError("database or disk is full"),
        "docstore.sqlite: database or disk is full",
    ),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, State]:
    """(articles folder, index of it, its state), built once; tests work on copies of the index."""
    corpus, settings = index_seeds(tmp_path_factory.mktemp("write-failures"))
    return corpus, settings.index_dir, read_state(settings.index_dir)


@pytest.fixture
def writable(seeded: tuple[Path, Path, State], tmp_path: Path) -> Iterator[tuple[Settings, Path, State]]:
    """Settings on a private copy of the index, and a new article to index into it."""
    _, index_dir, state = seeded
    shutil.copytree(index_dir, tmp_path / "index")
    new = tmp_path / "new.md"
    new.write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n", encoding="utf-8")
    yield Settings(index_dir=tmp_path / "index", embedding_backend="fake"), new, state


def assert_untouched(settings: Settings, state: State, version: Path | None) -> None:
    assert current_version(settings.index_dir) == version
    assert read_state(settings.index_dir) == state
    assert not leftovers(settings.index_dir), "nothing half-written may stay behind"
    assert sorted(p.name for p in settings.index_dir.iterdir() if p.name.startswith("v")) == [version.name]  # type: ignore[union-attr]
    answer = Assistant(settings, embedder=HashingEmbedder()).ask(ALIBABA)
    assert "30 personnes" in answer.text


def fail_then_recover(
    settings: Settings, new: Path, state: State, monkeypatch: pytest.MonkeyPatch, break_writer: Callable[[], None]
) -> str:
    version = current_version(settings.index_dir)
    break_writer()
    try:
        with pytest.raises(IndexWriteError) as caught:
            index_paths([new], settings, HashingEmbedder())
    finally:
        monkeypatch.undo()
    message = str(caught.value)
    assert "\n" not in message and "the previous version is untouched" in message
    assert_untouched(settings, state, version)
    # Once the disk is fine again, the same run works: nothing (the lock above all) was left stuck.
    report = index_paths([new], settings, HashingEmbedder())
    assert report.added == [str(new)] and read_state(settings.index_dir).chunks > state.chunks
    return message


@pytest.mark.parametrize("error", ERRORS, ids=list(ERRORS))
@pytest.mark.parametrize("writer", WRITERS, ids=list(WRITERS))
def test_each_write_step_failing_keeps_the_previous_version(
    writable: tuple[Settings, Path, State], monkeypatch: pytest.MonkeyPatch, writer: str, error: str
) -> None:
    settings, new, state = writable
    failure = ERRORS[error]
    message = fail_then_recover(settings, new, state, monkeypatch, lambda: WRITERS[writer](monkeypatch, failure))
    assert failure.strerror in message and str(settings.index_dir) in message


@pytest.mark.parametrize(("writer", "failure", "reason"), NATIVE_ERRORS, ids=[w for w, *_ in NATIVE_ERRORS])
def test_native_disk_full_errors_are_reported_in_one_line(
    writable: tuple[Settings, Path, State],
    monkeypatch: pytest.MonkeyPatch,
    writer: str,
    failure: Exception,
    reason: str,
) -> None:
    settings, new, state = writable
    message = fail_then_recover(settings, new, state, monkeypatch, lambda: WRITERS[writer](monkeypatch, failure))
    assert f"({reason})" in message


# Real filesystems ----------------------------------------------------------------------------

CHECKER = """
import json, sys
from pathlib import Path
from rag.embedders.fake import HashingEmbedder
from rag.answering.service import Assistant
from rag.settings import Settings
from rag.store.index import Index
from rag.store.versions import current_version
folder = Path(sys.argv[1])
index = Index(current_version(folder))
answer = Assistant(Settings(index_dir=folder, embedding_backend="fake"), embedder=HashingEmbedder()).ask(sys.argv[2])
print(json.dumps({
    "current": current_version(folder).name,
    "sources": sorted([s.path, s.doc_id] for s in index.docstore.sources()),
    "chunks": len(index),
    "entries": sorted(p.name for p in folder.iterdir()),
    "answer": answer.text,
}))
"""


def _namespace_mounts_work() -> str | None:
    """None if this process may mount in a private mount namespace, else why not."""
    if not shutil.which("unshare"):
        return "unshare is not installed"
    with tempfile.TemporaryDirectory() as target:
        probe = subprocess.run(
            ["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{target}'"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    return None if probe.returncode == 0 else f"cannot mount in a private namespace ({probe.stderr.strip()[:80]})"


@pytest.fixture(scope="module")
def mounts() -> None:
    reason = _namespace_mounts_work()
    if reason:
        pytest.skip(f"real full/read-only filesystems need mount rights: {reason}")


def run_in_namespace(setup: str, source: Path, index_dir: Path, out: Path) -> dict[str, Any]:
    """``setup`` (sh), then ``rag index SOURCE`` into ``index_dir``, in a private mount namespace: its mounts
    vanish with it. The run's exit code and stderr, and what a fresh process then finds in the index."""
    python = sys.executable
    script = f"""
        {setup}
        set +e
        '{python}' -m rag.cli index '{source}' --index '{index_dir}' > '{out}/index.out' 2> '{out}/index.err'
        echo $? > '{out}/index.rc'
        set -e
        '{python}' -c '{CHECKER}' '{index_dir}' '{ALIBABA}' > '{out}/state.json'
    """
    done = run_captured(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script], timeout=180)
    assert done.returncode == 0, done.stderr
    return {
        "rc": int((out / "index.rc").read_text()),
        "stderr": (out / "index.err").read_text(),
        "state": json.loads((out / "state.json").read_text()),
    }


def _expected(index_dir: Path) -> dict[str, Any]:
    index = Index.open(index_dir)
    try:
        return {
            "current": index.folder.name,
            "sources": sorted([s.path, s.doc_id] for s in index.docstore.sources()),
            "chunks": len(index),
        }
    finally:
        index.close()


def _big_corpus(seeded: tuple[Path, Path, State], tmp_path: Path) -> Path:
    corpus = tmp_path / "more"
    shutil.copytree(seeded[0], corpus)
    sentences = (f"Le quai numéro {n} du port de Brest mesure {n * 3} mètres de long. " for n in range(12_000))
    (corpus / "big.md").write_text("# Les quais de Brest\n\n" + "".join(sentences), encoding="utf-8")
    return corpus


@pytest.mark.slow
@pytest.mark.parametrize(
    ("free_kib", "reason"),
    [(64, "vectors.faiss: No space left on device"), (1024, "docstore.sqlite: database or disk is full")],
    ids=["fails-in-faiss", "fails-in-sqlite"],
)
def test_real_full_disk(
    mounts: None, seeded: tuple[Path, Path, State], tmp_path: Path, free_kib: int, reason: str
) -> None:
    corpus, out, mount = _big_corpus(seeded, tmp_path), tmp_path / "out", tmp_path / "disk"
    out.mkdir()
    mount.mkdir()
    setup = f"""
        mount -t tmpfs -o size=16m tmpfs '{mount}'
        cp -a '{seeded[1]}' '{mount}/index'
        used=$(df --output=used -B1 '{mount}' | tail -n 1)
        mount -o remount,size=$((used + {free_kib} * 1024)) '{mount}'
    """
    result = run_in_namespace(setup, corpus, mount / "index", out)
    assert result["rc"] == 2
    assert "Traceback" not in result["stderr"]
    (error,) = [line for line in result["stderr"].splitlines() if line.startswith("error:")]  # besides progress bars
    assert error.startswith("error: Could not write the index") and f"({reason})" in error
    state = result["state"]
    assert {k: state[k] for k in ("current", "sources", "chunks")} == _expected(seeded[1])
    assert not [name for name in state["entries"] if name.startswith(".staging-") or name.endswith(".tmp")]
    assert "30 personnes" in state["answer"]


@pytest.mark.slow
def test_real_read_only_filesystem(mounts: None, seeded: tuple[Path, Path, State], tmp_path: Path) -> None:
    out, index_dir = tmp_path / "out", tmp_path / "index"
    out.mkdir()
    shutil.copytree(seeded[1], index_dir)
    new = tmp_path / "incoming" / "new.md"
    new.parent.mkdir()
    new.write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales.\n", encoding="utf-8")
    setup = f"""
        mount --bind '{index_dir}' '{index_dir}'
        mount -o remount,ro,bind '{index_dir}'
    """
    result = run_in_namespace(setup, new, index_dir, out)
    assert result["rc"] == 2
    error = result["stderr"].strip()
    assert error == f"error: Cannot write to the index folder {index_dir}: Read-only file system."
    assert {k: result["state"][k] for k in ("current", "sources", "chunks")} == _expected(index_dir)
    assert "30 personnes" in result["state"]["answer"]  # a read-only index still answers


@pytest.mark.slow
@pytest.mark.parametrize("lock_writable", [True, False], ids=["folder-0555", "folder-and-lock-read-only"])
def test_chmod_read_only_index_folder(seeded: tuple[Path, Path, State], tmp_path: Path, lock_writable: bool) -> None:
    prefix = without_permission_override()
    index_dir = tmp_path / "index"
    shutil.copytree(seeded[1], index_dir)
    new = tmp_path / "new.md"
    new.write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales.\n", encoding="utf-8")
    (index_dir / ".lock").chmod(0o644 if lock_writable else 0o444)
    index_dir.chmod(0o555)
    try:
        done = run_cli("index", str(new), "--index", str(index_dir), prefix=prefix)
        asked = run_cli("ask", ALIBABA, "--index", str(index_dir), prefix=prefix)
    finally:
        index_dir.chmod(0o755)
    assert done.returncode == 2
    if lock_writable:
        expected = (
            f"error: Could not write the index in {index_dir} (Permission denied); the previous version is untouched."
        )
    else:
        expected = f"error: Cannot write to the index folder {index_dir}: Permission denied."
    assert done.stderr.strip() == expected
    assert asked.returncode == 0 and "30 personnes" in asked.stdout
    assert _expected(index_dir) == _expected(seeded[1]) and not leftovers(index_dir)
