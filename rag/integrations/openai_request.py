"""A chat-completion request read and checked: the question, the conversation before it, the model.

Everything a client can get wrong is refused here with a ``RequestError``
that names the field (``messages[3].role``) in one line, before any work is
queued: malformed JSON, a missing or wrongly typed field, an empty question,
an unknown role, tool calls, more than the limits below. Options the
assistant has no use for (``temperature``, ``max_tokens``, ``stop``...) are
accepted and ignored, as they change nothing in an answer quoted from the
documents; ``system`` and ``developer`` messages are ignored too: the answer
follows the assistant's own instructions, never the client's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: A request body larger than this is refused before it is parsed.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: A conversation longer than this is not a chat (the follow-up rewrite reads only the last turns).
MAX_MESSAGES = 1000
#: The longest message taken: a page of text. The question itself is cut at 2,000 characters by the service.
MAX_MESSAGE_CHARS = 32_000
#: Roles whose messages carry the conversation or are ignored; ``tool``/``function`` are refused.
ROLES = ("user", "assistant", "system", "developer")
#: The markers an answer's text carries (`` [1]``, `` [2?]``, `` [unsupported]``), which a client sends back.
_OUR_MARKERS = re.compile(r"[ \t]*\[(?:\d+\??|unsupported)\]")
#: Request fields that offer the model tools (``tool_choice`` alone offers none, and is ignored).
TOOL_FIELDS = ("tools", "functions")


class RequestError(Exception):
    """A request the API refuses: HTTP status, one-line message, the field at fault, an OpenAI error code."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def invalid(message: str, param: str | None = None, code: str = "invalid_request") -> RequestError:
    return RequestError(400, message, param, code)


@dataclass(frozen=True)
class ChatRequest:
    model: str
    question: str
    #: (question, answer) pairs of the earlier turns, oldest first, as the service takes them.
    history: list[tuple[str, str]]
    stream: bool


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, or a 400 saying what is wrong with it."""
    if len(body) > MAX_BODY_BYTES:
        raise invalid(f"The request body is larger than {MAX_BODY_BYTES} bytes.", code="request_too_large")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise invalid("The request body is not UTF-8 text.", code="invalid_json") from None
    except json.JSONDecodeError as error:
        raise invalid(
            f"The request body is not valid JSON ({error.msg} at character {error.pos}).", code="invalid_json"
        ) from None
    except RecursionError:
        raise invalid("The request body nests JSON too deeply.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise invalid(f"The request body must be a JSON object, not {_kind(data)}.", code="invalid_json")
    return data


def read_chat(data: dict[str, Any], models: tuple[str, ...]) -> ChatRequest:
    """The chat request in ``data``; a 400 for a malformed one, a 404 for a model not in ``models``."""
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise invalid(_expected("model", "the name of a model (GET /v1/models lists them)", model), "model")
    for name in TOOL_FIELDS:
        if data.get(name):
            raise invalid(_NO_TOOLS, name, "tools_not_supported")
    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid(_expected("stream", "true or false", stream), "stream")
    n = data.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n != 1):
        raise invalid("n must be 1: the assistant gives one answer per question.", "n")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid(_expected("messages", "a non-empty list of {role, content} objects", messages), "messages")
    if len(messages) > MAX_MESSAGES:
        raise invalid(
            f"messages holds {len(messages)} messages; at most {MAX_MESSAGES} are taken.",
            "messages",
            "too_many_messages",
        )
    turns = [_message(i, message) for i, message in enumerate(messages)]
    role, question = turns[-1]
    if role != "user":
        raise invalid(
            f"The last message must be the user's question, not a {role} message.", f"messages[{len(turns) - 1}].role"
        )
    if not question.strip():
        raise invalid(
            "The question (the last message's content) is empty.",
            f"messages[{len(turns) - 1}].content",
            "empty_content",
        )
    if model not in models:
        raise RequestError(
            404, f"The model {model!r} does not exist: use {' or '.join(models)}.", "model", "model_not_found"
        )
    return ChatRequest(model, question, _history(turns[:-1]), bool(stream))


_NO_TOOLS = "Tool and function calls are not supported: the assistant answers from your documents only."


def _message(index: int, message: Any) -> tuple[str, str]:
    """(role, text) of one message, checked."""
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid(_expected(where, "a {role, content} object", message), where)
    role = message.get("role")
    if role in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
        raise invalid(
            _NO_TOOLS, f"{where}.role" if role in ("tool", "function") else f"{where}.tool_calls", "tools_not_supported"
        )
    if role not in ROLES:
        shown = repr(role) if isinstance(role, str) else _kind(role)
        raise invalid(f"{where}.role must be one of {', '.join(ROLES)}, not {shown}.", f"{where}.role", "invalid_role")
    text = _text(message.get("content"), f"{where}.content")
    if len(text) > MAX_MESSAGE_CHARS:
        raise invalid(
            f"{where}.content holds {len(text)} characters; at most {MAX_MESSAGE_CHARS} are taken.",
            f"{where}.content",
            "message_too_long",
        )
    return role, text


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or a list of ``{"type": "text", "text": ...}`` parts (images are refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else None
                said = f"a {kind!r} part" if isinstance(kind, str) else _kind(part)
                raise invalid(
                    f"{where}[{i}] must be a text part ({{type: text, text}}), not {said}: only text is read.",
                    f"{where}[{i}]",
                )
            texts.append(part["text"])
        return "\n".join(texts)
    raise invalid(_expected(where, "a string or a list of text parts", content), where)


def _history(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each user message paired with the assistant's reply after it; system messages and unanswered ones left out.

    A reply is taken without the answer's markers, as the chat keeps it (``Answer.said``):
    what it said, not which passages it cited.
    """
    history: list[tuple[str, str]] = []
    asked: str | None = None
    for role, text in turns:
        if role == "user":
            asked = text
        elif role == "assistant" and asked is not None and asked.strip():
            history.append((asked, _OUR_MARKERS.sub("", text)))
            asked = None
    return history


def _expected(field: str, wanted: str, value: Any) -> str:
    return f"{field} must be {wanted}, not {_kind(value)}." if value is not None else f"{field} is required: {wanted}."


def _kind(value: Any) -> str:
    """A value's JSON kind, never the value itself (it could be a megabyte)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return "an object"
