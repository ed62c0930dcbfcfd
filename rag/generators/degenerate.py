"""Telling a model's degenerate output from an answer, on the text written so far.

Small local models loop, copy their prompt back and leak their chat template;
the stream is stopped at the first sign, which is measured, not guessed:

- **Template tokens** (``<|im_end|>``, ``[/INST]``, ``<start_of_turn>``, any ``<|...|>``)
  are turn boundaries of a chat template: they reach the text only when the
  server applies the wrong template, and nothing after one is the answer.
  What comes before one is, when there is any: the model ended its turn.
- **Echo**: the prompt's own words. Its fences and passage headers; a run of
  ``ECHO_RUN`` consecutive words of one of its instruction lines (the whole
  line when shorter, from 4 words); the whole question (from 4 words). The
  passages are not part of it: quoting a passage is what an answer does, and
  the sentence the prompt asks for when nothing answers is not either.
- **Repetition**: a sentence of 3 words or more written a third time; or a
  loop without sentences: over the last ``WINDOW`` words, more than half of
  the word 4-grams already seen in that window (rep-4, as in Welleck et al.,
  "Neural text degeneration with unlikelihood training", 2019). A loop of any
  period reaches 1 - 1/k after k turns, so half means "past its second
  turn"; fluent prose, lists included, stays far below (a 4-gram rarely comes
  twice in 64 words).

Words are compared case- and accent-blind, citation markers left out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rag.generators.prompt import FENCES
from rag.text.normalise import normalise

ECHO_RUN = 8
SHORTEST_ECHO = 4
WINDOW = 64
GRAM = 4
#: Fewer words than this say nothing about a loop.
LEAST_WORDS_FOR_LOOP = 32
LOOP_SHARE = 0.5
SENTENCE_TIMES = 3
SHORTEST_SENTENCE = 3

#: Special tokens of the chat templates local models use, as they leak into text.
TEMPLATE_TOKENS = (
    "<|im_start|>", "<|im_end|>", "<|endoftext|>",  # ChatML (Qwen, Yi, Hermes...)
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>",  # Llama 3
    "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<s>", "</s>",  # Llama 2, Mistral
    "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",  # Mistral (tekken)
    "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>",  # Gemma
    "<|user|>", "<|assistant|>", "<|system|>", "<|end|>",  # Phi, Zephyr
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",  # DeepSeek
    "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>",  # Command R
    "### Instruction:", "### Response:",  # Alpaca-style base models
)  # fmt: skip
_TEMPLATE = re.compile("|".join(re.escape(token) for token in TEMPLATE_TOKENS) + r"|<\|[A-Za-z_]{2,40}\|>")
# How far back a token, fence or passage header begun in an earlier piece may start.
_LOOKBACK = 320
# What a template token or a fence opens with, so that its first characters are held back.
_OPENINGS = (*TEMPLATE_TOKENS, "<|", "<passage", "</passage", "<question", "</question")
_LONGEST_OPENING = max(len(opening) for opening in _OPENINGS)
_WORD = re.compile(r"\w+")
_MARKER = re.compile(r"\[[^\[\]\n]{1,24}\]|【[^】\n]{1,24}】")
_SENTENCE_END = re.compile(r"[.!?…\n]")


@dataclass(frozen=True)
class Degeneration:
    """What went wrong (``template``, ``echo``, ``repetition``), in a few words, and where it starts."""

    kind: str
    detail: str
    start: int


def words_of(text: str) -> list[tuple[str, int, int]]:
    """(comparison key, start, end) of each word of ``text``, citation markers left out."""
    masked = _MARKER.sub(lambda marker: " " * len(marker.group()), text)
    return [(normalise(match.group()), match.start(), match.end()) for match in _WORD.finditer(masked)]


class DegenerationDetector:
    """Fed the answer as it streams; says when it degenerates, and how much of it is safe to show."""

    def __init__(self, instruction_lines: list[str], question: str) -> None:
        self._echo: set[tuple[str, ...]] = set()
        for line in instruction_lines:
            keys = tuple(key for key, _, _ in words_of(line))
            if len(keys) >= ECHO_RUN:
                self._echo.update(keys[i : i + ECHO_RUN] for i in range(len(keys) - ECHO_RUN + 1))
            elif len(keys) >= SHORTEST_ECHO:
                self._echo.add(keys)
        self._echo_lengths = sorted({len(gram) for gram in self._echo})
        question_keys = tuple(key for key, _, _ in words_of(question))
        self._question = question_keys if len(question_keys) >= SHORTEST_ECHO else None
        # Words that may be the start of an echo are held back until the echo is ruled out.
        self._openings = {
            words[:length]
            for words in (*self._echo, *([question_keys] if self._question else []))
            for length in range(1, len(words))
        }
        self._longest_opening = max((len(opening) for opening in self._openings), default=0)
        self.text = ""
        self._keys: list[str] = []
        self._starts: list[int] = []
        self._last_end = 0
        self._scanned = 0  # words before this offset are read
        self._searched = 0  # template tokens and fences before this offset are looked for
        self._sentence_from = 0  # index of the first word of the sentence being written
        self._sentences: Counter[tuple[str, ...]] = Counter()
        # The beginnings of sentences written twice: a third copy is held back while it is written.
        self._third_copies: set[tuple[str, ...]] = set()

    def feed(self, piece: str) -> Degeneration | None:
        """Add ``piece``; the first sign of degeneration in the text so far, or None."""
        self.text += piece
        return self._search(final=False)

    def finish(self) -> Degeneration | None:
        """The stream ended: read its last word and sentence too."""
        return self._search(final=True)

    def safe_length(self) -> int:
        """How much of the text may be shown: what no echo or template token found later can start in.

        Held back: the last words when they could open an echo (they begin an
        instruction run or the question), a sentence that begins as one already
        written twice, a word still being written, and a tail that could open a
        template token or a fence.
        """
        count = len(self._keys)
        safe = self._scanned
        for length in range(min(count, self._longest_opening), 0, -1):
            if tuple(self._keys[count - length :]) in self._openings:
                safe = self._starts[count - length]
                break
        if count > self._sentence_from and tuple(self._keys[self._sentence_from :]) in self._third_copies:
            safe = min(safe, self._starts[self._sentence_from])
        tail_start = max(0, len(self.text) - _LONGEST_OPENING)
        for offset in range(tail_start, len(self.text)):
            tail = self.text[offset:]
            if any(opening.startswith(tail) for opening in _OPENINGS):
                return min(safe, offset)
        return safe

    def _search(self, final: bool) -> Degeneration | None:
        # A token or fence may have begun in the previous piece.
        begin = max(0, self._searched - _LOOKBACK)
        template = _TEMPLATE.search(self.text, begin)
        fence = FENCES.search(self.text, begin)
        self._searched = len(self.text)
        found = [d for d in (self._template(template), self._fence(fence)) if d]
        if found:
            return min(found, key=lambda d: d.start)
        return self._read_words(final)

    def _template(self, match: re.Match[str] | None) -> Degeneration | None:
        return Degeneration("template", match.group(), match.start()) if match else None

    def _fence(self, match: re.Match[str] | None) -> Degeneration | None:
        return Degeneration("echo", "the passages' fences", match.start()) if match else None

    def _read_words(self, final: bool) -> Degeneration | None:
        # The last word may still be growing, unless the stream ended.
        end = len(self.text) if final else self._last_word_boundary()
        if end > self._scanned:
            for key, start, stop in words_of(self.text[self._scanned : end]):
                found = self._add_word(key, self._scanned + start, self._scanned + stop)
                if found:
                    return found
            self._scanned = end
        return self._close_sentence(len(self._keys)) if final else None

    def _last_word_boundary(self) -> int:
        """Where the text read so far may end: not inside a word or a marker still being written."""
        text, position = self.text, len(self.text)
        while position > self._scanned and (text[position - 1].isalnum() or text[position - 1] == "_"):
            position -= 1
        recent = text[max(self._scanned, position - 24) : position]
        for opening, closing in (("[", "]"), ("【", "】")):
            if recent.rfind(opening) > recent.rfind(closing):
                position = min(position, position - len(recent) + recent.rfind(opening))
        return position

    def _add_word(self, key: str, start: int, end: int) -> Degeneration | None:
        # Punctuation or a line break between two words ends a sentence; a marker does not.
        if self._keys and _SENTENCE_END.search(_MARKER.sub(" ", self.text[self._last_end : start])):
            found = self._close_sentence(len(self._keys))
            if found:
                return found
        self._keys.append(key)
        self._starts.append(start)
        self._last_end = end
        return self._echoed() or self._looping()

    def _close_sentence(self, end: int) -> Degeneration | None:
        sentence = tuple(self._keys[self._sentence_from : end])
        self._sentence_from = end
        if len(sentence) < SHORTEST_SENTENCE:
            return None
        self._sentences[sentence] += 1
        if self._sentences[sentence] == SENTENCE_TIMES - 1:
            self._third_copies.update(sentence[:length] for length in range(1, len(sentence) + 1))
        if self._sentences[sentence] >= SENTENCE_TIMES:
            return Degeneration("repetition", "the same sentence again and again", self._starts[end - len(sentence)])
        return None

    def _echoed(self) -> Degeneration | None:
        count = len(self._keys)
        for length in self._echo_lengths:
            if count >= length and tuple(self._keys[count - length :]) in self._echo:
                return Degeneration("echo", "the prompt's instructions", self._starts[count - length])
        question = self._question
        if question and count >= len(question) and tuple(self._keys[count - len(question) :]) == question:
            return Degeneration("echo", "the question", self._starts[count - len(question)])
        return None

    def _looping(self) -> Degeneration | None:
        window = self._keys[-WINDOW:]
        if len(window) < LEAST_WORDS_FOR_LOOP:
            return None
        grams = [tuple(window[i : i + GRAM]) for i in range(len(window) - GRAM + 1)]
        if 1 - len(set(grams)) / len(grams) > LOOP_SHARE:
            return Degeneration("repetition", "the same words in a loop", self._starts[-len(window)])
        return None
