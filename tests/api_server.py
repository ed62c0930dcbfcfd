"""Run the real ``rag api`` for tests: a child process on 127.0.0.1, on a free port it picks itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import FAKE_ENV, ROOT


@contextmanager
def running_api(index_dir: Path, **env: str) -> Iterator[str]:
    """``rag api --port 0`` over ``index_dir`` with the fake embedder (and ``env``); yields its base URL (…/v1).

    On leaving, it is stopped with Ctrl+C (SIGINT), as a user would, and must stop cleanly.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "api", "--index", str(index_dir), "--port", "0"],
        env={**FAKE_ENV, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    errors: list[str] = []
    # Read stderr all along, so that a chatty server can never block on a full pipe.
    reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    line = process.stdout.readline()  # "OpenAI-compatible API on http://127.0.0.1:PORT/v1 (Ctrl+C to stop)"
    if "http://" not in line:
        process.kill()
        reader.join(5)
        raise AssertionError(f"rag api did not start: {line!r} {''.join(errors)!r}")
    url = next(word for word in line.split() if word.startswith("http://"))
    try:
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        reader.join(5)
        log = "".join(errors)
        assert "Traceback" not in log, log
