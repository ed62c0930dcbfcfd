"""The prompt fits the model's context window, learned from the server, with room for the answer.

Servers are ``tests/llm_server.py`` answering as llama.cpp, Ollama and vLLM do,
over real HTTP; they count prompts with a real tokenizer, not with our estimate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.generators.base import GeneratorUnavailableError
from rag.generators.context import MIN_USEFUL_TOKENS, estimate_tokens, fit_prompt, prompt_budget, prompt_tokens
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.generators.prompt import build_messages
from rag.generators.window import exceeded_context
from rag.settings import Settings
from rag.types import Chunk, Hit
from tests.helpers import index_seeds
from tests.llm_server import FakeLLMServer, count_prompt_tokens

ROOT = Path(__file__).resolve().parent.parent
ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
GOOD = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire [1]."
MAX_TOKENS = 512


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    _, settings = index_seeds(tmp_path_factory.mktemp("context"))
    return settings


@pytest.fixture(scope="module")
def passages(settings: Settings) -> list[Hit]:
    return Assistant(settings, embedder=HashingEmbedder()).retrieve(ALIBABA, 5).hits


def generator(server: FakeLLMServer, **limits: int) -> OpenAICompatibleGenerator:
    return OpenAICompatibleGenerator(server.url, "test-model", timeout=5, **limits)


def ask(settings: Settings, llm: OpenAICompatibleGenerator) -> dict[str, Any]:
    return Assistant(settings, embedder=HashingEmbedder(), generator=llm).ask(ALIBABA).to_json()


# Counting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [*sorted((ROOT / "seeds").glob("*.txt")), *sorted((ROOT / "eval/xquad-en/corpus").glob("*.txt"))[:5]],
    ids=lambda path: path.name,
)
def test_the_estimate_never_counts_fewer_tokens_than_a_real_tokenizer(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    messages = [{"role": "user", "content": text}]
    assert estimate_tokens(text) >= count_prompt_tokens(messages) - 10  # less the template's own tokens


def test_the_whole_prompt_is_counted_above_what_the_server_counts(passages: list[Hit]) -> None:
    messages = build_messages(ALIBABA, passages, "fr")
    server_side = count_prompt_tokens([{"role": role, "content": content} for role, content in messages])
    assert prompt_tokens(messages) >= server_side


def test_digits_and_accents_count_more_than_plain_letters() -> None:
    assert estimate_tokens("2017 2023") > estimate_tokens("abcd efgh")
    assert estimate_tokens("éééééé") > estimate_tokens("eeeeee")


# Fitting --------------------------------------------------------------------------------------


def _passage(n: int) -> Hit:
    sentences = [
        f"Le laboratoire numéro {n} employait des chercheurs venus de toute la Chine et de l’étranger, "
        f"recrutés pour leurs travaux sur les qubits supraconducteurs (phrase {k})."
        for k in range(1, 6)
    ]
    text = " ".join(sentences)
    start = 1000 * n
    return Hit(Chunk(f"doc{n}", start, start + len(text), text), 1.0 / n, f"/x/{n}.txt", f"Article {n}")


def test_lowest_ranked_passages_are_dropped_first_and_the_last_kept_one_trimmed() -> None:
    passages = [_passage(n) for n in range(1, 6)]
    two = prompt_tokens(build_messages(ALIBABA, passages[:2], "fr"))
    three = prompt_tokens(build_messages(ALIBABA, passages[:3], "fr"))
    budget = (two + three) // 2  # room for two passages and about half of the third

    fitted = fit_prompt(ALIBABA, passages, "fr", budget)

    assert fitted.tokens <= budget and fitted.budget == budget
    assert fitted.passages[:2] == tuple(passages[:2])
    assert fitted.trimmed == (3,) and fitted.dropped == (4, 5)
    part, whole = fitted.passages[2].chunk, passages[2].chunk
    # The part given is the passage's beginning, in whole sentences, still a true span of its document.
    assert whole.text.startswith(part.text) and 0 < len(part.text) < len(whole.text)
    assert part.text.endswith(").") and part.end == part.start + len(part.text)
    assert estimate_tokens(part.text) >= MIN_USEFUL_TOKENS
    assert "<passage 3>\n[3] Title: Article 3" in fitted.messages[1][1]
    assert "<passage 4>" not in fitted.messages[1][1]


def test_a_passage_whose_useful_part_does_not_fit_is_dropped_whole() -> None:
    passages = [_passage(n) for n in range(1, 4)]
    two = prompt_tokens(build_messages(ALIBABA, passages[:2], "fr"))
    fitted = fit_prompt(ALIBABA, passages, "fr", two + 30)
    assert fitted.passages == tuple(passages[:2]) and fitted.dropped == (3,) and not fitted.trimmed


def test_a_prompt_that_fits_is_sent_whole(passages: list[Hit]) -> None:
    fitted = fit_prompt(ALIBABA, passages, "fr", 100_000)
    assert fitted.passages == tuple(passages) and not fitted.dropped and not fitted.trimmed


def test_no_room_for_a_useful_part_of_a_passage_is_refused(passages: list[Hit]) -> None:
    alone = prompt_tokens(build_messages(ALIBABA, [], "fr"))
    with pytest.raises(ValueError, match="tokens"):
        fit_prompt(ALIBABA, passages, "fr", alone + 20)


# Learning the window --------------------------------------------------------------------------

WINDOWS = {
    "llama.cpp": ({"flavour": "llama.cpp"}, "llama.cpp /props (n_ctx)", "GET /props"),
    "ollama num_ctx": ({"flavour": "ollama"}, "Ollama /api/show (num_ctx)", "POST /api/show"),
    "ollama loaded": ({"flavour": "ollama", "loaded": True}, "Ollama /api/ps", "GET /api/ps"),
    "vllm": ({"flavour": "vllm"}, "vLLM /v1/models (max_model_len)", "GET /v1/models"),
}


@pytest.mark.parametrize(("server_options", "source", "asked"), WINDOWS.values(), ids=WINDOWS.keys())
def test_a_2048_token_window_is_learned_from_the_server_and_never_exceeded(
    settings: Settings, server_options: dict[str, object], source: str, asked: str
) -> None:
    with FakeLLMServer(script=GOOD, context_tokens=2048, **server_options) as server:  # type: ignore[arg-type]
        llm = generator(server)
        answer = ask(settings, llm)
        ask(settings, llm)  # a second question: the window is remembered

    generation = answer["generation"]
    assert generation["window_tokens"] == 2048 and generation["window_source"].startswith(source)
    assert server.paths.count(asked) == 1
    # The server's own count (a real tokenizer, the template's tokens) leaves room for the whole answer.
    assert server.prompt_tokens and max(server.prompt_tokens) + MAX_TOKENS <= 2048
    assert not server.truncated  # Ollama would have cut the prompt without a word
    assert generation["prompt_tokens"] <= generation["budget_tokens"] == prompt_budget(2048, MAX_TOKENS)
    # The seed passages do not all fit in 2,048 tokens: the trace says which were left out.
    assert generation["dropped"] or generation["trimmed"]
    assert generation["passages_given"] + len(generation["dropped"]) == 5
    assert answer["citations"] and not answer["error"]
    assert all(citation["n"] <= generation["passages_given"] for citation in answer["citations"])
    assert llm.context_budget().window.tokens == 2048


def test_ollama_without_num_ctx_runs_its_own_default_window_not_the_trained_maximum(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD, flavour="ollama", num_ctx_set=False, context_tokens=2048) as server:
        answer = ask(settings, generator(server, context_tokens=2048))
    generation = answer["generation"]
    assert generation["window_tokens"] == 2048  # min(131,072 trained, llm_context_tokens)
    assert "trained for 131072" in generation["window_source"] and "llm_context_tokens" in generation["window_source"]
    assert not server.truncated


def test_a_server_that_says_nothing_gets_the_setting_and_is_asked_only_once(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD) as server:
        llm = generator(server, context_tokens=3000)
        answer = ask(settings, llm)
        ask(settings, llm)
    assert answer["generation"]["window_tokens"] == 3000
    assert answer["generation"]["window_source"] == "setting llm_context_tokens"
    assert server.paths.count("GET /props") == 1 and server.paths.count("GET /api/version") == 1
    assert "POST /api/show" not in server.paths  # nothing is posted to a server that is not Ollama
    assert llm.context_budget().window.tokens == 3000


def test_a_failing_server_is_asked_for_its_window_again_next_time() -> None:
    with FakeLLMServer(fail_status=503) as server:
        llm = generator(server, context_tokens=3000)
        assert llm.context_window().tokens == 3000
        server.fail_status = None
        server.flavour, server.context_tokens = "llama.cpp", 2048
        assert llm.context_window().tokens == 2048


# A server that refuses the prompt as too long -------------------------------------------------


def test_context_exceeded_gets_one_retry_with_fewer_passages(settings: Settings) -> None:
    # The server said 4,096 tokens but refuses what does not fit in 1,200 (restarted with a smaller
    # context since, or behind a proxy that says more than it serves).
    with FakeLLMServer(script=GOOD, flavour="llama.cpp", context_tokens=4096) as server:
        llm = generator(server)
        assert llm.context_window().tokens == 4096
        server.context_tokens = 1200
        answer = ask(settings, llm)
    generation = answer["generation"]
    assert not answer["error"] and answer["citations"]
    assert generation["retried"] and generation["window_tokens"] == 1200
    assert generation["passages_given"] < 5 or generation["trimmed"]
    chats = [p for p in server.paths if p == "POST /v1/chat/completions"]
    assert len(chats) == 2 and server.prompt_tokens[0] > 1200 >= server.prompt_tokens[1] + MAX_TOKENS
    # Learned from the refusal: the next question fits at once.
    assert llm.context_window().tokens == 1200


def test_a_server_that_keeps_refusing_gets_one_line_after_one_retry(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD, refusals=10) as server:
        answer = ask(settings, generator(server))
    assert answer["error"] and "\n" not in answer["error"]
    assert "refused the prompt as longer than its context window" in answer["error"]
    assert "raise its context size" in answer["error"]
    assert server.paths.count("POST /v1/chat/completions") == 2
    assert answer["retrieved"]  # the closest passages are still there to show


def test_a_window_too_small_for_any_passage_is_one_line_saying_what_to_change(settings: Settings) -> None:
    with FakeLLMServer(script=GOOD, flavour="llama.cpp", context_tokens=700) as server:
        answer = ask(settings, generator(server))
    assert answer["error"] and "\n" not in answer["error"]
    assert "700 tokens" in answer["error"] and "llm_max_tokens" in answer["error"]
    assert "POST /v1/chat/completions" not in server.paths  # nothing was sent that the server would cut


REFUSALS = {
    "llama.cpp": (
        400,
        {"error": {"code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": 3000, "n_ctx": 2048}},
        "the request exceeds the available context size",
        (2048, 3000),
    ),
    "llama.cpp before it said 400": (
        500,
        {"error": {"message": "the request exceeds the available context size"}},
        "",
        (None, None),
    ),
    "vLLM": (
        400,
        {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens. However, you requested 5000",
        },
        "This model's maximum context length is 4096 tokens. However, you requested 5000",
        (4096, None),
    ),
    "OpenAI": (400, {"error": {"code": "context_length_exceeded", "message": "too long"}}, "", (None, None)),
}


@pytest.mark.parametrize(("status", "body", "message", "said"), REFUSALS.values(), ids=REFUSALS.keys())
def test_context_exceeded_is_recognised_in_each_server_s_words(
    status: int, body: object, message: str, said: tuple[int | None, int | None]
) -> None:
    refusal = exceeded_context(status, json.loads(json.dumps(body)), message)
    assert refusal is not None and (refusal.window, refusal.prompt_tokens) == said


def test_other_errors_are_not_taken_for_a_full_context() -> None:
    assert exceeded_context(400, {"error": {"message": "invalid temperature"}}, "invalid temperature") is None
    assert exceeded_context(404, {"error": {"message": "context length of 2048"}}, "model not found") is None


def test_the_generator_raises_the_refusal_as_one_line(passages: list[Hit]) -> None:
    with FakeLLMServer(script=GOOD, refusals=10) as server, pytest.raises(GeneratorUnavailableError) as caught:
        list(generator(server).generate(ALIBABA, passages, "fr"))
    assert "even with" in str(caught.value) and "\n" not in str(caught.value)
