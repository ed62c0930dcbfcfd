"""The ``rag`` command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def rag(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent
    return {
        **os.environ,
        "RAG_EMBEDDING_BACKEND": "fake",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "PYTHONPATH": str(root),
    }


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for article in SEEDS.glob("*.txt"):
        shutil.copy(article, folder)
    (folder / "empty.txt").write_text("")
    return folder


def test_index_json_summary_then_sources_then_ask(corpus: Path, env: dict[str, str], tmp_path: Path) -> None:
    first = rag("index", str(corpus), "--json", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert set(summary) == {"added", "updated", "removed", "unchanged", "skipped", "chunks_embedded", "chunks_total"}
    assert len(summary["added"]) == 2
    assert summary["skipped"] == [{"path": str(corpus / "empty.txt"), "reason": "empty file"}]
    assert summary["chunks_embedded"] == summary["chunks_total"] > 0

    again = json.loads(rag("index", str(corpus), "--json", env=env, cwd=tmp_path).stdout)
    assert again["unchanged"] == 2 and again["chunks_embedded"] == 0

    listing = rag("sources", env=env, cwd=tmp_path)
    assert "Amazon confirme la fermeture de son laboratoire d’IA à Shanghai" in listing.stdout
    assert "2023-11" in listing.stdout

    asked = rag(
        "ask",
        "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    answer = json.loads(asked.stdout)
    assert "30 personnes" in answer["answer"] and not answer["abstained"]
    assert answer["citations"][0]["source"].endswith("003_c00ce55952bfa148.txt")
    assert {"retrieval", "total"} <= set(answer["timings_ms"])


def test_human_summary_lists_skipped_files_with_reasons(corpus: Path, env: dict[str, str], tmp_path: Path) -> None:
    result = rag("index", str(corpus), env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert "empty.txt: empty file" in result.stdout
    assert "chunks in the index" in result.stdout


def test_missing_path_is_one_line_error(env: dict[str, str], tmp_path: Path) -> None:
    result = rag("index", str(tmp_path / "nowhere"), env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "No such file or folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_folder_with_nothing_indexable_fails(env: dict[str, str], tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "program.exe").write_bytes(b"MZ\x90\x00" * 10)
    result = rag("index", str(junk), env=env, cwd=tmp_path)
    assert result.returncode != 0 and "nothing indexable" in result.stderr


def test_ask_without_index_says_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    result = rag("ask", "Bonjour ?", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "rag index" in result.stderr and "Traceback" not in result.stderr


def test_bad_setting_is_one_line_error(env: dict[str, str], tmp_path: Path) -> None:
    result = rag("sources", env={**env, "RAG_TOP_K": "many"}, cwd=tmp_path)
    assert result.returncode != 0 and "top_k" in result.stderr and "Traceback" not in result.stderr


def test_toml_settings_file_is_read(corpus: Path, env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "rag.toml"
    config.write_text(f'index_dir = "{tmp_path / "from-toml"}"\n', encoding="utf-8")
    environment = {k: v for k, v in env.items() if k != "RAG_INDEX_DIR"}
    result = rag("index", str(corpus), "--json", env=environment, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-toml" / "CURRENT").exists()
