"""`rag ask` against misbehaving local models, as a user runs it: a real process, timed from outside.

Each case checks what the user sees (stdout, one line on stderr), the exit
code, and the wall time of the whole process: within ``llm_answer_seconds``
plus one second, whatever the server does, over what the same interpreter takes
just then to start and stop doing nothing (``rag --help``): that part lies
outside the command's clock, and on two busy cores it alone can pass a second.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from rag.settings import Settings
from tests.helpers import FAKE_ENV, ROOT, index_seeds
from tests.llm_server import (
    FakeLLMServer,
    Messages,
    echoing_forever,
    rambling,
    repeating,
    template_soup,
)

pytestmark = pytest.mark.slow

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
LOOP = "Environ 30 personnes travaillaient dans ce laboratoire [1]."
TRUE = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire"
INVENTED = "Le laboratoire a coûté 450 millions d’euros à Alibaba"
# Detection must win over the deadline even while the process imports its LLM client (about 2 s
# idle, twice that on two busy cores): the deadline itself is what TIMING_DEADLINE's cases test.
DETECTION_DEADLINE = 8.0
TIMING_DEADLINE = 3.0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    _, settings = index_seeds(tmp_path_factory.mktemp("llm-cli"))
    return settings


def rag_ask(
    settings: Settings, server: FakeLLMServer, deadline: float, *flags: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``rag ask ALIBABA FLAGS`` against ``server``; (the finished process, its wall time in seconds)."""
    environment = {
        **FAKE_ENV,
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_GENERATOR": "openai",
        "RAG_LLM_BASE_URL": server.url,
        "RAG_LLM_MODEL": "test-model",
        "RAG_LLM_ANSWER_SECONDS": str(deadline),
        **env,
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", ALIBABA, *flags],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, time.perf_counter() - started


def idle_process_seconds() -> float:
    """Wall time of ``rag --help`` now: starting the interpreter, importing the CLI, exiting."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "--help"], env=FAKE_ENV, cwd=ROOT, capture_output=True, timeout=60, check=True
    )
    return time.perf_counter() - started


def within_deadline(elapsed: float, deadline: float) -> bool:
    """Whether a ``rag ask`` that took ``elapsed`` seconds kept its promise of ``deadline`` plus one second."""
    if elapsed <= deadline + 1:
        return True
    return elapsed <= deadline + 1 + idle_process_seconds()  # measured only when needed: it costs a process


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


MISBEHAVING: dict[str, tuple[dict[str, Any], float, str, tuple[str, ...]]] = {
    # (server, deadline, words of the reason on stderr, text the user must never see)
    "the same sentence forever": (
        {"script": repeating(LOOP)},
        DETECTION_DEADLINE,
        "again and again",
        ("travaillaient dans ce laboratoire [1]", "travaillaient dans ce laboratoire."),
    ),
    "echoing the prompt": (
        {"script": echoing_forever},
        DETECTION_DEADLINE,
        "copied",
        ("<passages>", "Answer in French", "careful research assistant", "Title:"),
    ),
    "leaking its chat template": (
        {"script": template_soup},
        DETECTION_DEADLINE,
        "chat template",
        ("<<SYS>>", "[INST]", "[/INST]", "careful research assistant"),
    ),
    "20,000 tokens without a stop": (
        {"script": rambling(20_000)},
        DETECTION_DEADLINE,
        "llm_max_tokens (512)",
        (),  # its words are everyday French, as in the passages: nothing before "Closest passages" says it
    ),
    "20,000 slow tokens": (
        {"script": rambling(20_000), "chunk_delay_seconds": 0.02},
        TIMING_DEADLINE,
        "llm_answer_seconds (3 s)",
        (),
    ),
    "stalling after three tokens": (
        {"script": rambling(20_000), "stall_after": 3, "stall_seconds": 30.0},
        TIMING_DEADLINE,
        "llm_answer_seconds (3 s)",
        (),
    ),
    "400 context exceeded, always": (
        {"script": "Environ 30 personnes [1].", "refusals": 100},
        DETECTION_DEADLINE,
        "refused the prompt as longer than its context window",
        ("Environ 30 personnes [1]",),
    ),
}


@pytest.mark.parametrize(("server", "deadline", "reason", "never"), MISBEHAVING.values(), ids=MISBEHAVING.keys())
def test_a_misbehaving_model_gives_one_line_and_the_closest_passages_in_time(
    settings: Settings, server: dict[str, Any], deadline: float, reason: str, never: tuple[str, ...]
) -> None:
    with FakeLLMServer(**server) as llm:
        done, elapsed = rag_ask(settings, llm, deadline)
    assert within_deadline(elapsed, deadline), f"rag ask took {elapsed:.2f} s"
    assert done.returncode == 2
    assert reason in one_error_line(done)
    assert done.stdout.startswith("Closest passages:") and "003_c00ce55952bfa148.txt" in done.stdout
    for text in never:
        assert text not in done.stdout, text


def test_a_cut_answer_with_the_fallback_setting_gives_the_offline_answer(settings: Settings) -> None:
    with FakeLLMServer(script=repeating(LOOP)) as llm:
        done, elapsed = rag_ask(settings, llm, DETECTION_DEADLINE, RAG_LLM_FALLBACK="extractive")
    assert within_deadline(elapsed, DETECTION_DEADLINE)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("note: ") and "again and again" in done.stderr
    assert done.stdout.startswith("Environ 30 personnes") and "\nSources:\n" in done.stdout
    assert done.stdout.count("Environ 30 personnes") == 2  # the answer, and its quote under Sources


@pytest.mark.parametrize("flavour", ["llama.cpp", "ollama"])
def test_a_2048_token_window_is_respected_and_the_trace_says_what_was_left_out(
    settings: Settings, flavour: str
) -> None:
    with FakeLLMServer(script=f"{TRUE} [1].", flavour=flavour, context_tokens=2048) as llm:
        done, elapsed = rag_ask(settings, llm, DETECTION_DEADLINE, "--json")
    assert within_deadline(elapsed, DETECTION_DEADLINE)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    generation = answer["generation"]
    assert generation["window_tokens"] == 2048 and generation["max_tokens"] == 512
    assert generation["dropped"] or generation["trimmed"]
    assert max(llm.prompt_tokens) + 512 <= 2048 and not llm.truncated
    assert answer["citations"] and answer["citations"][0]["verification"] == "supported"


def _citing(template: str) -> Callable[[Messages], str]:
    def reply(messages: Messages) -> str:
        prompt = str(messages[-1]["content"])
        right = next(n for n, text in _passages(prompt) if "30 personnes" in text)
        return template.format(right=right)

    return reply


def _passages(prompt: str) -> list[tuple[int, str]]:
    return [(int(n), text) for n, text in re.findall(r"<passage (\d+)>\n(.*?)\n</passage \1>", prompt, re.DOTALL)]


@pytest.mark.parametrize(
    "template",
    [f"{TRUE}. {INVENTED}.", f"{TRUE} [9]. {INVENTED} [9].", f"{TRUE}. {INVENTED}. [{{right}}]"],
    ids=["no markers", "markers to passage 9 of 5", "markers only at the end"],
)
def test_answers_without_usable_markers_are_verified_sentence_by_sentence(settings: Settings, template: str) -> None:
    with FakeLLMServer(script=_citing(template)) as llm:
        done, elapsed = rag_ask(settings, llm, DETECTION_DEADLINE)
    assert within_deadline(elapsed, DETECTION_DEADLINE)
    assert done.returncode == 0, done.stderr
    answer = done.stdout.split("\n\nSources:")[0]
    assert f"{TRUE}. [" in answer and "[unsupported]" not in answer.split(INVENTED)[0]
    assert f"{INVENTED}. [unsupported]" in answer
    assert "[9]" not in done.stdout
