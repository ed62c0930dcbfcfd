"""What a user can get wrong with Milvus, from the CLI: each a one-line error, and nothing indexed lost.

A wrong URI (nothing listens there), a Milvus Lite file another process has open (Lite
serves a file to one process at a time), and a Milvus server that dies while ``rag index``
writes (``milvus-lite server``, the package's standalone gRPC server, killed with SIGKILL).
A refused token cannot be tested here: Milvus Lite has no authentication.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.store.milvus.backend import MilvusBackend
from rag.store.milvus.generations import read_published
from tests.helpers import ROOT, SEEDS
from tests.milvus_helpers import MILVUS_ENV, milvus_settings, rag, read_corpus, release


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def error_line(stderr: str) -> str:
    """The one line of the error, whatever progress bars came before it (their redraws are lines in text mode)."""
    assert "Traceback" not in stderr and stderr.count("error: ") == 1, stderr
    shown = "error: " + stderr.split("error: ", 1)[1].strip()
    assert "\n" not in shown, stderr
    return shown


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("milvus-errors") / "seeds"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    return corpus


def test_a_wrong_uri_is_one_line(seeds: Path, tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    done = rag("index", str(seeds), "--index", str(tmp_path / "index"), RAG_MILVUS_URI=uri)
    assert done.returncode == 2
    assert error_line(done.stderr) == (
        f"error: Cannot open Milvus at {uri} (Fail connecting to server on 127.0.0.1:{uri.rsplit(':', 1)[1]}, "
        "illegal connection params or server unavailable): check milvus_uri and milvus_token, "
        "and that the server is running."
    )


# Another process with the index open, as `rag serve` has it.
HOLD = (
    "import sys, time, pathlib, tests.milvus_helpers as h; "
    "store = h.store_backend(h.milvus_settings(pathlib.Path(sys.argv[1]))).open(); "
    "print('open', flush=True); time.sleep(120)"
)


def test_a_lite_file_open_in_another_process_is_one_line(seeds: Path, tmp_path: Path) -> None:
    settings = milvus_settings(tmp_path / "index")
    index_paths([seeds], settings, HashingEmbedder())
    before = read_corpus(settings)  # released: the holder below may open it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.index_dir)],
        cwd=ROOT,
        env=MILVUS_ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        done = rag("index", str(seeds), "--index", str(settings.index_dir))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2
    assert error_line(done.stderr) == (
        f"error: Cannot open {settings.index_dir / 'milvus.db'}: another process (rag serve? rag index?) has it open, "
        "and Milvus Lite serves a file to one process at a time. Stop it, or use a Milvus server (milvus_uri)."
    )
    assert read_corpus(settings) == before


# A server that goes away ----------------------------------------------------------------------------


class Server:
    """A standalone Milvus Lite server (``milvus-lite server``) on a free port, over one data folder."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data), "--host", "127.0.0.1"]
        self.process = subprocess.Popen([*command, "--port", str(self.port)], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and "listening" in self.process.stdout.readline()

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "server-data")
    running.start()
    yield running
    running.kill()


def big_corpus(folder: Path) -> Path:
    folder.mkdir()
    for n in range(40):
        paragraphs = (f"Le quai {n} numéro {p} mesure {n * p + 7} mètres, selon le port. " * 6 for p in range(5))
        (folder / f"quai-{n:02d}.md").write_text(f"# Quai {n}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    return folder


def test_a_server_that_dies_mid_run_is_one_line_and_loses_nothing(server: Server, seeds: Path, tmp_path: Path) -> None:
    uri = server.uri
    settings = milvus_settings(tmp_path / "index", milvus_uri=uri)
    index_paths([seeds], settings, HashingEmbedder())
    seeded = read_corpus(settings)
    backend = MilvusBackend(settings)
    start = read_published(backend.client(), backend.prefix)
    assert start is not None
    quays = big_corpus(tmp_path / "quays")
    # Small batches, so that the run commits many times and the server dies between two commits or inside one.
    small = (
        "import sys, rag.indexing.milvus_indexer as m; m.BATCH_CHUNKS = 16; import rag.cli; sys.exit(rag.cli.main())"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", small, "index", str(quays), "--index", str(settings.index_dir)],
        cwd=ROOT,
        env={**MILVUS_ENV, "RAG_MILVUS_URI": uri},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (now := read_published(backend.client(), backend.prefix)) == start or now is None:  # its first commit
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.05)
    server.kill()
    release(settings)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 2
    assert error_line(err).startswith("error: Milvus failed to ")

    server.start()  # on the same port and data
    after = read_corpus(settings)  # every document whole (tests/milvus_helpers.py)
    assert {k: v for k, v in after.items() if k in seeded} == seeded, "documents indexed before were lost"
    assert 0 < len(after) - len(seeded) < 40
    done = rag("index", str(quays), "--index", str(settings.index_dir), RAG_MILVUS_URI=uri)
    assert done.returncode == 0, done.stderr
    final = read_corpus(settings)
    assert len(final) == len(seeded) + 40 and all(final[k] == v for k, v in seeded.items())
