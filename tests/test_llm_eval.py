"""`rag eval` against an LLM: beside the usual figures, the verdicts of its sentences and its cut answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.evaluation import evaluate
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.settings import Settings
from tests.helpers import FAKE_ENV, ROOT, index_seeds
from tests.llm_server import FakeLLMServer, Messages

QUESTIONS = [
    ("good", "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"),
    ("mixed", "Depuis quand le laboratoire quantique d’Alibaba existait-il ?"),
    ("loop", "Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?"),
]
TRUE = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire"


def _model(messages: Messages) -> str:
    """A model that answers the first question well, invents half of the second, and loops on the third."""
    question = str(messages[-1]["content"]).split("<question>\n", 1)[1]
    if question.startswith("Combien"):
        return f"{TRUE}."
    if question.startswith("Depuis"):
        return f"{TRUE}. Le laboratoire a coûté 450 millions d’euros à Alibaba."
    return "Amazon ferme son laboratoire. " * 50


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    root = tmp_path_factory.mktemp("llm-eval")
    _, settings = index_seeds(root)
    qa = root / "qa.jsonl"
    lines = [
        {"id": key, "question": text, "answers": ["30"], "sources": ["x.txt"], "spans": [[0, 1]]}
        for key, text in QUESTIONS
    ]
    qa.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    return settings, qa


def test_sentences_are_counted_by_verdict_and_cut_answers_by_why(indexed: tuple[Settings, Path]) -> None:
    settings, qa = indexed
    with FakeLLMServer(script=_model) as server:
        llm = OpenAICompatibleGenerator(server.url, "test-model", timeout=10)
        scores = evaluate(Assistant(settings, embedder=HashingEmbedder(), generator=llm).ask, qa, None)
    table = scores.table()
    # Three sentences answered (the looping answer has none): two true, one invented.
    assert scores.verdicts["supported"] == 2 and scores.verdicts["unsupported"] == 1
    assert table["sentences_supported"] == pytest.approx(2 / 3) and table["sentences_unsupported"] == pytest.approx(
        1 / 3
    )
    assert table["sentences_weak"] == 0
    assert scores.cuts == {"repetition": 1} and table["answers_cut"] == pytest.approx(1 / 3)
    assert table["answers_failed"] == 0
    assert scores.endings() == "answers cut: 1 of 3 (repetition 1); failed: 0; answered offline instead: 0"


@pytest.mark.slow
def test_rag_eval_with_the_generator_flag_reports_the_new_rows(indexed: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, qa = indexed
    out = tmp_path / "results.jsonl"
    with FakeLLMServer(script=_model) as server:
        environment = {
            **FAKE_ENV,
            "RAG_INDEX_DIR": str(settings.index_dir),
            "RAG_LLM_BASE_URL": server.url,
            "RAG_LLM_MODEL": "test-model",
        }
        command = [sys.executable, "-m", "rag.cli", "eval", str(qa), "--generator", "openai", "--out", str(out)]
        done = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)
        asked = server.paths.count("POST /v1/chat/completions")
    assert done.returncode == 0, done.stderr
    assert asked == 3  # the flag chose the LLM: every question went to it
    rows = {line.split(":")[0].strip(): line for line in done.stdout.splitlines() if ":" in line}
    assert float(rows["sentences_supported"].split()[1]) == pytest.approx(0.667, abs=0.001)
    assert float(rows["sentences_unsupported"].split()[1]) == pytest.approx(0.333, abs=0.001)
    assert float(rows["answers_cut"].split()[1]) == pytest.approx(0.333, abs=0.001)
    assert "answers cut: 1 of 3 (repetition 1)" in done.stdout
    logged = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["generation"]["cut"] for line in logged] == [None, None, "repetition"]
