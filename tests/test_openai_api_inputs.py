"""Malformed requests to ``rag api``: each gets a clear 4xx in OpenAI's error shape, and the server keeps serving.

The README's table of malformed inputs is this table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rag.integrations.openai_request import MAX_BODY_BYTES, MAX_MESSAGE_CHARS, MAX_MESSAGES
from tests.api_server import running_api
from tests.helpers import index_seeds

QUESTION = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
ASK = {"role": "user", "content": QUESTION}


def chat(**fields: Any) -> bytes:
    """A chat request body: a good one, with ``fields`` changed (None removes a field)."""
    body: dict[str, Any] = {"model": "rag", "messages": [ASK], **fields}
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def one(**message: Any) -> bytes:
    return chat(messages=[{k: v for k, v in {**ASK, **message}.items() if v is not None}])


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

#: name: (method, path, body, status, error code, the param named)
CASES: dict[str, tuple[str, str, bytes | None, int, str | None, str | None]] = {
    "not JSON": ("POST", "/chat/completions", b"{bad", 400, "invalid_json", None),
    "not UTF-8": ("POST", "/chat/completions", b'{"model": "\xff\xfe"}', 400, "invalid_json", None),
    "empty body": ("POST", "/chat/completions", b"", 400, "invalid_json", None),
    "a JSON list, not an object": ("POST", "/chat/completions", b"[]", 400, "invalid_json", None),
    "JSON nested 100,000 deep": (
        "POST",
        "/chat/completions",
        b"[" * 100_000 + b"]" * 100_000,
        400,
        "invalid_json",
        None,
    ),
    "no model": ("POST", "/chat/completions", chat(model=None), 400, "invalid_request", "model"),
    "model a number": ("POST", "/chat/completions", chat(model=42), 400, "invalid_request", "model"),
    "unknown model": ("POST", "/chat/completions", chat(model="gpt-4o"), 404, "model_not_found", "model"),
    "no messages": ("POST", "/chat/completions", chat(messages=None), 400, "invalid_request", "messages"),
    "messages a string": ("POST", "/chat/completions", chat(messages="hi"), 400, "invalid_request", "messages"),
    "messages empty": ("POST", "/chat/completions", chat(messages=[]), 400, "invalid_request", "messages"),
    "a message a string": ("POST", "/chat/completions", chat(messages=["hi"]), 400, "invalid_request", "messages[0]"),
    "no role": ("POST", "/chat/completions", one(role=None), 400, "invalid_role", "messages[0].role"),
    "unknown role": ("POST", "/chat/completions", one(role="wizard"), 400, "invalid_role", "messages[0].role"),
    "role a number": ("POST", "/chat/completions", one(role=7), 400, "invalid_role", "messages[0].role"),
    "content a number": ("POST", "/chat/completions", one(content=42), 400, "invalid_request", "messages[0].content"),
    "content an image": (
        "POST",
        "/chat/completions",
        one(content=[{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]),
        400,
        "invalid_request",
        "messages[0].content[0]",
    ),
    "empty content": ("POST", "/chat/completions", one(content=""), 400, "empty_content", "messages[0].content"),
    "blank content": ("POST", "/chat/completions", one(content=" \n\t "), 400, "empty_content", "messages[0].content"),
    "no content": ("POST", "/chat/completions", one(content=None), 400, "empty_content", "messages[0].content"),
    "last message the assistant's": (
        "POST",
        "/chat/completions",
        chat(messages=[ASK, {"role": "assistant", "content": "30."}]),
        400,
        "invalid_request",
        "messages[1].role",
    ),
    "tools offered": ("POST", "/chat/completions", chat(tools=[TOOL]), 400, "tools_not_supported", "tools"),
    "a tool message": (
        "POST",
        "/chat/completions",
        chat(messages=[{"role": "tool", "tool_call_id": "c1", "content": "{}"}, ASK]),
        400,
        "tools_not_supported",
        "messages[0].role",
    ),
    "an assistant's tool call": (
        "POST",
        "/chat/completions",
        chat(messages=[{"role": "assistant", "content": None, "tool_calls": [CALL]}, ASK]),
        400,
        "tools_not_supported",
        "messages[0].tool_calls",
    ),
    "stream a string": ("POST", "/chat/completions", chat(stream="yes"), 400, "invalid_request", "stream"),
    "n = 2": ("POST", "/chat/completions", chat(n=2), 400, "invalid_request", "n"),
    "a 1 MB message": (
        "POST",
        "/chat/completions",
        one(content="a" * 1_000_000),
        400,
        "message_too_long",
        "messages[0].content",
    ),
    "10,000 messages": (
        "POST",
        "/chat/completions",
        chat(messages=[{"role": "user", "content": "hi"}] * 9_999 + [ASK]),
        400,
        "too_many_messages",
        "messages",
    ),
    "a 3 MB body": ("POST", "/chat/completions", one(content="a" * 3_000_000), 400, "request_too_large", None),
    "GET on chat/completions": ("GET", "/chat/completions", None, 405, "method_not_allowed", None),
    "unknown route": ("POST", "/completions", chat(), 404, None, None),
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _, settings = index_seeds(tmp_path_factory.mktemp("api-inputs"))
    with running_api(settings.index_dir) as base_url:
        yield base_url


def test_the_limits_are_what_the_table_tries():
    assert len(one(content="a" * 1_000_000)) < MAX_BODY_BYTES  # reaches the per-message limit
    assert MAX_MESSAGE_CHARS < 1_000_000 and MAX_MESSAGES < 10_000
    assert len(one(content="a" * 3_000_000)) > MAX_BODY_BYTES


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "param"), CASES.values(), ids=CASES.keys())
def test_a_malformed_request_gets_a_clear_4xx(
    url: str, method: str, path: str, body: bytes | None, status: int, code: str | None, param: str | None
):
    response = httpx.request(method, url + path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"]) == (code, param)
    message = error["message"]
    assert message and "\n" not in message and len(message) < 300 and "Traceback" not in message, message


def test_the_server_keeps_serving_after_them(url: str):
    for method, path, body, *_ in CASES.values():  # all of them once more, then a good request
        httpx.request(method, url + path, content=body)
    response = httpx.post(url + "/chat/completions", content=chat(), timeout=60)
    assert response.status_code == 200
    assert "30 personnes" in response.json()["choices"][0]["message"]["content"]
