"""Resolve a follow-up question against the chat history before retrieval.

With an LLM the generator rewrites the question. Without one, this heuristic:
a question that leans on the previous turn (it opens with "et"/"and", uses a
pronoun such as "y", "il", "it", "they", or has fewer than three content
words) gets the content words of the previous question that it lacks
appended. "Et combien de personnes y travaillaient ?" after "Quel laboratoire
Alibaba a-t-il fermé ?" becomes "Et combien de personnes y travaillaient ?
laboratoire Alibaba fermé".
"""

from __future__ import annotations

import re

from rag.retrieval.analysis import analyze

_LEANING = re.compile(
    # A hyphen-joined pronoun is inversion ("a-t-il", "est-elle"), not a reference.
    r"^\s*(et|mais|and|but|so|also)\b|(?<!-)\b(y|il|elle|ils|elles|celui|celle|ceux|ce|cette|ces|leur|leurs|lui|"
    r"it|its|they|them|their|he|she|his|her|this|that|those|these|there)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
MIN_CONTENT_WORDS = 3


def needs_context(question: str, language: str) -> bool:
    return bool(_LEANING.search(question)) or len(analyze(question, language)) < MIN_CONTENT_WORDS


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
