"""Misbehaving local models, through the real service: the answer is bounded, and garbage never shows.

Each script of ``tests/llm_server.py`` plays what small models do (loop, echo
the prompt, leak their chat template, never stop, stall); the service streams
from it over real HTTP and server-sent events.
"""

from __future__ import annotations

import time

import pytest

from rag.answering.service import Assistant, Done, Token
from rag.embedders.fake import HashingEmbedder
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.generators.prompt import instruction_lines
from rag.settings import Settings
from rag.types import Answer
from tests.helpers import index_seeds
from tests.llm_server import (
    FakeLLMServer,
    Messages,
    echoing_forever,
    leaking_template,
    rambling,
    repeating,
    template_soup,
)

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
LOOP = "Environ 30 personnes travaillaient dans ce laboratoire [1]."
GOOD = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire [1]."
DEADLINE = 2.0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    _, settings = index_seeds(tmp_path_factory.mktemp("bounds"))
    return settings.replace(llm_answer_seconds=DEADLINE)


def run(settings: Settings, server: FakeLLMServer, **changes: object) -> tuple[Answer, str, float]:
    """(the answer, the text streamed to the user meanwhile, seconds taken)."""
    llm = OpenAICompatibleGenerator(server.url, "test-model", timeout=10)
    service = Assistant(settings.replace(**changes), embedder=HashingEmbedder(), generator=llm)
    started = time.perf_counter()
    events = list(service.stream(ALIBABA))
    elapsed = time.perf_counter() - started
    done = events[-1]
    assert isinstance(done, Done)
    return done.answer, "".join(e.text for e in events if isinstance(e, Token)), elapsed


def assert_cut(answer: Answer, kind: str) -> None:
    assert answer.generation is not None and answer.generation.cut == kind, answer.generation
    assert answer.error and "\n" not in answer.error and answer.error == answer.generation.reason
    assert not answer.sentences and not answer.citations
    assert answer.shown() and answer.text == answer.error  # the reason, then the closest passages


def test_an_endless_loop_of_one_sentence_is_cut_and_its_request_closed(settings: Settings) -> None:
    with FakeLLMServer(script=repeating(LOOP), chunk_delay_seconds=0.005) as server:
        answer, streamed, elapsed = run(settings, server)
        time.sleep(0.3)  # the server notices the closed connection at its next write
    assert_cut(answer, "repetition")
    assert "again and again" in answer.error  # type: ignore[operator]
    assert elapsed < DEADLINE
    assert streamed.count("Environ 30 personnes") < 3
    assert server.streamed and server.streamed[0] < 100  # the server stopped writing, far from max_tokens


def test_a_model_echoing_its_prompt_forever_is_cut_before_the_echo_shows(settings: Settings) -> None:
    with FakeLLMServer(script=echoing_forever) as server:
        answer, streamed, elapsed = run(settings, server)
        prompt = server.requests[-1]["messages"]
    assert_cut(answer, "echo")
    assert elapsed < DEADLINE
    assert "<passages>" not in streamed and "Title:" not in streamed
    lines = instruction_lines([(m["role"], m["content"]) for m in prompt])
    assert not any(line in streamed for line in lines if len(line.split()) >= 4)


def test_a_model_writing_its_chat_template_is_cut(settings: Settings) -> None:
    with FakeLLMServer(script=template_soup) as server:
        answer, streamed, _ = run(settings, server)
    assert_cut(answer, "template")
    assert "<<SYS>>" in answer.error and "chat template" in answer.error  # type: ignore[operator]
    assert "<<" not in streamed and "[INST]" not in streamed


def test_an_answer_followed_by_a_leaked_end_of_turn_keeps_the_answer_only(settings: Settings) -> None:
    with FakeLLMServer(script=leaking_template(GOOD)) as server:
        answer, streamed, _ = run(settings, server)
    assert not answer.error and answer.generation and answer.generation.ended_at == "<|im_end|>"
    assert answer.sentences[0].verification == "supported" and answer.citations
    assert "<|" not in streamed and "<|" not in answer.text and "And what else" not in answer.text
    assert streamed.strip() == GOOD


def test_20000_tokens_without_a_stop_end_at_max_tokens(settings: Settings) -> None:
    with FakeLLMServer(script=rambling(20_000)) as server:
        answer, _, elapsed = run(settings, server)
    assert server.requests[-1]["max_tokens"] == 512  # the default llm_max_tokens, sent as max_tokens
    assert_cut(answer, "length")
    assert "llm_max_tokens (512)" in answer.error  # type: ignore[operator]
    assert server.streamed == [512] and elapsed < DEADLINE


def test_a_server_ignoring_max_tokens_is_stopped_at_max_tokens_all_the_same(settings: Settings) -> None:
    with FakeLLMServer(script=rambling(20_000), honour_max_tokens=False, chunk_delay_seconds=0.0005) as server:
        llm = OpenAICompatibleGenerator(server.url, "test-model", timeout=10, max_tokens=100)
        service = Assistant(settings, embedder=HashingEmbedder(), generator=llm)
        answer = service.ask(ALIBABA)
        time.sleep(0.3)
    assert_cut(answer, "length")
    assert "llm_max_tokens (100)" in answer.error  # type: ignore[operator]
    assert server.streamed and server.streamed[0] < 1000


@pytest.mark.parametrize(
    "behaviour",
    [{"chunk_delay_seconds": 0.05}, {"stall_after": 3, "stall_seconds": 30.0}],
    ids=["slow tokens", "stalls after three tokens"],
)
def test_the_answer_deadline_holds_whatever_the_server_does(settings: Settings, behaviour: dict[str, float]) -> None:
    with FakeLLMServer(script=rambling(20_000), **behaviour) as server:  # type: ignore[arg-type]
        answer, _, elapsed = run(settings, server)
    assert_cut(answer, "deadline")
    assert "llm_answer_seconds (2 s)" in answer.error  # type: ignore[operator]
    assert DEADLINE - 0.05 < elapsed < DEADLINE + 0.5
    # What the model was given is still in the trace.
    assert answer.generation and answer.generation.window_tokens and answer.generation.passages_given == 5


def test_a_cut_answer_falls_back_to_the_offline_answer_when_the_setting_says_so(settings: Settings) -> None:
    with FakeLLMServer(script=repeating(LOOP)) as server:
        answer, _, _ = run(settings, server, llm_fallback="extractive")
    assert not answer.error and not answer.abstained
    assert answer.generation and answer.generation.fallback and answer.generation.cut == "repetition"
    assert "again and again" in (answer.generation.reason or "")
    assert "30 personnes" in answer.text and answer.citations[0].verification == "supported"
    assert answer.text.count("30 personnes") == 1


def test_a_server_that_is_down_falls_back_too(settings: Settings) -> None:
    with FakeLLMServer(fail_status=503) as server:
        answer, _, _ = run(settings, server, llm_fallback="extractive")
    assert not answer.error and "30 personnes" in answer.text
    assert answer.generation and answer.generation.fallback and answer.generation.cut is None
    assert "HTTP 503" in (answer.generation.reason or "")


def test_a_follow_up_rewrite_is_bounded_by_the_same_deadline(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD, delay_seconds=5.0) as server:
        llm = OpenAICompatibleGenerator(server.url, "test-model", timeout=30)
        service = Assistant(settings, embedder=HashingEmbedder(), generator=llm)
        started = time.perf_counter()
        answer = service.ask("Et depuis quand ?", [("Quel laboratoire Alibaba a-t-il fermé ?", "Le quantique [1].")])
        elapsed = time.perf_counter() - started
    assert answer.error and "llm_answer_seconds" in answer.error and elapsed < DEADLINE + 0.5


# Answers without usable citations are verified all the same ----------------------------------

TRUE = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire"
INVENTED = "Le laboratoire a coûté 450 millions d’euros à Alibaba"


def _right_passage(settings: Settings) -> int:
    hits = Assistant(settings, embedder=HashingEmbedder()).retrieve(ALIBABA).hits
    return next(n for n, hit in enumerate(hits, 1) if "30 personnes" in hit.chunk.text)


CITING = {
    "no markers": lambda right: f"{TRUE}. {INVENTED}.",
    "markers to passage 9 of 5": lambda right: f"{TRUE} [9]. {INVENTED} [9].",
    "markers only at the end": lambda right: f"{TRUE}. {INVENTED}. [{right}][9]",
    "markers on their own last line": lambda right: f"{TRUE}.\n{INVENTED}.\n[1][2][3]",
}


@pytest.mark.parametrize("script", CITING.values(), ids=CITING.keys())
def test_every_sentence_is_attached_to_its_support_or_flagged(settings: Settings, script: object) -> None:
    right = _right_passage(settings)

    def reply(messages: Messages) -> str:
        return script(right)  # type: ignore[operator]

    with FakeLLMServer(script=reply) as server:
        answer, _, _ = run(settings, server)
    assert not answer.error
    true, invented = (next(s for s in answer.sentences if s.text.startswith(start)) for start in (TRUE, INVENTED))
    assert true.verification == "supported" and true.citations == (right,)
    assert true.marked.endswith(f"[{right}]")
    # The invented sentence is flagged, never shown as supported by a passage.
    assert invented.verification == "unsupported" and invented.marked.endswith("[unsupported]")
    assert "450 millions d’euros à Alibaba. [unsupported]" in answer.text
    assert all(1 <= c.n <= 5 for c in answer.citations)  # passage 9 was never given
