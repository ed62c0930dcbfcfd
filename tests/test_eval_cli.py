"""``rag eval QA.jsonl [--index DIR] --out RESULTS.jsonl``, run as a user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QA_FILE = SEEDS / "qa.jsonl"
VERIFICATIONS = {"supported", "weak", "unsupported"}


def _rag() -> str:
    beside = Path(sys.executable).parent / "rag"
    found = str(beside) if beside.exists() else shutil.which("rag")
    assert found, "the `rag` command is not installed (pip install -e .)"
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run(
        [_rag(), *args], cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=900, check=False
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("eval_cli")
    index = tmp / "index"
    indexed = _run("index", str(SEEDS), "--index", str(index))
    assert indexed.returncode == 0, indexed.stderr
    out = tmp / "r.jsonl"
    result = _run("eval", str(QA_FILE), "--index", str(index), "--out", str(out))
    return result, out


def _text(source: str) -> str:
    path = Path(source)
    return (path if path.is_absolute() else ROOT / path).read_bytes().decode("utf-8")


def test_eval_prints_the_retrieval_table(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = run
    assert result.returncode == 0, result.stderr
    for metric in ("recall@1", "recall@5", "recall@10", "mrr@10"):
        match = re.search(rf"^\s*{re.escape(metric)}\b\D*([0-9.]+)", result.stdout, re.MULTILINE | re.IGNORECASE)
        assert match, f"{metric} missing from:\n{result.stdout}"
        assert 0.0 <= float(match.group(1)) <= 1.0


def test_eval_writes_one_valid_line_per_question(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, out = run
    assert result.returncode == 0, result.stderr
    questions = [json.loads(line) for line in QA_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == [q["id"] for q in questions]
    for line in lines:
        qid = line["id"]
        assert {"id", "answer", "abstained", "citations", "retrieved"} <= set(line), qid
        assert isinstance(line["answer"], str) and line["answer"], qid
        assert isinstance(line["abstained"], bool), qid
        if line["abstained"]:
            assert line["citations"] == [], qid
        for citation in line["citations"]:
            assert {"n", "source", "start", "end", "verification"} <= set(citation), qid
            assert isinstance(citation["n"], int) and citation["n"] >= 1, qid
            assert citation["verification"] in VERIFICATIONS, qid
            text = _text(citation["source"])
            assert 0 <= citation["start"] < citation["end"] <= len(text), qid
            assert text[citation["start"] : citation["end"]].strip(), qid
        retrieved = line["retrieved"]
        assert len(retrieved) <= 10, qid
        assert [r["rank"] for r in retrieved] == list(range(1, len(retrieved) + 1)), qid
        for passage in retrieved:
            assert {"rank", "source", "start", "end", "score"} <= set(passage), qid
            assert isinstance(passage["score"], int | float), qid
            text = _text(passage["source"])
            assert 0 <= passage["start"] < passage["end"] <= len(text), qid
            assert text[passage["start"] : passage["end"]].strip(), qid


def test_eval_rejects_a_missing_qa_file(tmp_path: Path) -> None:
    result = _run("eval", str(tmp_path / "missing.jsonl"), "--index", str(tmp_path / "index"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()
