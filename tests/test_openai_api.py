"""``rag api`` through the official ``openai`` client: models, answers streamed and not, follow-ups, keys, load.

The server is the real ``rag api`` process on 127.0.0.1 (fake hashing embedder,
an index of the seeds); the answers it gives are compared with ``Assistant.ask``
in this process, the answer ``rag ask`` gives.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from rag.answering.service import Assistant
from rag.embedders import LazyEmbedder
from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.integrations.openai_request import read_chat
from rag.integrations.passages import answer_json, sources_json
from rag.settings import Settings
from tests.api_server import running_api
from tests.helpers import FAKE_ENV, ROOT, index_seeds
from tests.llm_server import FakeLLMServer

QUESTION = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
FIRST = "Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?"
FOLLOW_UP = "Et combien de personnes y travaillaient ?"
UNANSWERABLE = "xylophone zeppelin quokka"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return index_seeds(tmp_path_factory.mktemp("api"))[1]


@pytest.fixture(scope="module")
def local(settings: Settings) -> Assistant:
    """The same assistant in this process: what ``rag ask`` answers."""
    return Assistant(settings, embedder=HashingEmbedder())


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    with running_api(settings.index_dir) as base_url:
        yield base_url


def client(base_url: str, key: str = "unused", **options: Any) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60, **options)


def without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


def test_models(url: str):
    api = client(url)
    assert [m.id for m in api.models.list()] == ["rag", "rag-offline"]
    assert api.models.retrieve("rag-offline").id == "rag-offline"
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-4o")


def test_an_answer_with_its_sources(url: str, local: Assistant):
    expected = local.ask(QUESTION)
    completion = client(url).chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    message = completion.choices[0].message
    assert completion.object == "chat.completion" and completion.model == "rag"
    assert completion.choices[0].finish_reason == "stop"
    assert message.role == "assistant"
    assert message.content == expected.text
    assert "30 personnes" in expected.text and "[1]" in expected.text
    sources = (message.model_extra or {})["sources"]
    assert sources == sources_json(expected)
    first = sources[0]
    assert set(first) == {"n", "source", "title", "date", "page", "start", "end", "text", "verification"}
    assert first["n"] == 1 and first["date"] == "2023-11" and first["verification"] == "supported"
    assert Path(first["source"]).name == "003_c00ce55952bfa148.txt"
    assert first["text"] in expected.hits[0].chunk.text
    whole = (completion.model_extra or {})["rag"]
    assert without_timings(whole) == without_timings(answer_json(expected))
    # The standard slot for citations too: one url_citation per cited passage, over the sentence citing it.
    [annotation] = message.annotations or []
    cited = annotation.url_citation
    assert cited.url == Path(first["source"]).as_uri() and cited.title == f"[1] {first['title']}"
    assert expected.text[cited.start_index : cited.end_index] == expected.sentences[0].marked


def test_a_streamed_answer_ends_with_its_sources(url: str, local: Assistant):
    expected = local.ask(QUESTION)
    stream = client(url).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.id for c in chunks} == {chunks[0].id} and all(c.object == "chat.completion.chunk" for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected.text
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    last = chunks[-1]
    assert (last.choices[0].delta.model_extra or {})["sources"] == sources_json(expected)
    [annotation] = (last.choices[0].delta.model_extra or {})["annotations"]
    assert annotation["type"] == "url_citation" and annotation["url_citation"]["title"].startswith("[1] ")
    assert without_timings((last.model_extra or {})["rag"]) == without_timings(answer_json(expected))


def test_a_follow_up_reads_the_conversation(url: str, local: Assistant):
    first = local.ask(FIRST)
    expected = local.ask(FOLLOW_UP, [(FIRST, first.said)])  # the chat's history: what the answer said
    assert expected.rewritten_question  # the follow-up was understood through the history
    messages: list[Any] = [
        {"role": "system", "content": "You are a helpful assistant."},  # ignored: the assistant has its own
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]},
    ]
    # The history is the chat's: the earlier question, and what its answer said, without markers.
    assert read_chat({"model": "rag", "messages": messages}, ("rag",)).history == [(FIRST, first.said)]
    for stream in (False, True):
        response = client(url).chat.completions.create(model="rag", messages=messages, stream=stream)
        if stream:
            chunks = list(response)  # type: ignore[call-overload]
            text = "".join(c.choices[0].delta.content or "" for c in chunks)
            whole = chunks[-1].model_extra["rag"]
        else:
            text = response.choices[0].message.content  # type: ignore[union-attr]
            whole = response.model_extra["rag"]  # type: ignore[union-attr]
        assert text == expected.text
        assert whole["rewritten_question"] == expected.rewritten_question


def test_an_abstention_shows_the_closest_passages(url: str, local: Assistant):
    expected = local.ask(UNANSWERABLE)
    assert expected.abstained
    completion = client(url).chat.completions.create(
        model="rag-offline", messages=[{"role": "user", "content": UNANSWERABLE}]
    )
    assert completion.choices[0].message.content == expected.message
    assert (completion.choices[0].message.model_extra or {})["sources"] == []
    closest = (completion.model_extra or {})["rag"]["closest"]
    assert [(c["n"], c["source"], c["start"], c["end"]) for c in closest] == [
        (n, h.source, h.chunk.start, h.chunk.end) for n, h in enumerate(expected.hits[:3], 1)
    ]


def test_the_api_key_is_auth_password(settings: Settings):
    with running_api(settings.index_dir, RAG_AUTH_PASSWORD="s3cret") as base_url:
        for key in ("wrong", "s3cret2"):
            api = OpenAI(base_url=base_url, api_key=key, max_retries=0)
            with pytest.raises(openai.AuthenticationError, match="auth_password"):
                api.models.list()
            with pytest.raises(openai.AuthenticationError):
                api.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
        bare = httpx.get(f"{base_url}/models")  # no Authorization header at all
        assert bare.status_code == 401
        assert (
            bare.json()["error"]["code"] == "invalid_api_key"
            and "API key is required" in bare.json()["error"]["message"]
        )
        api = client(base_url, "s3cret")
        assert [m.id for m in api.models.list()] == ["rag", "rag-offline"]
        answer = api.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
        assert "30 personnes" in (answer.choices[0].message.content or "")


def test_without_an_index_every_answer_is_a_503_saying_so(tmp_path: Path):
    with running_api(tmp_path / "no-index") as base_url:
        api = client(base_url)
        assert [m.id for m in api.models.list()] == ["rag", "rag-offline"]
        for stream in (False, True):
            with pytest.raises(openai.InternalServerError, match="rag index") as raised:
                api.chat.completions.create(
                    model="rag", messages=[{"role": "user", "content": QUESTION}], stream=stream
                )
            assert raised.value.status_code == 503


def test_a_port_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "api", "--port", str(port)],
            env=FAKE_ENV,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: Cannot listen on 127.0.0.1:{port}") and done.stderr.count("\n") == 1


def _alibaba(messages: list[dict[str, Any]]) -> str:
    return "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire [1]."


def test_with_an_llm_only_the_checked_answer_is_sent(settings: Settings, llm_server: FakeLLMServer):
    llm_server.script = _alibaba
    env = {"RAG_GENERATOR": "openai", "RAG_LLM_BASE_URL": llm_server.url, "RAG_LLM_MODEL": "test-model"}
    with_llm = settings.replace(generator="openai", llm_base_url=llm_server.url, llm_model="test-model")
    expected = Assistant(with_llm, embedder=HashingEmbedder()).ask(QUESTION)
    assert expected.generation is not None and not expected.abstained
    assert expected.text != _alibaba([])  # checked: the marker follows the sentence
    with running_api(settings.index_dir, **env) as base_url:
        api = client(base_url)
        messages: Any = [{"role": "user", "content": QUESTION}]
        chunks = list(api.chat.completions.create(model="rag", messages=messages, stream=True))
        # The role, then the checked answer in one piece, then its sources: never the LLM's unchecked draft.
        assert [c.choices[0].delta.content for c in chunks] == ["", expected.text, None]
        whole = (chunks[-1].model_extra or {})["rag"]
        assert whole["generation"] is not None and whole["citations"] == sources_json(expected)
        asked = len(llm_server.requests)
        offline = api.chat.completions.create(model="rag-offline", messages=messages)
        assert len(llm_server.requests) == asked  # rag-offline never calls the LLM
        assert (offline.model_extra or {})["rag"]["generation"] is None
        assert offline.choices[0].message.content == Assistant(settings, embedder=HashingEmbedder()).ask(QUESTION).text


def _qa_questions() -> list[str]:
    lines = (ROOT / "seeds" / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip() and "history" not in json.loads(line)][:10]


def _burst(url: str, expected: dict[str, str]) -> Counter[str]:
    """50 requests at once, every other one streamed: each "answered" (as ``expected``), "busy" or wrong."""
    questions = list(expected)
    api = AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)

    async def one(i: int) -> str:
        question = questions[i % len(questions)]
        messages: Any = [{"role": "user", "content": question}]
        try:
            if i % 2:
                stream = await api.chat.completions.create(model="rag", messages=messages, stream=True)
                text = "".join([c.choices[0].delta.content or "" async for c in stream])
            else:
                completion = await api.chat.completions.create(model="rag", messages=messages)
                text = completion.choices[0].message.content or ""
        except openai.RateLimitError:
            return "busy"
        return "answered" if text == expected[question] else f"wrong: {text!r}"

    async def burst() -> list[str]:
        async with api:
            return await asyncio.gather(*(one(i) for i in range(50)))

    started = time.perf_counter()
    outcomes = Counter(asyncio.run(burst()))
    print(f"50 concurrent requests: {dict(outcomes)} in {time.perf_counter() - started:.1f} s")
    return outcomes


def test_fifty_concurrent_requests_half_streamed(url: str, local: Assistant):
    outcomes = _burst(url, {q: local.ask(q).text for q in _qa_questions()})
    assert set(outcomes) <= {"answered", "busy"}, outcomes
    assert outcomes["answered"] >= 34  # 2 running + max_queue 32 waiting are always let in
    # Every place was given back: the next request is answered.
    after = client(url).chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    assert after.choices[0].message.content == local.ask(QUESTION).text


@pytest.mark.slow
def test_fifty_concurrent_requests_with_the_real_model(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    index_paths([ROOT / "seeds"], settings, LazyEmbedder(settings))
    local = Assistant(settings)
    expected = {q: local.ask(q).text for q in _qa_questions()}
    with running_api(settings.index_dir, RAG_EMBEDDING_BACKEND="auto") as base_url:
        outcomes = _burst(base_url, expected)
    assert set(outcomes) <= {"answered", "busy"}, outcomes
    assert outcomes["answered"] >= 34


def test_a_full_queue_is_refused_with_429_and_places_come_back(settings: Settings, llm_server: FakeLLMServer):
    llm_server.script = _alibaba
    llm_server.delay_seconds = 1.5  # each answer takes that long: two run, one waits, the rest are refused
    env = {
        "RAG_GENERATOR": "openai",
        "RAG_LLM_BASE_URL": llm_server.url,
        "RAG_LLM_MODEL": "test-model",
        "RAG_MAX_QUEUE": "1",
    }
    with running_api(settings.index_dir, **env) as base_url:
        api = AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60)

        async def one(stream: bool) -> str:
            messages: Any = [{"role": "user", "content": QUESTION}]
            try:
                if stream:
                    chunks = await api.chat.completions.create(model="rag", messages=messages, stream=True)
                    text = "".join([c.choices[0].delta.content or "" async for c in chunks])
                else:
                    text = (await api.chat.completions.create(model="rag", messages=messages)).choices[
                        0
                    ].message.content or ""
            except openai.RateLimitError as error:
                assert error.response.headers["retry-after"] == "1"
                assert error.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
                return "busy"
            return "answered" if "30 personnes" in text else f"wrong: {text!r}"

        async def burst() -> list[str]:
            async with api:
                return await asyncio.gather(*(one(i % 2 == 1) for i in range(6)))

        outcomes = Counter(asyncio.run(burst()))
        assert outcomes == {"answered": 3, "busy": 3}, outcomes
        llm_server.delay_seconds = 0
        after = client(base_url).chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
        assert "30 personnes" in (after.choices[0].message.content or "")


def test_a_client_leaving_mid_stream_gives_its_place_back(settings: Settings, llm_server: FakeLLMServer):
    llm_server.script = lambda messages: iter(["Environ ", "30 ", "personnes ", "travaillaient ", "[1]."])
    llm_server.chunk_delay_seconds = 1.0
    env = {
        "RAG_GENERATOR": "openai",
        "RAG_LLM_BASE_URL": llm_server.url,
        "RAG_LLM_MODEL": "test-model",
        "RAG_MAX_QUEUE": "1",
    }
    with running_api(settings.index_dir, **env) as base_url:
        api = client(base_url)
        for _ in range(4):  # more than the 3 places: each must come back when its client leaves
            stream = api.chat.completions.create(
                model="rag", messages=[{"role": "user", "content": QUESTION}], stream=True
            )
            next(iter(stream))
            stream.close()
        llm_server.chunk_delay_seconds = 0
        deadline = time.monotonic() + 15
        while True:  # the server notices a departure at its next token (a second here)
            try:
                answer = api.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
                break
            except openai.RateLimitError:
                assert time.monotonic() < deadline, "places were not given back"
                time.sleep(0.2)
        assert "30 personnes" in (answer.choices[0].message.content or "")
