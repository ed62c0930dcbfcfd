"""Resolve a follow-up question against the chat history before retrieval.

With an LLM the generator rewrites the question. Without one, this heuristic:
a question leans on the previous turn when it opens with "et"/"and", or when
it refers to something it does not name (a pronoun such as "y", "il", "it",
"they", or at most one content word) and names nothing of its own (no
capitalised name, no word rare in the language). It then gets the content words of the
previous question that it lacks appended. "Et combien de personnes y
travaillaient ?" after "Quel laboratoire Alibaba a-t-il fermé ?" becomes
"Et combien de personnes y travaillaient ? laboratoire Alibaba fermé", while
"Qui dirige Alibaba ?" stands on its own whatever was asked before: carrying
the last topic into a question that names its own would answer the wrong one.
"""

from __future__ import annotations

import re

from rag.text.analysis import analyze
from rag.text.salience import zipf

_OPENS_ON_PREVIOUS = re.compile(r"^\s*(et|mais|and|but|so|also|what about)\b", re.IGNORECASE)
# Possessives ("its", "son") and "this"/"that" mostly point inside the question
# itself ("Why is Amazon closing its lab?", "the firm that ..."), as does "ce" in
# "ce que"/"ce qui"; a hyphen-joined pronoun is inversion ("a-t-il"), not a reference.
_REFERS = re.compile(
    r"(?<![-'’])\b(y|il|elle|ils|elles|celui|celle|ceux|cette|ces|lui|it|they|them|he|she|him|those|these|there)\b"
    r"|(?<![-'’])\bce\s+(?!qu|dont)\w",
    re.IGNORECASE,
)
# A capitalised word after the first one: "Alibaba", "France", "WAIC".
_NAME = re.compile(r"(?<=\s)[A-ZÀ-Þ][\w’'-]*")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
MIN_CONTENT_WORDS = 2
#: Below this zipf frequency a word is a name typed in lower case ("alibaba") or a
#: rare term; inflected everyday words ("travaillaient": 3.6) stay above.
RARE_ZIPF = 3.0


def names_its_topic(question: str, language: str) -> bool:
    """Whether the question names something itself: a capitalised name or a rare word."""
    words = [w for w in _WORD.findall(question) if len(w) > 2 and not w.isdigit()]
    return bool(_NAME.search(question)) or any(zipf(w.lower(), language) < RARE_ZIPF for w in words)


def needs_context(question: str, language: str) -> bool:
    if _OPENS_ON_PREVIOUS.search(question):
        return True
    incomplete = bool(_REFERS.search(question)) or len(analyze(question, language)) < MIN_CONTENT_WORDS
    return incomplete and not names_its_topic(question, language)


def rewrite_followup(question: str, history: list[tuple[str, str]], language: str) -> str | None:
    """The question made standalone, or None when it stands on its own."""
    if not history or not needs_context(question, language):
        return None
    previous = history[-1][0]
    have = set(analyze(question, language))
    carried = []
    for word in _WORD.findall(previous):
        terms = analyze(word, language)
        if terms and not set(terms) & have:
            carried.append(word)
            have.update(terms)
    return f"{question.strip()} {' '.join(carried)}" if carried else None
