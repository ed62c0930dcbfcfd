"""Reading a model's streamed answer: what may be shown, and when to stop reading.

The stream is read through a ``DegenerationDetector``: text is shown only
once nothing found later can begin in it (an echo is recognised a few words
in), so a cut answer never showed its echo. The stream stops at the first
sign of degeneration, at a chat-template token (which ends the answer, or cuts
it when nothing came before), or when the model writes more than
``max_tokens`` tokens: a server that ignores ``max_tokens`` is stopped here.
Servers stream one token per chunk, so chunks count tokens.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass

from rag.generators.degenerate import Degeneration, DegenerationDetector
from rag.generators.generation import GenerationCutError
from rag.generators.server_errors import OFFLINE_HINT


@dataclass(frozen=True)
class Ending:
    """The answer's text as read, and the chat-template token it ended at, if any."""

    text: str
    ended_at: str | None = None


def read_answer(
    chunks: Iterable[tuple[str, str | None]], detector: DegenerationDetector, max_tokens: int, model: str
) -> Generator[str, None, Ending]:
    """Yield the text safe to show from ``(text, finish_reason)`` chunks; return how the answer ended.

    Raises GenerationCutError when the answer degenerates or runs past ``max_tokens``.
    """
    thinking = _ThinkFilter()
    shown = 0
    count = 0
    finish: str | None = None
    for text, reason in chunks:
        count += bool(text)
        finish = reason or finish
        found = detector.feed(thinking.feed(text))
        if found:
            return (yield from _stopped(found, detector, shown, model))
        if count > max_tokens:
            raise _cut("length", "", model, max_tokens)
        safe = detector.safe_length()
        if safe > shown:
            yield detector.text[shown:safe]
            shown = safe
    found = detector.feed(thinking.flush()) or detector.finish()
    if found:
        return (yield from _stopped(found, detector, shown, model))
    if finish == "length":
        raise _cut("length", "", model, max_tokens)
    if len(detector.text) > shown:
        yield detector.text[shown:]
    return Ending(detector.text)


def _stopped(
    found: Degeneration, detector: DegenerationDetector, shown: int, model: str
) -> Generator[str, None, Ending]:
    before = detector.text[: found.start].rstrip()
    # A template token after an answer is the model ending its turn; before anything, a broken template.
    if found.kind != "template" or not any(character.isalnum() for character in before):
        raise _cut(found.kind, found.detail, model, 0)
    if len(before) > shown:
        yield before[shown:]
    return Ending(before, found.detail)


def _cut(kind: str, detail: str, model: str, max_tokens: int) -> GenerationCutError:
    what = {
        "repetition": f"it wrote {detail}. Try another model, or {OFFLINE_HINT}",
        "echo": f"it copied {detail} back instead of answering. Use an instruct (chat) model, or {OFFLINE_HINT}",
        "template": f"it wrote chat-template tokens ({detail}), so the server applies the wrong chat template: "
        f"use the model's instruct version with its own template, or {OFFLINE_HINT}",
        "length": f"it wrote more than llm_max_tokens ({max_tokens}) tokens without finishing. "
        f"Raise llm_max_tokens, or {OFFLINE_HINT}",
    }[kind]
    return GenerationCutError(f"The answer of model {model!r} was cut: {what}.", kind)


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
