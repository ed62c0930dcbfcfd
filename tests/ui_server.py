"""Run the real Gradio app for tests: real model, an index of the seeds, 127.0.0.1 on a free port."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.answering.service import Assistant
from rag.embedders import Embedder, LazyEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from ui.app import build_app

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
ALIBABA_SOURCE = "003_c00ce55952bfa148.txt"
HOSTILE_FACT = "Le musée de Quimper a reçu 12 000 visiteurs en 2023."
HOSTILE_MARKUP = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2">'
HOSTILE_DOCUMENT = (
    f'# Musée de Quimper <img src=x onerror="window.__xss=3">\n\n{HOSTILE_FACT} {HOSTILE_MARKUP} '
    "Le musée est fermé le mardi.\n"
)
HOSTILE_QUESTION = "Combien de visiteurs le musée de Quimper a-t-il reçus en 2023 ?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def indexed_settings(
    root: Path, extra_files: dict[str, str] | None = None, embedder: Embedder | None = None
) -> tuple[Settings, Embedder]:
    """Settings for a fresh index under ``root`` holding the seeds (and ``extra_files``).

    With the real model, unless ``embedder`` is given (the hashing one, where the model is not the point).
    """
    corpus = root / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl"))
    for name, text in (extra_files or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(index_dir=root / "index", data_dir=root / "data")
    embedder = embedder or LazyEmbedder(settings)
    index_paths([corpus], settings, embedder)
    return settings, embedder


@contextmanager
def running_app(settings: Settings, embedder: Embedder, **launch: Any) -> Iterator[str]:
    """The app launched in a background thread; yields its URL. ``launch``: more launch() arguments (auth...)."""
    demo = build_app(settings, Assistant(settings, embedder=embedder))
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
