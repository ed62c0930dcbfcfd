"""Our own analysed terms, sent to Milvus's BM25 as text its tokenizer leaves whole.

Milvus BM25 tokenizes the text it is given, and Milvus Lite offers only the
"standard" and "jieba" tokenizers: "standard" splits "2,5", "covid-19" and the
word-boundary marks of character grams ("#lab"). Each of our terms is written
as the hexadecimal of its UTF-8 bytes, one alphanumeric word that the
tokenizer keeps as it is, so Milvus scores exactly the terms our French and
English analysis produced (``rag.text.analysis``), and the lexical ranking is
the file store's.
"""

from __future__ import annotations

from collections.abc import Iterable

#: A VARCHAR holds at most 65,535 bytes; a chunk's terms are far below it, a long document's may not be.
MAX_TERMS_BYTES = 65_000


def encode(terms: Iterable[str], limit: int = MAX_TERMS_BYTES) -> str:
    """The terms as space-separated hexadecimal words, cut at a whole term before ``limit`` bytes."""
    words: list[str] = []
    size = 0
    for term in terms:
        word = term.encode("utf-8").hex()
        size += len(word) + 1
        if size > limit:
            break
        words.append(word)
    return " ".join(words)


def decode(text: str) -> tuple[str, ...]:
    return tuple(bytes.fromhex(word).decode("utf-8") for word in text.split())


def match(term: str) -> str:
    """A ``TEXT_MATCH`` filter argument for one term (hexadecimal needs no quoting)."""
    return term.encode("utf-8").hex()
