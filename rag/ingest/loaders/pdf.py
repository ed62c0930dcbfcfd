"""PDF: pypdf in a child process, under a time limit here and a memory limit there (see pdf_worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rag.ingest.errors import SkipFile
from rag.ingest.loaders.base import LoadedText
from rag.ingest.loaders.text import shorten_title, title_from_text
from rag.settings import Settings

_MAGIC = b"%PDF-"
# Real PDFs may carry a few bytes of junk before the header; readers accept 1 KiB.
_MAGIC_WINDOW = 1024
_PAGE_SEPARATOR = "\n\n"
# The folder holding the ``rag`` package, so the worker imports it from any cwd.
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def load_pdf(path: Path, data: bytes, settings: Settings) -> LoadedText:
    if _MAGIC not in data[:_MAGIC_WINDOW]:
        raise SkipFile("not a PDF (no %PDF- header)")
    result = _run_worker(path, settings.pdf_timeout_seconds)
    if "skip" in result:
        raise SkipFile(str(result["skip"]))
    pages = [str(page).strip() for page in result.get("pages", [])]
    if not any(pages):
        raise SkipFile("PDF has no text layer (scanned?)")
    text, starts = _join(pages)
    title = shorten_title(str(result.get("title") or "").strip()) or title_from_text(text)
    return LoadedText(text=text, title=title, date=result.get("date"), format="pdf", pages=starts)


def _join(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    starts: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(_PAGE_SEPARATOR)
    return _PAGE_SEPARATOR.join(pages), tuple(starts)


def _run_worker(path: Path, timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rag.ingest.pdf_worker", str(path)],
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SkipFile(f"PDF parsing took longer than {timeout:g} s (pdf_timeout_seconds)") from None
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = None
    if done.returncode != 0 or not isinstance(result, dict):
        # No JSON: the worker was killed, most likely by the memory limit.
        raise SkipFile(f"PDF parser failed (exit code {done.returncode}; out of memory?)")
    return result
