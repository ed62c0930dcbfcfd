"""``rag index`` on the Milvus store, killed with SIGKILL at random moments, never shows half a document.

The file store's kill loop (tests/test_crash_consistency.py), on Milvus Lite: the index is
built once in this process, then child processes switch it between two corpus variants
and are killed at a random moment of a run. A run commits a batch of whole documents at a
time, so after a kill the index may hold a mix of the two variants, but every document is
whole (all its chunks, its text, its file name), each file name shows one version of its
file, no file present in both variants is missing, and the next run recovers what the
killed one left. A last complete run gives exactly the expected corpus.

The children index with small batches (``BATCH_CHUNKS``), so that a run makes several
commits and a kill can land between two of them as well as inside one. Each child is
forked from a launcher that imported ``rag`` once: a run is a real process running
``rag.cli.main(["index", ...])``, without the two seconds of imports before it touches
the index, so kills land in its work and twenty runs stay cheap. Two thirds of the kills land
while a run commits, as observed around ``MilvusWriter.commit`` in complete runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.milvus.backend import MilvusBackend
from rag.store.milvus.collections import NEVER, Names, load
from rag.store.milvus.connection import call
from rag.store.milvus.generations import read_published
from tests import test_crash_consistency as crash_consistency
from tests.helpers import ROOT
from tests.milvus_helpers import MILVUS_ENV, Whole, milvus_settings, read_corpus, release

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
KILL_RUNS = 20
BATCH_CHUNKS = 16
QUESTION = "Combien d'escales le port numéro 7 a-t-il accueillies en 2001 ?"
# Forks `rag index` on request: says "ready" once imported, then reads "run" lines, answers "pid N" for each,
# then "exit N STATUS SECONDS FIRST LAST" once that child is gone: how long it ran, and when its first commit
# began and its last one ended (-1 without any), observed around MilvusWriter.commit.
LAUNCHER = f"""
import os, sys, time
import rag.cli, rag.indexing.indexer, rag.indexing.milvus_indexer as milvus_indexer
from rag.store.milvus.writer import MilvusWriter
milvus_indexer.BATCH_CHUNKS = {BATCH_CHUNKS}
commit, commits = MilvusWriter.commit, os.pipe()

def observed(self, *args):
    os.write(commits[1], b"%f\\n" % (time.monotonic() - started))
    commit(self, *args)
    os.write(commits[1], b"%f\\n" % (time.monotonic() - started))

MilvusWriter.commit = observed
os.set_blocking(commits[0], False)
print("ready", flush=True)
for line in sys.stdin:
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        sys.stdin.close()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # its report; this pipe is the launcher's
        os._exit(rag.cli.main(sys.argv[1:]))
    print("pid", pid, flush=True)
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - started
    try:
        times = os.read(commits[0], 1 << 16).split()
    except BlockingIOError:
        times = []
    first, last = (float(times[0]), float(times[-1])) if times else (-1, -1)
    print("exit", pid, os.waitstatus_to_exitcode(status), seconds, first, last, flush=True)
"""


class Launcher:
    """``rag index FOLDER --index INDEX_DIR`` in a forked child, as many times as asked."""

    def __init__(self, folder: Path, index_dir: Path, log: Path) -> None:
        self.log = log
        command = [sys.executable, "-c", LAUNCHER, "index", str(folder), "--index", str(index_dir), "--json"]
        self.process = subprocess.Popen(
            command,
            env=MILVUS_ENV,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline() == "ready\n", log.read_text()

    def start(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        word, pid = self.process.stdout.readline().split()
        assert word == "pid", word
        return int(pid)

    def wait(self, pid: int) -> tuple[int, float, tuple[float, float]]:
        """The child's exit code (-9 when killed), how long it ran, and when it was committing (from, to)."""
        assert self.process.stdout is not None
        word, child, code, seconds, first, last = self.process.stdout.readline().split()
        assert (word, int(child)) == ("exit", pid)
        return int(code), float(seconds), (float(first), float(last))

    def run(self) -> tuple[float, tuple[float, float]]:
        code, seconds, writing = self.wait(self.start())
        assert code == 0, self.log.read_text(errors="replace")[-2000:]
        return seconds, writing

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


Corpus = dict[str, Whole]
FILES = 24


def switch_corpus(folder: Path, variant: str) -> None:
    """The file store test's articles, fewer of them: B changes every third one, drops three and adds three."""
    crash_consistency.switch_corpus(folder, variant, FILES, turnover=3)


def by_path(corpus: Corpus) -> dict[str, str]:
    return {path: doc_id for doc_id, whole in corpus.items() for path in whole.paths}


def check_mixed(corpus: Corpus, states: dict[str, Corpus]) -> None:
    """Every visible document is one a complete run made, whole; each name shows one of its file's versions."""
    made = {doc_id: whole for state in states.values() for doc_id, whole in state.items()}
    names = {variant: by_path(state) for variant, state in states.items()}
    for doc_id, whole in corpus.items():
        assert doc_id in made, f"{whole.paths}: a document no complete run made"
        assert (whole.text, whole.chunks) == (made[doc_id].text, made[doc_id].chunks), f"{whole.paths} is not whole"
        for path in whole.paths:
            assert doc_id in {names["A"].get(path), names["B"].get(path)}, f"{path} shows another file's document"
    visible = by_path(corpus)
    lost = sorted(set(names["A"]) & set(names["B"]) - set(visible))
    assert not lost, f"files of both variants are missing: {lost}"


def leftovers(settings: Settings) -> dict[str, int]:
    """Rows that no reader of the published generation or the one before it can see, per table."""
    backend = MilvusBackend(settings)
    client = backend.client()
    published = read_published(client, backend.prefix)
    assert published is not None
    g = published.generation
    names = Names(backend.prefix, published.build)
    load(client, names)
    found = {}
    for table in names.tables():
        stale = f"added > {g} or (removed < {NEVER} and removed != {g})"
        rows = call("count", client.query, table, filter=stale, output_fields=["count(*)"])
        found[table] = int(rows[0]["count(*)"])
    release(settings)
    return {table: count for table, count in found.items() if count}


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_every_document_whole_or_absent(tmp_path: Path) -> None:
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    settings = milvus_settings(index_dir)
    states: dict[str, Corpus] = {}
    for variant in ("A", "B"):  # built here once: the two complete states
        switch_corpus(folder, variant)
        index_paths([folder], settings, HashingEmbedder())
        states[variant] = read_corpus(settings)
    chunks = {variant: sum(len(w.chunks) for w in state.values()) for variant, state in states.items()}
    assert states["A"] != states["B"] and min(chunks.values()) > 3 * BATCH_CHUNKS, chunks

    launcher = Launcher(folder, index_dir, tmp_path / "index.log")
    try:
        durations, windows = [], []
        for variant in ("A", "B"):  # complete runs in a child: how long one takes, and when it commits
            switch_corpus(folder, variant)
            seconds, window = launcher.run()
            durations.append(seconds)
            windows.append(window)
            corpus = read_corpus(settings)
            assert corpus == states[variant]
        # A third of the kills anywhere in a run, the others while it commits: most of a run is opening Milvus Lite
        # and reading files.
        typical = min(durations)
        writing = (min(w[0] for w in windows), max(w[1] for w in windows))
        assert 0 <= writing[0] < writing[1], writing
        rng = random.Random(20261201)
        outcomes = {"nothing published": 0, "part published": 0, "all published": 0, "finished": 0}
        target = "B"
        run = 0
        # At least KILL_RUNS runs, and more (up to twice as many) until a few kills have hit between commits.
        while run < KILL_RUNS or (outcomes["part published"] < 2 and run < 2 * KILL_RUNS):
            run += 1
            # Away from the variant the index holds; from a mix, back the other way.
            held = next((v for v, state in states.items() if corpus == state), target)
            before, target = corpus, "B" if held == "A" else "A"
            switch_corpus(folder, target)
            pid = launcher.start()
            # A run after a kill has less left to do: its commits come sooner, and it may end before 'typical'.
            first, last = writing
            time.sleep(rng.uniform(first, first + 0.6 * (last - first)) if run % 3 else rng.uniform(0, 0.8 * typical))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            code, seconds, window = launcher.wait(pid)
            assert code in (0, -signal.SIGKILL), launcher.log.read_text(errors="replace")[-2000:]
            corpus = read_corpus(settings)  # every document checked whole on its own (tests/milvus_helpers.py)
            check_mixed(corpus, states)
            if code == 0:
                outcomes["finished"] += 1
                # It ended before the kill: later kills come sooner (it had real work, away from what was held).
                typical, writing = min(typical, seconds), window if window[0] >= 0 else writing
                assert corpus == states[target]
            elif corpus == states[target]:
                outcomes["all published"] += 1
            elif corpus == before:
                outcomes["nothing published"] += 1
            else:
                outcomes["part published"] += 1
            if run % 5 == 0:
                answer = Assistant(settings, embedder=HashingEmbedder()).ask(QUESTION)
                assert not answer.abstained, "a file present in both variants no longer answers"
                release(settings)
        # A last, uninterrupted run completes the switch and recovers what the killed writers left.
        target = "B" if corpus == states["A"] else "A"
        switch_corpus(folder, target)
        launcher.run()
    finally:
        launcher.close()
    assert read_corpus(settings) == states[target]
    assert leftovers(settings) == {}, "rows of killed writers are left"
    kills = run - outcomes["finished"]
    print(f"\n{run} runs, {kills} killed with SIGKILL (typical run {typical:.2f} s): {outcomes}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "milvus-crash.json").write_text(
        json.dumps({"runs": run, "killed": kills, "typical_run_seconds": round(typical, 3), **outcomes}) + "\n"
    )
    assert kills >= run // 2, "most runs must really be killed for this test to mean anything"
    assert outcomes["part published"] >= 2, "kills must land between a run's commits too"
