"""Fitting an LLM's prompt to the model's context window, with room left for its answer.

Tokens are counted without the model's tokenizer (every server has its own),
so the count must not fall short: ``ceil((UTF-8 bytes + 2 × digits) / 3)``.
Byte-level tokenizers never give more than one token per byte, and on prose
they give far fewer. A third of the bytes stays above what a real 30k-piece
English WordPiece vocabulary (all-MiniLM-L6-v2's, which splits French words
finely) gives: 10-25 % above it on the seed and PIAF articles in French, 50 %
on XQuAD's in English (``tests/test_llm_context.py`` checks it). Llama,
Mistral and Gemma split numbers digit by digit, so each digit counts as a
whole token. Accented letters take two bytes, CJK characters three: they count
more, as they cost more. A server whose tokenizer still counts more refuses
the prompt, and the retry fits it to what the server said.

Passages are dropped from the lowest-ranked up; the first one that does not
fit whole is given in part (its first sentences) when that part is worth a
passage. What was left out is recorded, so the trace says it: the server
never cuts the passages silently (Ollama drops the start of an over-long
prompt without a word).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from rag.generators.prompt import build_messages
from rag.generators.window import ContextWindow
from rag.text.sentences import sentence_spans
from rag.types import Hit

#: A chat template wraps each message in tokens of its own (role name, turn markers); the
#: answer's opening header is one more such message.
MESSAGE_OVERHEAD = 8
#: A passage given in part must keep at least this much text to be worth its fences and header.
MIN_USEFUL_TOKENS = 48

Messages = list[tuple[str, str]]


def estimate_tokens(text: str) -> int:
    """At least as many tokens as common LLM tokenizers give ``text`` (see the module's docstring)."""
    digits = sum(character.isdigit() for character in text)
    return math.ceil((len(text.encode("utf-8")) + 2 * digits) / 3)


def prompt_tokens(messages: Messages) -> int:
    return sum(estimate_tokens(content) + MESSAGE_OVERHEAD for _, content in messages) + MESSAGE_OVERHEAD


def prompt_budget(window_tokens: int, max_tokens: int) -> int:
    """Tokens the prompt may take: the window less the answer's room and a margin for the template."""
    return window_tokens - max_tokens - (16 + window_tokens // 50)


@dataclass(frozen=True)
class ContextBudget:
    """The window a backend learned and what it leaves for the prompt, for the Settings tab."""

    window: ContextWindow
    max_tokens: int
    budget_tokens: int


@runtime_checkable
class HasContextBudget(Protocol):
    """A backend with a context window (the OpenAI-compatible one); the offline backends have none."""

    def context_budget(self) -> ContextBudget: ...


class PromptTooLongError(ValueError):
    """Not even the instructions and the question, or not one useful part of a passage, fit the budget."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(f"the prompt needs about {needed} tokens, {budget} are left for it")
        self.needed = needed
        self.budget = budget


@dataclass(frozen=True)
class FittedPrompt:
    """The messages to send and what they hold: passages ``1..given`` (the last one perhaps trimmed)."""

    messages: Messages
    passages: tuple[Hit, ...]
    dropped: tuple[int, ...]
    trimmed: tuple[int, ...]
    tokens: int
    budget: int

    @property
    def given(self) -> int:
        return len(self.passages)


def fit_prompt(question: str, passages: list[Hit], language: str, budget: int) -> FittedPrompt:
    """The prompt for ``question`` holding as many of the best-ranked ``passages`` as ``budget`` allows."""

    def fitted(kept: list[Hit], trimmed: tuple[int, ...] = ()) -> FittedPrompt:
        messages = build_messages(question, kept, language)
        dropped = tuple(range(len(kept) + 1, len(passages) + 1))
        return FittedPrompt(messages, tuple(kept), dropped, trimmed, prompt_tokens(messages), budget)

    whole = fitted([])
    if whole.tokens > budget:
        raise PromptTooLongError(whole.tokens, budget)
    # The count grows with each passage: the best prefix is the last one that fits.
    for count in range(1, len(passages) + 1):
        candidate = fitted(passages[:count])
        if candidate.tokens > budget:
            break
        whole = candidate
    if whole.given == len(passages):
        return whole
    part = _trimmed_to_fit(passages[whole.given], lambda hit: fitted([*whole.passages, hit]).tokens <= budget)
    if part is not None:
        return fitted([*whole.passages, part], trimmed=(whole.given + 1,))
    if whole.given == 0:
        raise PromptTooLongError(fitted(passages[:1]).tokens, budget)
    return whole


def _trimmed_to_fit(hit: Hit, fits: _Fits) -> Hit | None:
    """``hit`` cut to its longest run of first sentences that ``fits``, if that run is worth giving."""
    text = hit.chunk.text
    ends = [end for _, end in sentence_spans(text)]
    best: Hit | None = None
    # Whole sentences first: a passage cut mid-sentence reads as a different claim.
    low, high = 0, len(ends) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = _prefix(hit, ends[middle])
        if fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    if best is None:
        # Not even the first sentence fits: its first words, cut at a space.
        words = [index for index, character in enumerate(text[: ends[0] if ends else len(text)]) if character == " "]
        low, high = 0, len(words) - 1
        while low <= high:
            middle = (low + high) // 2
            candidate = _prefix(hit, words[middle])
            if fits(candidate):
                best, low = candidate, middle + 1
            else:
                high = middle - 1
    if best is None or estimate_tokens(best.chunk.text) < MIN_USEFUL_TOKENS:
        return None
    return best


class _Fits(Protocol):
    def __call__(self, hit: Hit, /) -> bool: ...


def _prefix(hit: Hit, end: int) -> Hit:
    """The passage's first ``end`` characters, still a true span of its document."""
    text = hit.chunk.text[:end].rstrip()
    return replace(hit, chunk=replace(hit.chunk, text=text, end=hit.chunk.start + len(text)))
