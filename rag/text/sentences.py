"""The sentence splitter of documents (chunking, sentence choice, verification), and the abbreviation rule.

A period ends a sentence unless it ends an abbreviation or an initial; a
line break ends a paragraph. Offsets always point into the text given. The
parser of an LLM's citation markers (``rag.generators.markers``) splits on
its own terms (a marker settles where a sentence ends) but asks
``is_abbreviation`` the same question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Terminal punctuation, then closing quotes or brackets (French puts a space
# before »), then the whitespace that separates it from the next sentence.
_SENTENCE_END = re.compile(r"[.!?…]+(?:[ \u00a0\u202f]?[»”\"’')\]])*(?P<gap>\s+)")
_OPENERS = frozenset("«“\"‘'([—–-¿¡")
# Words that end with a period without ending the sentence, in French and English.
ABBREVIATIONS = frozenset(
    {
        "m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "drs", "pr", "me", "mr", "mrs", "ms", "st", "ste",
        "sts", "mgr", "jr", "sr", "prof", "gén", "gen", "col", "lt", "sgt", "cpt", "no", "nº", "vol", "p", "pp",
        "cf", "fig", "ex", "env", "av", "apr", "approx", "ca", "inc", "ltd", "co", "corp", "vs", "art", "chap",
        "éd", "ed",
    }
)  # fmt: skip
# Dotted abbreviations such as U.S, e.g, i.e, J.-C (the final dot is the match).
_DOTTED = re.compile(r"(?:\w{1,2}\.-?)+\w{1,2}")


# Abbreviations that are also words ("no", "me", "art"...): written in lower case, they end a sentence
# ("The council voted no."), capitalised they do not ("No. 5", "Me Dupont").
_ALSO_WORDS = frozenset({"m", "me", "no", "co", "ex", "art", "ed", "col", "lt", "ca", "p"})


def is_abbreviation(word: str) -> bool:
    """Whether a period after ``word`` leaves the sentence open ("M.", "Dr.", "J.-C.", "U.S.")."""
    lowered = word.lower()
    if lowered in _ALSO_WORDS and word == lowered:
        return False
    return lowered in ABBREVIATIONS or bool(_DOTTED.fullmatch(word))


def sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    """``(start, end, ends_paragraph)`` of each sentence, whitespace trimmed.

    A sentence followed by a line break counts as a paragraph end: scraped
    text often has one paragraph per line and no blank lines.
    """
    position = start
    for brk in [*_PARAGRAPH_BREAK.finditer(text, start, end), None]:
        paragraph_end = brk.start() if brk else end
        sentence_start = position
        for match in _SENTENCE_END.finditer(text, position, paragraph_end):
            if _is_boundary(text, match, paragraph_end):
                yield from _trimmed(text, sentence_start, match.start("gap"), "\n" in match.group("gap"))
                sentence_start = match.end()
        yield from _trimmed(text, sentence_start, paragraph_end, True)
        position = brk.end() if brk else end


def _is_boundary(text: str, match: re.Match[str], limit: int) -> bool:
    following = match.end()
    if following >= limit:
        return False  # the paragraph's end closes this sentence anyway
    next_char = text[following]
    if not (next_char.isupper() or next_char.isdigit() or next_char in _OPENERS):
        return False
    if text[match.start()] != "." or match.group().startswith(".."):
        return True
    word = text[max(0, match.start() - 30) : match.start()].split()
    last_word = word[-1].lstrip("«“\"‘'([") if word else ""
    if len(last_word) == 1 and last_word.isalpha():
        return False  # an initial: "J. Dupont", "M. Wang"
    return not is_abbreviation(last_word)


def _trimmed(text: str, start: int, end: int, ends_paragraph: bool) -> Iterator[tuple[int, int, bool]]:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        begin = start + len(piece) - len(piece.lstrip())
        yield begin, begin + len(stripped), ends_paragraph


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text[start:end]``, offsets into ``text``."""
    return [(s, e) for s, e, _ in sentences(text, start, len(text) if end is None else end)]
