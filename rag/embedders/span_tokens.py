"""A text's tokens with the token range of each of its spans (sentences), for pooling them from one pass.

SentencePiece (as XLM-R uses it) splits text into words at spaces before it
segments each word, so the pieces of a text cut at the spaces between its
sentences, tokenized one by one, are the text's own tokens: each sentence's
tokens are then a known range. Only a sentence boundary inside a word
("Pyrénées.Alors") tokenizes that word in two, which moves the passage's
vector by a hair (a cosine above 0.999, tested).
"""

from __future__ import annotations

from collections.abc import Callable

from rag.types import Spans

#: Token ids of each text of a list, without ``<s>`` and ``</s>``.
Tokenize = Callable[[list[str]], list[list[int]]]


def pieces(text: str, spans: Spans) -> list[tuple[str, int | None]]:
    """The text cut at its spans: ``(piece, number of its span or None)``; whitespace between them is dropped."""
    cut: list[tuple[str, int | None]] = []
    cursor = 0
    for number, (start, end) in enumerate(spans):
        start, end = max(start, cursor), max(end, cursor)
        if text[cursor:start].strip():
            cut.append((text[cursor:start].strip(), None))
        if text[start:end].strip():
            cut.append((text[start:end].strip(), number))
        cursor = end
    if text[cursor:].strip():
        cut.append((text[cursor:].strip(), None))
    return cut


def tokens_with_spans(tokenize: Tokenize, texts: list[str], spans: list[Spans]) -> list[tuple[list[int], Spans]]:
    """For each text, its token ids and each span's ``[first, last)`` token range (empty if it has no tokens)."""
    cut = [pieces(text, text_spans) for text, text_spans in zip(texts, spans, strict=True)]
    ids = iter(tokenize([piece for text_pieces in cut for piece, _ in text_pieces]))
    found: list[tuple[list[int], Spans]] = []
    for text_pieces, text_spans in zip(cut, spans, strict=True):
        tokens: list[int] = []
        ranges = [(0, 0)] * len(text_spans)
        for _, number in text_pieces:
            piece = next(ids)
            if number is not None:
                ranges[number] = (len(tokens), len(tokens) + len(piece))
            tokens += piece
        found.append((tokens, ranges))
    return found
