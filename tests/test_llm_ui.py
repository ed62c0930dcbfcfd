"""The UI's side of bounded LLM answers: a cut answer shows its reason, the trace what the prompt held,
the Settings tab the window and budget; and a long answer never blocks another user."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from gradio_client import Client

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.generators.context import ContextBudget
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.generators.window import ContextWindow
from rag.settings import Settings
from rag.types import Answer
from tests.helpers import index_seeds
from tests.llm_server import FakeLLMServer, Messages, rambling, repeating
from tests.ui_server import running_app
from ui.actions import AssistantHolder, context_window_view
from ui.render import render_answer, render_context_budget, render_trace

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
LOOP = "Environ 30 personnes travaillaient dans ce laboratoire [1]."
GOOD = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire [1]."


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("llm-ui")
    _, settings = index_seeds(root)
    return settings.replace(data_dir=root / "data", llm_answer_seconds=3.0)


def answer_from(settings: Settings, server: FakeLLMServer, **changes: object) -> Answer:
    llm = OpenAICompatibleGenerator(server.url, "test-model", timeout=10)
    return Assistant(settings.replace(**changes), embedder=HashingEmbedder(), generator=llm).ask(ALIBABA)


def visible(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_a_cut_answer_shows_its_reason_and_none_of_the_loop(settings: Settings) -> None:
    with FakeLLMServer(script=repeating(LOOP)) as server:
        answer = answer_from(settings, server)
    html = render_answer(answer, 1)
    assert '<div class="rag-error">' in html and "again and again" in visible(html)
    assert "travaillaient dans ce laboratoire [1]" not in html
    assert "closest passages" in visible(html).lower()


def test_the_trace_says_what_the_prompt_held_in_a_2048_token_window(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD, flavour="llama.cpp", context_tokens=2048) as server:
        answer = answer_from(settings, server)
    generation = answer.generation
    assert generation and (generation.dropped or generation.trimmed)
    trace = visible(render_trace(answer))
    assert "context window 2,048 tokens (llama.cpp /props (n_ctx))" in trace
    assert f"{generation.passages_given} passages given" in trace and "answer up to 512 tokens" in trace
    rows = re.findall(r"<tr><td>(\d+)</td>.*?</tr>", render_trace(answer), re.DOTALL)
    assert rows[:5] == ["1", "2", "3", "4", "5"]
    for rank in generation.dropped:
        row = re.search(rf"<tr><td>{rank}</td>.*?</tr>", render_trace(answer), re.DOTALL)
        assert row and "left out: no room in the context window" in row.group()
    given = re.search(r"<tr><td>1</td>.*?</tr>", render_trace(answer), re.DOTALL)
    assert given and "left out" not in given.group() and "trimmed" not in given.group()


def test_an_offline_answer_standing_in_says_why(settings: Settings) -> None:
    with FakeLLMServer(script=repeating(LOOP)) as server:
        answer = answer_from(settings, server, llm_fallback="extractive")
    html = render_answer(answer, 1)
    assert "rag-error" not in html and "30 personnes" in visible(html)
    note = re.search(r'<p class="rag-note rag-fallback">(.*?)</p>', html)
    assert note and "again and again" in note.group(1) and "quotes your documents" in note.group(1)


def test_the_settings_line_shows_the_window_and_the_budget() -> None:
    budget = ContextBudget(ContextWindow(2048, "llama.cpp /props (n_ctx)"), 512, 1480)
    line = visible(render_context_budget(budget))
    assert "2,048 tokens (from the llama.cpp /props (n_ctx))" in line
    assert "prompt budget: 1,480 tokens" in line and "up to 512 tokens" in line
    assert "no context window" in render_context_budget(None)


def test_the_settings_tab_asks_the_saved_backend_for_its_window(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD, flavour="ollama", context_tokens=2048) as server:
        llm = OpenAICompatibleGenerator(server.url, "test-model", timeout=5)
        holder = AssistantHolder(Assistant(settings, embedder=HashingEmbedder(), generator=llm))
        shown = visible(context_window_view(holder))
        visible(context_window_view(holder))
    assert "2,048 tokens (from the Ollama /api/show (num_ctx))" in shown
    assert server.paths.count("POST /api/show") == 1  # asked once, then remembered
    offline = AssistantHolder(Assistant(settings.replace(generator="extractive"), embedder=HashingEmbedder()))
    assert "no context window" in context_window_view(offline)


# Through the running app ----------------------------------------------------------------------


def _slow_or_quick(messages: Messages) -> Iterator[str] | str:
    """Quick for Amazon's question; for the others, a slow stream that never ends."""
    if "Amazon" in str(messages[-1]["content"]).split("<question>", 1)[-1]:
        return "Amazon ferme son laboratoire d’IA de Shanghai [1]."
    return rambling(20_000)(messages)


@pytest.mark.slow
def test_a_long_answer_never_blocks_another_user(settings: Settings) -> None:
    with FakeLLMServer(script=_slow_or_quick, chunk_delay_seconds=0.02) as server:
        llm_settings = settings.replace(generator="openai", llm_base_url=server.url, llm_model="test-model")
        with running_app(llm_settings, HashingEmbedder()) as url:
            slow = Client(url, verbose=False).submit(ALIBABA, api_name="/ask")
            time.sleep(0.5)  # the slow answer is streaming
            started = time.perf_counter()
            quick, _sources, _box = Client(url, verbose=False).predict(
                "Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?", api_name="/ask"
            )
            quick_seconds = time.perf_counter() - started
            slow_chat, _sources, _box = slow.result(timeout=30)
            slow_done = time.perf_counter() - started
    assert "Shanghai" in visible(quick[-1]["content"][0]["text"])
    assert quick_seconds < 2.5, "the quick answer waited for the long one"
    assert slow_done < 3.5  # the long one was cut at its deadline (3 s after it was asked)
    assert "llm_answer_seconds (3 s)" in visible(slow_chat[-1]["content"][0]["text"])


@pytest.mark.slow
def test_the_settings_tab_shows_the_window_once_an_llm_is_saved(settings: Settings) -> None:
    server = FakeLLMServer(script=GOOD, flavour="llama.cpp", context_tokens=2048)
    with server, running_app(settings, HashingEmbedder()) as url:
        session = Client(url, verbose=False)
        saved = session.predict("openai", server.url, "test-model", "", 5, api_name="/save_settings")
        window = session.predict(api_name="/context_window")
        session.predict("extractive", "", "", "", 5, api_name="/save_settings")
        offline = session.predict(api_name="/context_window")
    assert "Saved." in saved
    shown = visible(window)
    assert "2,048 tokens" in shown and "llama.cpp /props" in shown and "prompt budget: 1,480 tokens" in shown
    assert "no context window" in offline
