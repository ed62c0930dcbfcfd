"""Cut a Document into passages that fit the embedder's window.

Sentences are the unit: a chunk is a run of whole sentences, so a citation
never starts mid-sentence. Boilerplate spans and PDF page breaks are walls no
chunk crosses; paragraph ends are where a chunk prefers to stop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.text.sentences import sentences
from rag.types import Chunk, Document

CountTokens = Callable[[str], int]

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Unit:
    """A sentence, or a piece of one too long to fit a chunk alone."""

    start: int
    end: int
    tokens: int
    ends_paragraph: bool


def chunk_document(doc: Document, count_tokens: CountTokens, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """Chunks of ``doc`` with ``doc.text[c.start:c.end] == c.text`` and at most ``max_tokens`` each."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    chunks: list[Chunk] = []
    for start, end in _regions(doc):
        units = list(_units(doc.text, start, end, count_tokens, max_tokens))
        for first, last in _pack(doc.text, units, count_tokens, max_tokens, overlap_tokens):
            begin, finish = units[first].start, units[last].end
            chunks.append(Chunk(doc.id, begin, finish, doc.text[begin:finish], doc.page_at(begin)))
    return chunks


def _regions(doc: Document) -> list[tuple[int, int]]:
    """Stretches of text between walls: excluded spans and page starts."""
    walls = sorted([*doc.excluded, *((page, page) for page in doc.pages)])
    regions: list[tuple[int, int]] = []
    position = 0
    for wall_start, wall_end in walls:
        if wall_start > position:
            regions.append((position, wall_start))
        position = max(position, wall_end)
    regions.append((position, len(doc.text)))
    return [(start, end) for start, end in regions if doc.text[start:end].strip()]


def _units(text: str, start: int, end: int, count: CountTokens, max_tokens: int) -> Iterator[_Unit]:
    for sentence_start, sentence_end, ends_paragraph in sentences(text, start, end):
        tokens = count(text[sentence_start:sentence_end])
        if tokens <= max_tokens:
            yield _Unit(sentence_start, sentence_end, tokens, ends_paragraph)
            continue
        pieces = _split_long(text, sentence_start, sentence_end, count, max_tokens)
        for index, (piece_start, piece_end, piece_tokens) in enumerate(pieces):
            last = index == len(pieces) - 1
            yield _Unit(piece_start, piece_end, piece_tokens, ends_paragraph and last)


def _split_long(text: str, start: int, end: int, count: CountTokens, max_tokens: int) -> list[tuple[int, int, int]]:
    """Cut an over-long sentence at word boundaries into ``(start, end, tokens)`` pieces that fit."""
    pieces: list[tuple[int, int, int]] = []
    words = [(m.start(), m.end(), count(m.group())) for m in _WORD.finditer(text, start, end)]
    index = 0
    while index < len(words):
        # Sum word counts to find the cut, then measure the piece once to be sure.
        stop, total = index, 0
        while stop < len(words) and total + words[stop][2] <= max_tokens:
            total += words[stop][2]
            stop += 1
        if stop == index:  # a single "word" beyond the budget (a URL, base64...)
            pieces.extend(_split_chars(text, words[index][0], words[index][1], count, max_tokens))
            index += 1
            continue
        while stop - index > 1 and count(text[words[index][0] : words[stop - 1][1]]) > max_tokens:
            stop -= 1
        piece_start, piece_end = words[index][0], words[stop - 1][1]
        tokens = count(text[piece_start:piece_end])
        if tokens > max_tokens:
            pieces.extend(_split_chars(text, piece_start, piece_end, count, max_tokens))
        else:
            pieces.append((piece_start, piece_end, tokens))
        index = stop
    return pieces


def _split_chars(text: str, start: int, end: int, count: CountTokens, max_tokens: int) -> list[tuple[int, int, int]]:
    """Last resort for text without spaces: the longest prefix that fits, by bisection."""
    pieces: list[tuple[int, int, int]] = []
    while start < end:
        low, high = start + 1, end
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[start:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        pieces.append((start, low, count(text[start:low])))
        start = low
    return pieces


def _pack(
    text: str, units: list[_Unit], count: CountTokens, max_tokens: int, overlap_tokens: int
) -> Iterator[tuple[int, int]]:
    """``(first, last)`` unit indices of each chunk, greedily filled."""
    first = 0
    while first < len(units):
        stop, total = first, 0
        while stop < len(units) and total + units[stop].tokens <= max_tokens:
            total += units[stop].tokens
            stop += 1
        stop = max(stop, first + 1)
        if stop < len(units):
            stop = _paragraph_stop(units, first, stop, max_tokens)
        # Sums approximate the count of the joined text; measure once to be sure.
        while stop - first > 1 and count(text[units[first].start : units[stop - 1].end]) > max_tokens:
            stop -= 1
        yield first, stop - 1
        if stop >= len(units):
            return
        first = _overlap_start(units, first, stop, max_tokens, overlap_tokens)


def _paragraph_stop(units: list[_Unit], first: int, stop: int, max_tokens: int) -> int:
    """The last paragraph end in ``units[first:stop]`` past half the budget, else ``stop``."""
    running = [0]
    for unit in units[first:stop]:
        running.append(running[-1] + unit.tokens)
    for candidate in range(stop, first, -1):
        if running[candidate - first] * 2 < max_tokens:
            break
        if units[candidate - 1].ends_paragraph:
            return candidate
    return stop


def _overlap_start(units: list[_Unit], first: int, stop: int, max_tokens: int, overlap_tokens: int) -> int:
    """Where the next chunk starts: the last sentences of this one, within the overlap budget.

    The carried sentences must leave room for the next new one, or the next
    chunk would repeat this one's tail and add nothing.
    """
    start, carried = stop, 0
    room = max_tokens - units[stop].tokens
    while start - 1 > first and carried + units[start - 1].tokens <= min(overlap_tokens, room):
        start -= 1
        carried += units[start].tokens
    return start
