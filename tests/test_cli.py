"""The ``rag`` command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import socket
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


# Exit codes and what `rag ask` prints -------------------------------------------------------------

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
OFF_TOPIC = "Quelle est la capitale de l’Australie ?"


@pytest.fixture
def indexed(corpus: Path, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    done = rag("index", str(corpus), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_llm_down_prints_the_error_once_keeps_the_sources_and_fails(indexed: dict[str, str], tmp_path: Path) -> None:
    down = {**indexed, "RAG_GENERATOR": "openai", "RAG_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    result = rag("ask", ALIBABA, env=down, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("not reachable") == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: The LLM server at") and "Traceback" not in result.stderr
    assert "not reachable" not in result.stdout
    assert "003_c00ce55952bfa148.txt" in result.stdout  # the retrieved sources are still shown
    as_json = rag("ask", ALIBABA, "--json", env=down, cwd=tmp_path)
    assert as_json.returncode == 2 and "not reachable" in json.loads(as_json.stdout)["error"]


def _quotes(stdout: str) -> list[str]:
    return [line.strip().removeprefix("« ").removesuffix(" »") for line in stdout.splitlines() if "« " in line]


def test_abstention_shows_as_many_closest_passages_as_the_ui_cut_at_a_word(
    indexed: dict[str, str], tmp_path: Path
) -> None:
    from rag.answering.service import Assistant
    from rag.embedders.fake import HashingEmbedder
    from rag.settings import Settings
    from rag.types import CLOSEST_SHOWN

    result = rag("ask", OFF_TOPIC, env=indexed, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Closest passages:" in result.stdout
    settings = Settings(index_dir=Path(indexed["RAG_INDEX_DIR"]), embedding_backend="fake")
    hits = Assistant(settings, embedder=HashingEmbedder()).ask(OFF_TOPIC).hits[:CLOSEST_SHOWN]
    quotes = _quotes(result.stdout)
    assert len(quotes) == len(hits) == CLOSEST_SHOWN == 3
    for quote, hit in zip(quotes, hits, strict=True):
        whole = " ".join(hit.chunk.text.split())
        assert quote.endswith("…") and len(quote) <= 301  # the seed passages are longer than a quote
        kept = quote.removesuffix("…")
        assert whole.startswith(kept) and whole[len(kept)] == " ", "cut in the middle of a word"


def test_json_scores_are_rounded(indexed: dict[str, str], tmp_path: Path) -> None:
    result = rag("ask", ALIBABA, "--json", env=indexed, cwd=tmp_path)
    retrieved = json.loads(result.stdout)["retrieved"]
    assert retrieved
    for passage in retrieved:
        assert passage["score"] == round(passage["score"], 4)
        assert passage["relevance"] == round(passage["relevance"], 4)
    assert any(len(str(passage["score"])) > 3 for passage in retrieved)  # rounded, not truncated to nothing


def test_eval_into_a_missing_folder_fails_at_once_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "missing" / "results.jsonl"
    # No index either: the output path is checked before any question is asked.
    result = rag("eval", str(SEEDS / "qa.jsonl"), "--out", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and str(out.parent) in result.stderr and "does not exist" in result.stderr
    assert not out.parent.exists()


def test_terminal_escapes_in_a_document_are_shown_never_run(env: dict[str, str], tmp_path: Path) -> None:
    # A title that would set the terminal's title, text that would clear the screen.
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "trap.txt").write_text(
        "Le phare \x1b]0;pwned\x07de Kerbrat\n\nLe phare de Kerbrat mesure 42 mètres.\x1b[2J Il domine la baie.\n"
    )
    assert rag("index", str(folder), env=env, cwd=tmp_path).returncode == 0
    for args in (("sources",), ("ask", "Combien mesure le phare de Kerbrat ?")):
        shown = rag(*args, env=env, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
        assert "\\x1b" in shown.stdout and "Kerbrat" in shown.stdout
