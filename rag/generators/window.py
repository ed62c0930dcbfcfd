"""Learning a model's context window from its server, where the server says it.

- vLLM lists ``max_model_len`` for each model in ``GET /v1/models``.
- llama.cpp's server gives ``default_generation_settings.n_ctx`` in ``GET /props``: the
  window of one slot, which is what one request gets.
- Ollama (recognised by ``GET /api/version``, before anything is posted to it) gives the
  window of a loaded model in ``GET /api/ps`` (``context_length``), and otherwise, in
  ``POST /api/show``, the ``num_ctx`` the model sets. Without one, Ollama runs the model in
  its own default window (2,048 or 4,096 tokens, or ``OLLAMA_CONTEXT_LENGTH``), not in the
  trained maximum that ``/api/show`` lists (``<architecture>.context_length``): that
  maximum only caps ``llm_context_tokens``.
- Any other server (LM Studio, a proxy, OpenAI): ``llm_context_tokens``.

A server that answers "context exceeded" often says its window in the error
(llama.cpp's ``n_ctx``, vLLM's and OpenAI's "maximum context length is N
tokens"); ``exceeded_context`` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

SETTING = "setting llm_context_tokens"
_CONTEXT_WORDS = re.compile(
    r"context (?:size|length|window)|maximum context|too many tokens|prompt is too long|"
    r"exceeds? (?:the )?(?:available |maximum )?context|input is too large",
    re.IGNORECASE,
)
_STATED_WINDOW = re.compile(
    r"(?:maximum context length is|context length of(?: only)?|context size of|n_ctx\W{0,3})\s*(\d{3,7})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ContextWindow:
    """A model's context window in tokens, and where it was learned (for the trace)."""

    tokens: int
    source: str


@dataclass(frozen=True)
class ExceededContext:
    """A server's refusal of a prompt longer than its window, and what it said of its sizes."""

    window: int | None
    prompt_tokens: int | None


def probe_window(
    base_url: str, model: str, headers: dict[str, str], fallback: int, timeout: float
) -> tuple[ContextWindow | None, bool]:
    """(the window the server states, or None; whether the server answered at all).

    A server that does not answer (timeout, refused connection, HTTP 5xx) is not
    asked further: the answer's own request will say what is wrong with it.
    """
    root = base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url
    with httpx.Client(headers=headers, timeout=timeout) as client:

        def get(url: str, body: dict[str, str] | None = None) -> Any:
            response = client.post(url, json=body) if body is not None else client.get(url)
            if response.status_code >= 500:
                raise _NoAnswer
            if not response.is_success:
                return None
            try:
                return response.json()
            except ValueError:
                return None

        try:
            for probe in (_vllm, _llama_cpp, _ollama):
                found = probe(get, base_url, root, model, fallback)
                if found is not None:
                    return found, True
        except (_NoAnswer, httpx.HTTPError):
            return None, False
    return None, True


class _NoAnswer(Exception):
    pass


Get = Callable[..., Any]


def _vllm(get: Get, base_url: str, root: str, model: str, fallback: int) -> ContextWindow | None:
    body = get(f"{base_url}/models")
    entries = body.get("data") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") in (model, f"{model}:latest"):
            tokens = _positive(entry.get("max_model_len"))
            if tokens:
                return ContextWindow(tokens, "vLLM /v1/models (max_model_len)")
    return None


def _llama_cpp(get: Get, base_url: str, root: str, model: str, fallback: int) -> ContextWindow | None:
    body = get(f"{root}/props")
    settings = body.get("default_generation_settings") if isinstance(body, dict) else None
    tokens = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
    return ContextWindow(tokens, "llama.cpp /props (n_ctx)") if tokens else None


def _ollama(get: Get, base_url: str, root: str, model: str, fallback: int) -> ContextWindow | None:
    version = get(f"{root}/api/version")
    if not (isinstance(version, dict) and "version" in version):
        return None  # not Ollama: nothing is posted to a route it may not have
    names = (model, f"{model}:latest")
    running = get(f"{root}/api/ps")
    for entry in running.get("models", []) if isinstance(running, dict) else []:
        if isinstance(entry, dict) and (entry.get("name") in names or entry.get("model") in names):
            tokens = _positive(entry.get("context_length"))
            if tokens:
                return ContextWindow(tokens, "Ollama /api/ps (the loaded model's context_length)")
    shown = get(f"{root}/api/show", {"model": model})
    if not isinstance(shown, dict):
        return None
    parameters = re.search(r"^\s*num_ctx\s+(\d+)", str(shown.get("parameters") or ""), re.MULTILINE)
    if parameters:
        return ContextWindow(int(parameters.group(1)), "Ollama /api/show (num_ctx)")
    info = shown.get("model_info")
    trained = [_positive(v) for k, v in info.items() if k.endswith(".context_length")] if isinstance(info, dict) else []
    maximum = min((tokens for tokens in trained if tokens), default=None)
    if maximum:
        return ContextWindow(min(maximum, fallback), f"Ollama /api/show (trained for {maximum}), {SETTING}")
    return None


def exceeded_context(status: int, body: object, message: str) -> ExceededContext | None:
    """What a server's error says when it refused the prompt as longer than the window, else None."""
    error = body.get("error", body) if isinstance(body, dict) else None
    details = error if isinstance(error, dict) else {}
    kind = f"{details.get('type', '')} {details.get('code', '')}"
    text = f"{message} {details.get('message', '')}"
    said_so = "exceed_context_size_error" in kind or "context_length_exceeded" in kind or _CONTEXT_WORDS.search(text)
    # llama.cpp answered 500 for it before it answered 400; 413 is what proxies say.
    if status not in (400, 413, 500) or not said_so:
        return None
    stated = _STATED_WINDOW.search(text)
    window = _positive(details.get("n_ctx")) or (int(stated.group(1)) if stated else None)
    return ExceededContext(window, _positive(details.get("n_prompt_tokens")))


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
