"""Answers from any OpenAI-compatible chat server (Ollama, llama.cpp, vLLM, LM Studio, OpenAI).

LangChain's ChatOpenAI stays inside this module; the rest of the pipeline sees
plain strings. Every failure becomes one GeneratorUnavailableError line that
says what to check, because the user reads it in the UI, not in a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai
from langchain_openai import ChatOpenAI

from rag.generators.base import GeneratorUnavailableError
from rag.generators.markers import parse_answer
from rag.generators.prompt import build_messages, build_rewrite_messages
from rag.types import Claim, Hit

# Private by design: LangChain must never ship prompts (which quote the
# user's documents) to a tracing service, whatever the environment says.
for _variable in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
    os.environ[_variable] = "false"

_OFFLINE_HINT = "choose the offline extractive backend"
# Listing models should be instant; a slow answer there means the server is stuck.
_CHECK_LIST_TIMEOUT = 10.0
_DETAIL_CHARS = 160
_QUOTES = "\"'“”«»‘’`"
_REWRITE_LABEL = re.compile(r"^(?:standalone question|rewritten question|question reformulée|question)\s*:\s*", re.I)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)


class OpenAICompatibleGenerator:
    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0) -> None:
        self.base_url = base_url.strip().rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise GeneratorUnavailableError(
                f"The LLM server URL {base_url!r} must start with http:// or https:// (e.g. http://127.0.0.1:11434/v1)."
            )
        self.model = model
        self.timeout = timeout
        self._api_key = api_key
        self._shown_url = _without_credentials(self.base_url)
        self._chat = ChatOpenAI(
            base_url=self.base_url,
            model=model,
            # Local servers ignore the key, but the OpenAI client refuses to start without one.
            api_key=api_key or "not-needed",  # type: ignore[arg-type]
            timeout=timeout,
            # A retry would double the wait before the user sees the error.
            max_retries=0,
            temperature=0,
            # Local servers only speak Chat Completions; never let a model name route to /responses.
            use_responses_api=False,
            stream_usage=False,
        )

    def generate(self, question: str, passages: list[Hit], language: str) -> Iterator[str | Claim]:
        messages = build_messages(question, passages, language)
        thinking = _ThinkFilter()
        written: list[str] = []
        try:
            for chunk in self._chat.stream(messages):
                text = thinking.feed(str(chunk.text))
                if text:
                    written.append(text)
                    yield text
        except openai.OpenAIError as error:
            raise self._unavailable(error) from error
        rest = thinking.flush()
        if rest:
            written.append(rest)
            yield rest
        # The model wrote markers as text; they are read here, once, into cited sentences.
        yield from parse_answer("".join(written))

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        messages = build_rewrite_messages(question, history, language)
        try:
            reply = self._chat.invoke(messages)
        except openai.OpenAIError as error:
            raise self._unavailable(error) from error
        return _clean_rewrite(str(reply.text))

    def check(self) -> str:
        """One-line status of the server and model; raises GeneratorUnavailableError when unusable."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = httpx.get(
                f"{self.base_url}/models", headers=headers, timeout=min(self.timeout, _CHECK_LIST_TIMEOUT)
            )
        except httpx.TimeoutException:
            raise self._timed_out(min(self.timeout, _CHECK_LIST_TIMEOUT)) from None
        except httpx.HTTPError as error:
            raise self._unreachable(_root_reason(error)) from None
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise self._http_error(response.status_code, _detail_of(_json_or_text(response)))
        models = _model_ids(_json_or_text(response)) if response.is_success else []
        if _has_model(models, self.model):
            return f"The LLM server at {self._shown_url} is up and serves model {self.model!r}."
        # Not every server lists what it can serve (llama.cpp ignores the name,
        # some proxies have no /models): a one-token answer is the real test.
        try:
            self._chat.invoke([("user", "Reply with OK.")], max_tokens=1)
        except openai.OpenAIError as error:
            raise self._unavailable(error) from error
        return f"The LLM server at {self._shown_url} answered with model {self.model!r}."

    def _unavailable(self, error: openai.OpenAIError) -> GeneratorUnavailableError:
        # APITimeoutError subclasses APIConnectionError, so it is tested first.
        if isinstance(error, openai.APITimeoutError):
            return self._timed_out(self.timeout)
        if isinstance(error, openai.APIConnectionError):
            return self._unreachable(_root_reason(error))
        if isinstance(error, openai.APIStatusError):
            return self._http_error(error.status_code, _detail_of(error.body) or error.message)
        detail = _detail_of(getattr(error, "body", None)) or _short(str(error))
        return GeneratorUnavailableError(
            f"The LLM server at {self._shown_url} failed ({detail}): check its logs or {_OFFLINE_HINT}."
        )

    def _timed_out(self, seconds: float) -> GeneratorUnavailableError:
        return GeneratorUnavailableError(
            f"The LLM server at {self._shown_url} did not answer within {seconds:g} s: check it is running "
            f"and not overloaded, raise the timeout, or {_OFFLINE_HINT}."
        )

    def _unreachable(self, reason: str) -> GeneratorUnavailableError:
        return GeneratorUnavailableError(
            f"The LLM server at {self._shown_url} is not reachable ({reason}): start it, check the URL, "
            f"or {_OFFLINE_HINT}."
        )

    def _http_error(self, status: int, detail: str) -> GeneratorUnavailableError:
        where = f"The LLM server at {self._shown_url} answered HTTP {status}: {_short(detail) or 'no detail'}"
        if status == 404:
            advice = f"check that model {self.model!r} is available there and that the URL ends with the API root (/v1)"
        elif status in (401, 403):
            advice = "check the API key"
        elif status == 429:
            advice = "wait a moment or check your quota"
        else:
            advice = f"check its logs or {_OFFLINE_HINT}"
        return GeneratorUnavailableError(f"{where} — {advice}.")


class _ThinkFilter:
    """Drops a leading <think>...</think> block that reasoning models put before the answer."""

    def __init__(self) -> None:
        self._buffer = ""
        self._decided = False

    def feed(self, text: str) -> str:
        if self._decided:
            return text
        self._buffer += text
        head = self._buffer.lstrip()
        if "<think>".startswith(head) and len(head) < len("<think>"):
            return ""  # too short to know yet
        if not head.startswith("<think>"):
            return self._release(self._buffer)
        if "</think>" not in head:
            return ""
        return self._release(head.split("</think>", 1)[1].lstrip())

    def flush(self) -> str:
        # A stream that ended inside the block had no answer after it.
        if self._decided or self._buffer.lstrip().startswith("<think>"):
            return ""
        return self._release(self._buffer)

    def _release(self, text: str) -> str:
        self._decided = True
        self._buffer = ""
        return text


def _clean_rewrite(reply: str) -> str | None:
    text = _THINK_BLOCK.sub("", reply).strip()
    # Models sometimes add an explanation after the question; the first line is the question.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    question = _REWRITE_LABEL.sub("", lines[0]).strip().strip(_QUOTES).strip()
    return question or None


def _root_reason(error: BaseException) -> str:
    """A few words on why a connection failed, from the deepest cause."""
    seen: BaseException | None = error
    messages = []
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        messages.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    text = " ".join(messages).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "host not found"
    if "certificate" in text or "ssl" in text:
        return "TLS error"
    return _short(messages[-1]) or "connection error"


def _detail_of(body: object) -> str:
    """The human part of an error body: OpenAI's {"error": {"message": ...}} or plain text."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner.get("detail") or ""
        return _short(str(inner))
    return _short(str(body)) if body else ""


def _json_or_text(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def _model_ids(body: object) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]


def _has_model(models: list[str], model: str) -> bool:
    # Ollama lists "llama3.1:latest" and accepts "llama3.1" for it.
    return model in models or f"{model}:latest" in models


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
