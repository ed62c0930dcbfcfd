"""Offline answers without an LLM: the sentences of the passages that best answer.

Each sentence of the retrieved passages is scored by how much of the question
it covers (terms weighted by their rarity among the candidate sentences), by
whether it holds the kind of fact the question asks for (a number for
"combien"/"how many", a year for "quand"/"when", a name for "qui"/"who"),
and by its passage's rank. The best sentence is the answer, with a second one
only when it is nearly as good and adds something; each is cited.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.ingest.chunk import sentence_spans
from rag.retrieval.analysis import analyze, cognate
from rag.types import Hit

_NUMBER_WORDS = re.compile(
    r"\b(deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|trente|quarante|cinquante|soixante|"
    r"cent|cents|mille|million|millions|milliard|milliards|two|three|four|five|six|seven|eight|nine|ten|"
    r"twelve|twenty|thirty|hundred|thousand|million|billion|dozen|douzaine|dizaine|centaine)s?\b",
    re.IGNORECASE,
)
_YEAR = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|january|february|march|april|june|july|august|september|"
    r"october|november|december)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w’'-]+")

# What kind of fact a question asks for, from its interrogative words.
_ASKS = (
    (
        "number",
        re.compile(
            r"\b(combien|quel(le)?s? (est|sont|était|étaient|a été) (le|la|les) (nombre|montant|taux|pourcentage|"
            r"prix|population|chiffre)|quel(le)?s? (nombre|montant|taux|pourcentage|chiffre|somme|part|proportion)|"
            r"how (many|much|long)|what (percentage|number|amount|share))\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\b(quand|(en|depuis|de|à) quelle (année|date|époque)|when|(in |since )?(what|which) (year|date)(?!-))\b",
            re.I,
        ),
    ),
    ("name", re.compile(r"\b(qui|who|whom|whose|quel(le)? (entreprise|société|pays|ville|personne))\b", re.I)),
)
# Weights measured on 500 PIAF dev questions (answer contains the gold answer:
# 0.53 -> 0.55); each moves the result by a point or two at most.
TYPE_BONUS = 0.1
CONTEXT_WEIGHT = 0.8
RANK_WEIGHT = 0.3
SECOND_SENTENCE = 0.9  # share of the best score a second sentence needs


@dataclass(frozen=True)
class Candidate:
    passage: int  # 1-based number of the passage
    position: int  # index of the sentence inside its passage
    text: str
    score: float
    terms: frozenset[str]
    has_type: bool = False


def expected_type(question: str) -> str | None:
    return next((kind for kind, pattern in _ASKS if pattern.search(question)), None)


def _has_type(kind: str | None, sentence: str, question: str) -> bool:
    if kind == "number":
        asked = set(re.findall(r"\d+", question))
        return any(n not in asked for n in re.findall(r"\d+", sentence)) or bool(_NUMBER_WORDS.search(sentence))
    if kind == "date":
        return bool(_YEAR.search(sentence))
    if kind == "name":
        lowered = question.lower()
        return any(name.lower() not in lowered for name in _NAME.findall(sentence))
    return False


def rank_sentences(question: str, passages: list[Hit], languages: list[str]) -> list[Candidate]:
    # Across languages exact terms rarely meet; shared Latin roots do (see ``cognate``).
    key = cognate if any(hit.language != languages[0] for hit in passages) else str
    question_terms = {key(t) for lang in languages for t in analyze(question, lang)}
    kind = expected_type(question)
    raw: list[tuple[int, int, str, frozenset[str]]] = []
    for number, hit in enumerate(passages, 1):
        text = hit.chunk.text
        for position, (start, end) in enumerate(sentence_spans(text)):
            sentence = text[start:end]
            terms = frozenset(key(t) for lang in languages for t in analyze(sentence, lang))
            raw.append((number, position, sentence, terms))
    if not raw or not question_terms:
        return []
    # Rarer question terms decide more: "Alibaba" over "laboratoire".
    idf = {t: math.log(1 + len(raw) / (1 + sum(t in terms for *_, terms in raw))) for t in question_terms}
    total = sum(idf.values()) or 1.0
    candidates = []
    previous: frozenset[str] = frozenset()
    for number, position, sentence, terms in raw:
        if position == 0:
            previous = frozenset()

        def cover(words: frozenset[str]) -> float:
            return sum(idf[t] for t in question_terms & words) / total

        # "Environ 30 personnes travaillaient dans ce laboratoire": the subject
        # was named one sentence earlier, so that sentence's words count too, a little less.
        own, in_context = cover(terms), CONTEXT_WEIGHT * cover(terms | previous)
        coverage = max(own, in_context)
        matched = question_terms & (terms | previous if in_context > own else terms)
        has_type = _has_type(kind, sentence, question)
        score = coverage + TYPE_BONUS * has_type * (coverage > 0)
        score += RANK_WEIGHT * (1 - (number - 1) / max(len(passages), 1))
        candidates.append(Candidate(number, position, sentence, score, frozenset(matched), has_type))
        previous = terms
    return sorted(candidates, key=lambda c: -c.score)


def select(candidates: list[Candidate], kind: str | None = None) -> list[Candidate]:
    """The best sentence, completed by the next one when only that one holds the fact asked for.

    "Quel chiffre d'affaires ... ?" matches the sentence naming the revenue,
    while the figure itself often opens the following sentence.
    """
    if not candidates or not candidates[0].terms:
        return []
    best = candidates[0]
    chosen = [best]
    following = next((c for c in candidates if c.passage == best.passage and c.position == best.position + 1), None)
    if kind and not best.has_type and following and following.has_type:
        return [best, following]
    for other in candidates[1:3]:
        if other.score >= SECOND_SENTENCE * best.score and other.terms - best.terms and other.text != best.text:
            chosen.append(other)
            break
    return (
        sorted(chosen, key=lambda c: (c.passage, c.position))
        if len(chosen) > 1 and chosen[0].passage == chosen[1].passage
        else chosen
    )


class ExtractiveGenerator:
    name = "extractive"

    def generate(self, question: str, passages: list[Hit], language: str) -> Iterator[str]:
        languages = list(dict.fromkeys([language, *(hit.language for hit in passages if hit.language != "und")]))
        for candidate in select(rank_sentences(question, passages, languages), expected_type(question)):
            yield f"{candidate.text} [{candidate.passage}] "

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        return None  # the built-in heuristic (rag.conversation) handles follow-ups
