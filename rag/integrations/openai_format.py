"""The OpenAI chat-completion wire format of an ``Answer``: bodies, stream chunks, errors.

Standard fields are where OpenAI clients look for them; what the standard has
no place for travels in extra fields, which clients that do not know them
ignore:

- ``choices[0].message.sources`` (``delta.sources`` in the final stream
  chunk): one entry per citation, ``n`` as in the ``[n]`` markers of the
  content, with ``source``, ``title``, ``date``, ``page``, ``start``/``end``
  (the cited span's offsets into the document's text), ``text`` (the span)
  and ``verification`` (``supported``, ``weak``, ``unsupported``);
- ``rag`` (top level of the response, and of the final chunk): the whole
  answer as ``rag ask --json`` prints it, each citation with its date, with
  ``closest``, the passages shown when it abstains.

Each cited passage is also a standard ``url_citation`` annotation (its file
as a ``file://`` URL, ``[n]`` and its title, the first sentence citing it as
the span of the content): the slot OpenAI's types have for citations, which
Open WebUI turns into its list of sources when streamed.

The ``content`` is only ever the checked answer: an LLM's draft is not
streamed, since its markers are not checked yet (they may be re-pointed or
marked unsupported) and what a client has shown cannot be taken back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.integrations.passages import answer_json, sources_json
from rag.types import Answer

DONE = b"data: [DONE]\n\n"
#: The ``type`` OpenAI gives each status's errors.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": param, "code": code}
    }


def models_body(models: dict[str, str], created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_body(name, created) for name in models]}


def model_body(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "rag"}


def completion_body(completion_id: str, created: int, model: str, answer: Answer) -> dict[str, Any]:
    """A whole (non-streamed) chat completion: the checked answer text, its sources, the answer JSON."""
    message = {
        "role": "assistant",
        "content": answer.text,
        "annotations": citation_annotations(answer),
        "sources": sources_json(answer),
    }
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "rag": answer_json(answer),
    }


def chunk(
    completion_id: str, created: int, model: str, delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }


def final_chunks(completion_id: str, created: int, model: str, answer: Answer) -> list[dict[str, Any]]:
    """The checked answer as content, then the chunk that ends the stream with its sources."""
    content = chunk(completion_id, created, model, {"content": answer.text})
    cited = {"annotations": citation_annotations(answer), "sources": sources_json(answer)}
    last = chunk(completion_id, created, model, cited, "stop")
    return [content, {**last, "rag": answer_json(answer)}]


def citation_annotations(answer: Answer) -> list[dict[str, Any]]:
    """One ``url_citation`` per cited passage, spanning the first sentence of ``answer.text`` that cites it."""
    text, position = answer.text, 0
    found: dict[int, tuple[int, int]] = {}
    for sentence in () if answer.abstained else answer.sentences:
        start = text.find(sentence.marked, position)
        if start < 0:
            continue
        position = start + len(sentence.marked)
        for n in sentence.citations:
            found.setdefault(n, (start, position))
    return [
        {
            "type": "url_citation",
            "url_citation": {
                "start_index": found[n][0],
                "end_index": found[n][1],
                "title": f"[{n}] {hit.title}",
                "url": Path(hit.source).absolute().as_uri(),
            },
        }
        for n, hit, _ in answer.shown()
        if n in found
    ]


def event(data: dict[str, Any]) -> bytes:
    """One server-sent event, as OpenAI sends them: ``data: {json}`` and a blank line."""
    return b"data: " + json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n\n"
