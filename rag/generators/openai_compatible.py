"""Answers from any OpenAI-compatible chat server (Ollama, llama.cpp, vLLM, LM Studio, OpenAI).

LangChain's ChatOpenAI stays inside this module; the rest of the pipeline sees
plain strings. Every failure becomes one GeneratorUnavailableError line that
says what to check, because the user reads it in the UI, not in a traceback.

Local models are not trusted blindly. The prompt is fitted to the model's
context window (learned from the server, ``rag.generators.window``), with room
for an answer of ``max_tokens`` tokens, sent as ``max_tokens``; a server that
still refuses it as too long gets one more try with fewer passages. The reply
is read through a degeneration detector (``rag.generators.reading``) that
stops a loop, an echo of the prompt or a leaking chat template as it starts.
``generate`` returns a ``Generation``, whose report says all of it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import openai
from langchain_openai import ChatOpenAI

from rag.generators.base import GeneratorUnavailableError
from rag.generators.context import (
    ContextBudget,
    FittedPrompt,
    PromptTooLongError,
    fit_prompt,
    prompt_budget,
    prompt_tokens,
)
from rag.generators.degenerate import DegenerationDetector
from rag.generators.generation import Generation, GenerationCutError
from rag.generators.markers import parse_answer
from rag.generators.prompt import build_messages, build_rewrite_messages, instruction_lines
from rag.generators.reading import Ending, read_answer
from rag.generators.server_errors import ServerErrors, detail_of, json_or_text, root_reason
from rag.generators.window import SETTING, ContextWindow, ExceededContext, exceeded_context, probe_window
from rag.settings import Settings
from rag.types import Claim, GenerationReport, Hit

# Private by design: LangChain must never ship prompts (which quote the
# user's documents) to a tracing service, whatever the environment says.
for _variable in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
    os.environ[_variable] = "false"

# Listing models should be instant; a slow answer there means the server is stuck.
_CHECK_LIST_TIMEOUT = 10.0
# Asking a server for its window is as quick: it answers from memory.
_PROBE_TIMEOUT = 5.0
_QUOTES = "\"'“”«»‘’`"
_REWRITE_LABEL = re.compile(r"^(?:standalone question|rewritten question|question reformulée|question)\s*:\s*", re.I)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)


class OpenAICompatibleGenerator:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 60.0,
        *,
        max_tokens: int = Settings.llm_max_tokens,
        context_tokens: int = Settings.llm_context_tokens,
    ) -> None:
        self.base_url = base_url.strip().rstrip("/")
        if not self.base_url.startswith(("http://", "https://")) or not _has_valid_port(self.base_url):
            raise GeneratorUnavailableError(
                f"The LLM server URL {base_url!r} must start with http:// or https:// and name a host and a port "
                "from 1 to 65535, if any (e.g. http://127.0.0.1:11434/v1)."
            )
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        #: The window assumed when the server does not say its own.
        self.context_tokens = context_tokens
        self._api_key = api_key
        self._errors = ServerErrors(self.base_url, model, timeout)
        # Learned once per generator (one server, one model), by the first request that needs it.
        self._window: ContextWindow | None = None
        self._window_lock = threading.Lock()
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

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleGenerator:
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key,
            settings.llm_timeout_seconds,
            max_tokens=settings.llm_max_tokens,
            context_tokens=settings.llm_context_tokens,
        )

    def context_window(self) -> ContextWindow:
        """The model's window, asked of the server once; ``context_tokens`` when it does not say."""
        with self._window_lock:
            if self._window is not None:
                return self._window
            probe_timeout = min(self.timeout, _PROBE_TIMEOUT)
            window, answered = probe_window(
                self.base_url, self.model, self._headers(), self.context_tokens, probe_timeout
            )
            assumed = ContextWindow(self.context_tokens, SETTING)
            if window is None and not answered:
                return assumed  # the server is down or failing: ask it again next time
            self._window = window or assumed
            return self._window

    def context_budget(self) -> ContextBudget:
        window = self.context_window()
        return ContextBudget(window, self.max_tokens, prompt_budget(window.tokens, self.max_tokens))

    def generate(self, question: str, passages: list[Hit], language: str) -> Generation:
        return Generation(lambda generation: self._write(question, passages, language, generation))

    def _write(
        self, question: str, passages: list[Hit], language: str, generation: Generation
    ) -> Iterator[str | Claim]:
        budget = self.context_budget()
        fitted = self._fit(question, passages, language, budget)
        generation.report = _report(budget, fitted)
        shown = fitted
        try:
            ending = yield from self._answer(fitted, question, generation)
        except _RefusedAsTooLong as refused:
            shown = self._fit_after_refusal(question, passages, language, fitted, refused.said)
            generation.report = replace(_report(self.context_budget(), shown), retried=True)
            try:
                ending = yield from self._answer(shown, question, generation)
            except _RefusedAsTooLong as again:
                raise self._still_too_long(shown, again.said) from None
        generation.report = replace(generation.report, ended_at=ending.ended_at)
        # The model wrote markers as text; they are read here, once, into cited sentences of the
        # passages it was shown.
        yield from parse_answer(ending.text, shown.given)

    def _answer(self, fitted: FittedPrompt, question: str, generation: Generation) -> Generator[str, None, Ending]:
        """Stream one prompt's answer; returns how it ended."""
        detector = DegenerationDetector(instruction_lines(fitted.messages), question)
        stream = self._chat.stream(fitted.messages, extra_body={"max_tokens": self.max_tokens})
        chunks = ((str(chunk.text), chunk.response_metadata.get("finish_reason")) for chunk in stream)
        try:
            ending = yield from read_answer(chunks, detector, self.max_tokens, self.model)
        except openai.OpenAIError as error:
            said = _refusal(error)
            # Nothing was written yet: the prompt itself was refused, and a shorter one may pass.
            if said is not None and not detector.text:
                raise _RefusedAsTooLong(said) from error
            raise self._errors.unavailable(error) from error
        except GenerationCutError as cut:
            if generation.report is not None:
                generation.report = replace(generation.report, cut=cut.kind, reason=str(cut))
            raise
        finally:
            # Closing the stream closes the request: the server stops writing a cut answer.
            # (LangChain returns a generator, typed as a plain Iterator.)
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return ending

    def _fit(self, question: str, passages: list[Hit], language: str, budget: ContextBudget) -> FittedPrompt:
        try:
            return fit_prompt(question, passages, language, budget.budget_tokens)
        except PromptTooLongError as error:
            window = budget.window
            raise GeneratorUnavailableError(
                f"The context window of model {self.model!r} ({window.tokens} tokens, from the {window.source}) "
                f"leaves no room for the question and a passage once {self.max_tokens} tokens are kept for the "
                f"answer (the prompt needs about {error.needed}): lower llm_max_tokens, or raise the server's "
                "context size (llama.cpp -c, Ollama num_ctx) and llm_context_tokens."
            ) from None

    def _fit_after_refusal(
        self, question: str, passages: list[Hit], language: str, refused: FittedPrompt, said: ExceededContext
    ) -> FittedPrompt:
        """A prompt with fewer passages than the one the server refused, fitted to what it said of its window."""
        if said.window:
            with self._window_lock:  # the next questions fit the prompt to it from the start
                self._window = ContextWindow(said.window, "server's refusal of a longer prompt (n_ctx)")
        if said.window:
            budget = prompt_budget(said.window, self.max_tokens)
            if said.prompt_tokens and said.prompt_tokens > refused.tokens:
                # The server's tokenizer counts more than the estimate: shrink the budget in proportion.
                budget = budget * refused.tokens // said.prompt_tokens
        else:
            fixed = prompt_tokens(build_messages(question, [], language))
            budget = fixed + (refused.tokens - fixed) // 2
        smaller = min(budget, refused.tokens - 1)
        try:
            fitted = fit_prompt(question, passages, language, smaller)
        except PromptTooLongError:
            raise self._still_too_long(refused, said) from None
        return fitted

    def _still_too_long(self, prompt: FittedPrompt, said: ExceededContext) -> GeneratorUnavailableError:
        window = f" ({said.window} tokens)" if said.window else ""
        return GeneratorUnavailableError(
            f"The LLM server at {self._errors.shown_url} refused the prompt as longer than its context "
            f"window{window}, even with {prompt.given} passage(s): raise its context size (llama.cpp -c, "
            "Ollama num_ctx), or lower llm_context_tokens, llm_max_tokens or top_k."
        )

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        messages = build_rewrite_messages(question, history, language)
        try:
            reply = self._chat.invoke(messages, extra_body={"max_tokens": self.max_tokens})
        except openai.OpenAIError as error:
            raise self._errors.unavailable(error) from error
        return _clean_rewrite(str(reply.text))

    def check(self) -> str:
        """One-line status of the server and model; raises GeneratorUnavailableError when unusable."""
        try:
            response = httpx.get(
                f"{self.base_url}/models", headers=self._headers(), timeout=min(self.timeout, _CHECK_LIST_TIMEOUT)
            )
        except httpx.TimeoutException:
            raise self._errors.timed_out(min(self.timeout, _CHECK_LIST_TIMEOUT)) from None
        except httpx.HTTPError as error:
            raise self._errors.unreachable(root_reason(error)) from None
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise self._errors.http_error(response.status_code, detail_of(json_or_text(response)))
        models = _model_ids(json_or_text(response)) if response.is_success else []
        if _has_model(models, self.model):
            return f"The LLM server at {self._errors.shown_url} is up and serves model {self.model!r}."
        # Not every server lists what it can serve (llama.cpp ignores the name,
        # some proxies have no /models): a one-token answer is the real test.
        try:
            self._chat.invoke([("user", "Reply with OK.")], max_tokens=1)
        except openai.OpenAIError as error:
            raise self._errors.unavailable(error) from error
        return f"The LLM server at {self._errors.shown_url} answered with model {self.model!r}."

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}


class _RefusedAsTooLong(Exception):
    def __init__(self, said: ExceededContext) -> None:
        self.said = said


def _refusal(error: openai.OpenAIError) -> ExceededContext | None:
    if not isinstance(error, openai.APIStatusError):
        return None
    return exceeded_context(error.status_code, error.body, error.message)


def _report(budget: ContextBudget, fitted: FittedPrompt) -> GenerationReport:
    return GenerationReport(
        window_tokens=budget.window.tokens,
        window_source=budget.window.source,
        budget_tokens=fitted.budget,
        prompt_tokens=fitted.tokens,
        max_tokens=budget.max_tokens,
        passages_given=fitted.given,
        dropped=fitted.dropped,
        trimmed=fitted.trimmed,
    )


def _clean_rewrite(reply: str) -> str | None:
    text = _THINK_BLOCK.sub("", reply).strip()
    # Models sometimes add an explanation after the question; the first line is the question.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    question = _REWRITE_LABEL.sub("", lines[0]).strip().strip(_QUOTES).strip()
    return question or None


def _model_ids(body: object) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]


def _has_model(models: list[str], model: str) -> bool:
    # Ollama lists "llama3.1:latest" and accepts "llama3.1" for it.
    return model in models or f"{model}:latest" in models


def _has_valid_port(url: str) -> bool:
    """Whether the URL has a host and, if it names a port, a number from 1 to 65535 ("host:abc" has none)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # what urlsplit says of "host:abc" or "host:99999"
        return False
    return bool(parts.hostname) and (port is None or port > 0)
