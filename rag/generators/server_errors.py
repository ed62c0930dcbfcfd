"""One-line messages for what goes wrong with an LLM server, each saying what to check.

The user reads them in the UI or on stderr, never as a traceback; credentials
in the server's URL never reach them.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
import openai

from rag.generators.base import GeneratorUnavailableError

OFFLINE_HINT = "choose the offline extractive backend"
_DETAIL_CHARS = 160


class ServerErrors:
    """The messages about one server (its URL shown without credentials) and one model."""

    def __init__(self, url: str, model: str, timeout: float) -> None:
        self.shown_url = without_credentials(url)
        self.model = model
        self.timeout = timeout

    def unavailable(self, error: openai.OpenAIError) -> GeneratorUnavailableError:
        # APITimeoutError subclasses APIConnectionError, so it is tested first.
        if isinstance(error, openai.APITimeoutError):
            return self.timed_out(self.timeout)
        if isinstance(error, openai.APIConnectionError):
            return self.unreachable(root_reason(error))
        if isinstance(error, openai.APIStatusError):
            return self.http_error(error.status_code, detail_of(error.body) or error.message)
        detail = detail_of(getattr(error, "body", None)) or short(str(error))
        return GeneratorUnavailableError(
            f"The LLM server at {self.shown_url} failed ({detail}): check its logs or {OFFLINE_HINT}."
        )

    def timed_out(self, seconds: float) -> GeneratorUnavailableError:
        return GeneratorUnavailableError(
            f"The LLM server at {self.shown_url} did not answer within {seconds:g} s: check it is running "
            f"and not overloaded, raise the timeout, or {OFFLINE_HINT}."
        )

    def unreachable(self, reason: str) -> GeneratorUnavailableError:
        return GeneratorUnavailableError(
            f"The LLM server at {self.shown_url} is not reachable ({reason}): start it, check the URL, "
            f"or {OFFLINE_HINT}."
        )

    def http_error(self, status: int, detail: str) -> GeneratorUnavailableError:
        where = f"The LLM server at {self.shown_url} answered HTTP {status}: {short(detail) or 'no detail'}"
        if status == 404:
            advice = f"check that model {self.model!r} is available there and that the URL ends with the API root (/v1)"
        elif status in (401, 403):
            advice = "check the API key"
        elif status == 429:
            advice = "wait a moment or check your quota"
        else:
            advice = f"check its logs or {OFFLINE_HINT}"
        return GeneratorUnavailableError(f"{where} — {advice}.")


def root_reason(error: BaseException) -> str:
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
    return short(messages[-1]) or "connection error"


def detail_of(body: object) -> str:
    """The human part of an error body: OpenAI's {"error": {"message": ...}} or plain text."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner.get("detail") or ""
        return short(str(inner))
    return short(str(body)) if body else ""


def json_or_text(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
