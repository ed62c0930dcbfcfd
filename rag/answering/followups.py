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

from rag.text.analysis import analyze, cognate, is_stop_word
from rag.text.language import detect_language
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
# The answer's first sentence or two hold its topic; the rest would pull the search away.
MAX_ANSWER_WORDS = 40
_MARKERS = re.compile(r"\[[^\]]*\]")
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
    """The question made standalone, or None when it stands on its own.

    It borrows the previous question's content words, read in that question's
    own language (its "how many" is no topic). When the previous turn was asked
    in another language than its answer's, the topic is also carried in the
    documents' words: the answer's words that share a root with the previous
    question's ("quantique" for "quantum", "laboratoire" for "lab").
    """
    if not history or not needs_context(question, language):
        return None
    previous, answer = history[-1]
    asked_in = detect_language(previous, default=language)
    have = set(analyze(question, language))
    carried: list[str] = []

    def carry(word: str, word_language: str) -> None:
        terms = [t for t in analyze(word, word_language) if not is_stop_word(t, language)]
        if terms and not set(terms) & have:
            carried.append(word)
            have.update(terms)

    for word in _WORD.findall(previous):
        carry(word, asked_in)
    quoted = " ".join(_MARKERS.sub(" ", answer).split()[:MAX_ANSWER_WORDS])
    answered_in = detect_language(quoted, default=asked_in)
    if answered_in != asked_in:
        roots = {cognate(t) for t in analyze(previous, asked_in)}
        for word in _WORD.findall(quoted):
            if any(cognate(t) in roots for t in analyze(word, answered_in)):
                carry(word, answered_in)
    return f"{question.strip()} {' '.join(carried)}" if carried else None
