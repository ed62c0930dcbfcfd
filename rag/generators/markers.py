"""Reading the citation markers out of an LLM's answer, the same way for every LLM backend.

An answer is split into sentences and each sentence keeps the passage numbers
it cites. LLMs write markers in many shapes (``[1]``, ``[1, 3]``, ``[1-3]``,
``[^1]``, ``【1】``, ``[Source 1]``...), before or after the final period, so
the parser is lenient about shape but strict about place: a marker belongs to
the sentence it ends. ``(1)`` is deliberately not a marker: it is too common in
ordinary prose (enumerations, footnotes of the documents themselves).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rag.text.remote_content import strip_remote_content
from rag.text.sentences import is_abbreviation
from rag.types import Claim

_LABEL = r"(?:sources?|passages?|documents?|docs?|refs?|r[ée]f[ée]rences?|references?|extraits?)\s*:?\s*(?:n°\s*|#\s*)?"
# Up to three digits: a bracketed year such as [2023] is prose, not a marker.
_ITEM = rf"(?:{_LABEL})?#?\d{{1,3}}(?:\s*[-–]\s*\d{{1,3}})?"
_SEPARATOR = r"\s*(?:[,;&]|\bet\b|\band\b)\s*"
_MARKER = re.compile(
    rf"(?:\[\s*\^?\s*|【\s*)({_ITEM}(?:{_SEPARATOR}{_ITEM})*)\s*(?:\]|】)",
    re.IGNORECASE,
)
# Removing a marker also removes the space before it, so "fact [1]." reads "fact.".
_MARKER_WITH_SPACE = re.compile(rf"[ \t\u00a0]*{_MARKER.pattern}", re.IGNORECASE)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-–]\s*(\d+))?")
_MARKERS_AFTER = re.compile(rf"(?:[ \t\u00a0]*{_MARKER.pattern})+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]{2,}")
# Wider ranges are a model's mistake, not a citation; keep only their ends.
_MAX_RANGE = 20

# Sentence ends: a run of terminal punctuation with any closing quotes, or a line break
# (list items and paragraphs end a sentence even without a period).
_BREAK = re.compile(r"[.!?…。！？]+[\"'”’»)]*|\n")


def parse_answer(text: str, passages: int | None = None) -> list[Claim]:
    """Split an LLM's answer into sentences, each with the passage numbers it cites.

    Given how many ``passages`` the model was shown, a number outside them ("[9]"
    over five) is dropped: it points at nothing, and the sentence is then verified
    as uncited.
    """
    sentences: list[Claim] = []
    for piece in _split_sentences(strip_remote_content(text)):
        numbers = marker_numbers(piece)
        if passages is not None:
            numbers = tuple(n for n in numbers if 1 <= n <= passages)
        clean = _SPACES.sub(" ", _MARKER_WITH_SPACE.sub("", piece)).strip()
        if clean:
            sentences.append(Claim(clean, numbers))
        elif numbers and sentences:
            # A line holding only markers cites the sentence before it.
            previous = sentences[-1]
            sentences[-1] = Claim(previous.text, _unique(previous.passages + numbers))
    return sentences


def marker_numbers(text: str) -> tuple[int, ...]:
    """Every number cited in ``text``, in order of first appearance, ranges expanded."""
    found: list[int] = []
    for marker in _MARKER.finditer(text):
        for item in _NUMBER_OR_RANGE.finditer(marker.group(1)):
            low = int(item.group(1))
            high = int(item.group(2)) if item.group(2) else low
            if low <= high <= low + _MAX_RANGE:
                found.extend(range(low, high + 1))
            else:
                found.extend((low, high))
    return _unique(found)


def _split_sentences(text: str) -> list[str]:
    markers = [(m.start(), m.end()) for m in _MARKER.finditer(text)]
    pieces: list[str] = []
    start = position = 0
    while (found := _BREAK.search(text, position)) is not None:
        inside = next((end for begin, end in markers if begin <= found.start() < end), None)
        if inside is not None:
            position = inside
            continue
        if found.group() == "\n":
            pieces.append(text[start : found.start()])
            start = position = found.end()
            continue
        trailing = _MARKERS_AFTER.match(text, found.end())
        end = trailing.end() if trailing else found.end()
        followed_by_space = end == len(text) or text[end].isspace()
        # Markers right after the punctuation settle it: the sentence ended.
        if not followed_by_space or (trailing is None and _is_false_stop(text, start, found.start(), found.group())):
            position = found.end()
            continue
        pieces.append(text[start:end])
        start = position = end
    pieces.append(text[start:])
    return pieces


def _is_false_stop(text: str, start: int, stop: int, punctuation: str) -> bool:
    """True when a period ends an abbreviation, an initial or a list number."""
    if punctuation != ".":
        return False
    before = text[start:stop]
    words = before.split()
    if not words:
        return False
    word = words[-1].lstrip("(\"'«“‘")
    if is_abbreviation(word):
        return True
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True
    # "1. First item" opens a numbered list; "in 2023. Then" ends a sentence.
    line = before[before.rfind("\n") + 1 :]
    return word.isdigit() and line.strip() == word


def _unique(numbers: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(numbers))
