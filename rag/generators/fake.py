"""A scripted generator, in process, for tests and demos: it behaves like an LLM backend without one.

``ScriptedGenerator`` plays an answer written in advance, with ``[n]`` citation
markers as an LLM writes them: a fixed string, or a function of the question,
the numbered passages and the language. Like the OpenAI-compatible generator
it streams that text in pieces (word by word, as a model streams tokens), then
yields the cited sentences read from it by ``markers.parse_answer``, so the
service, the citer and the UI see exactly what an LLM backend gives them, with
no server and no HTTP. The script may cite any number, even one beyond the
passages, since a real model can.

Without a script (``generator = "fake"`` in the settings) it echoes passage 1:
the sentence of it that shares the most words with the question, cited ``[1]``,
or, when none shares a word (or there is no passage), the sentence the prompt
asks an LLM to write when the passages do not answer. That is enough to try the
app end to end: each sentence it writes is one its passage supports, and a
question the passages do not touch abstains.

    generator = ScriptedGenerator("Paris est la capitale [1].")
    assistant = Assistant(settings, generator=generator)
    ...
    assert generator.calls[0].question == "Quelle est la capitale ?"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.generators.base import GeneratorUnavailableError
from rag.generators.markers import parse_answer
from rag.generators.prompt import not_found_sentence
from rag.text.analysis import analyze
from rag.text.sentences import sentence_spans
from rag.types import Claim, Hit

#: ``(question, passages, language) -> answer text with [n] markers``.
AnswerScript = Callable[[str, list[Hit], str], str]
#: ``(question, history, language) -> standalone question, or None for the built-in heuristic``.
RewriteScript = Callable[[str, list[tuple[str, str]], str], str | None]

# Words with the spaces after them, and brackets apart: how a model's tokens split a marker.
_PIECE = re.compile(r"\[|\]|[^\s\[\]]+\s*|\s+")
_FINAL_STOP = re.compile(r"[.!?…]+$")


@dataclass(frozen=True)
class Call:
    """One ``generate`` call, as the generator received it (for tests to inspect)."""

    question: str
    passages: tuple[Hit, ...]
    language: str


def echo_first_passage(question: str, passages: list[Hit], language: str) -> str:
    """The default script: the sentence of passage 1 that shares the most words with the question, cited ``[1]``.

    Words are compared as the index compares them (stemmed, stop words left out),
    the question read in its own language and in the passage's; between equals the
    earlier sentence wins, and the passage's title is not a sentence. When no
    sentence shares a word with the question, or there is no passage, it answers
    what the prompt asks an LLM to answer then: that the documents do not say.
    """
    if not passages:
        return not_found_sentence(language)
    top = passages[0]
    languages = [code for code in dict.fromkeys([language, top.language]) if code != "und"] or [language]
    asked = {term for code in languages for term in analyze(question, code)}
    text = top.chunk.text
    # The document's own sentences: its text is no LLM output, its brackets are no markers.
    sentences = [text[a:b] for a, b in sentence_spans(text) if text[a:b].strip() != top.title.strip()]
    shared = [len(asked & set(analyze(sentence, top.language))) for sentence in sentences]
    if not sentences or max(shared) == 0:
        return not_found_sentence(language)
    sentence = sentences[shared.index(max(shared))]
    # The marker goes before the final period, as the prompt asks of an LLM.
    stop = _FINAL_STOP.search(sentence)
    if stop is None:  # a heading, or a quote closing after its period: the marker follows
        return f"{sentence} [1]"
    return f"{sentence[: stop.start()]} [1]{stop.group()}"


class ScriptedGenerator:
    """A Generator that plays a script instead of calling a model: for tests and demos.

    ``script``: the answer, a string or ``(question, passages, language) -> str``,
    with ``[n]`` markers; by default ``echo_first_passage``. ``rewrite``: what
    ``rewrite`` returns, a string, ``(question, history, language) -> str | None``,
    or None (the built-in heuristic then rewrites follow-ups). ``unavailable``: a
    message to raise as ``GeneratorUnavailableError`` from every method, to play
    a backend that is down. Every ``generate`` call is kept in ``calls``.
    """

    name = "fake"

    def __init__(
        self,
        script: str | AnswerScript = echo_first_passage,
        *,
        rewrite: str | RewriteScript | None = None,
        unavailable: str | None = None,
    ) -> None:
        self.script = script
        self.rewrite_script = rewrite
        self.unavailable = unavailable
        self.calls: list[Call] = []

    def generate(self, question: str, passages: list[Hit], language: str) -> Iterator[str | Claim]:
        self.calls.append(Call(question, tuple(passages), language))
        self._fail_if_unavailable()
        text = self.script if isinstance(self.script, str) else self.script(question, passages, language)
        yield from pieces(text)
        # Read from the text as written, as the OpenAI-compatible generator reads its model's reply.
        yield from parse_answer(text, len(passages))

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        self._fail_if_unavailable()
        if self.rewrite_script is None or isinstance(self.rewrite_script, str):
            return self.rewrite_script
        return self.rewrite_script(question, history, language)

    def check(self) -> str:
        self._fail_if_unavailable()
        return "Scripted answers (the fake generator, for tests and demos): no server needed."

    def _fail_if_unavailable(self) -> None:
        if self.unavailable is not None:
            raise GeneratorUnavailableError(self.unavailable)


def pieces(text: str) -> list[str]:
    """``text`` split as a model streams it: words with their trailing spaces, brackets apart."""
    return _PIECE.findall(text)
