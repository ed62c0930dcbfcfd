"""Offline answers without an LLM: the sentences of the passages that best answer.

Each sentence of the retrieved passages is scored by how much of the question
it covers (terms weighted by their rarity among the candidate sentences, and,
as in retrieval, half by stemmed words and half by 4-letter word pieces, so
"labo" meets "laboratoire"), by whether it holds the kind of fact the
question asks for (a number for "combien"/"how many", a time span for
"combien de temps"/"how long", a year for "quand"/"when", a name for
"qui"/"who"), and by its passage's rank. The best sentence is the answer,
with a second one only when it is nearly as good and adds something; each is
cited. When the best sentence lacks the fact and the next (or previous) one
holds it, that one leads and the best follows as its context.

A question asking how many or how much is answered only by a sentence that
states a quantity: when the best one states none, the documents do not hold
the figure ("Combien vaut l'action Nvidia ?" over articles that name Nvidia
but never its share price), and the answer abstains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.text.analysis import CHAR_SHARE, analyze, char_grams, cognate
from rag.text.sentences import sentence_spans
from rag.types import Claim, Hit

_COUNTS = (
    r"deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|trente|quarante|cinquante|soixante|"
    r"cent|cents|mille|million|millions|milliard|milliards|two|three|four|five|six|seven|eight|nine|ten|"
    r"twelve|twenty|thirty|hundred|thousand|million|billion|dozen|douzaine|dizaine|centaine"
)
_NUMBER_WORDS = re.compile(
    rf"\b({_COUNTS}|aucun|aucune|none|zero|zéro|moitié|half|quart|quarter|tiers)s?\b", re.IGNORECASE
)
_YEAR = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|january|february|march|april|june|july|august|september|"
    r"october|november|december)\b",
    re.IGNORECASE,
)
# Digits glued to letters name things ("H20", "A380"), they do not count them.
_QUANTITY = re.compile(r"(?<![^\W_])\d+")
_TIME_SPAN = re.compile(
    rf"\b(\d+|{_COUNTS}|un|une|a|an|quelques|plusieurs|several|few) (ans?|années?|mois|semaines?|jours?|heures?|"
    r"siècles?|décennies?|years?|months?|weeks?|days?|hours?|centuries|century|decades?)\b",
    re.I,
)
# The words that frame what is asked ("depuis combien de temps", "in what year")
# say which kind of fact answers, not what it is about: they are not matched.
_FRAME = re.compile(
    r"\b((depuis|pendant|jusqu['’]à) )?(combien de temps|quand)\b|\b(en|depuis|à|de) quelle (année|date|époque)\b|"
    r"\bhow long\b|\b(in|since|by) (what|which) (year|date)\b",
    re.I,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w’'-]+")

# What kind of fact a question asks for, from its interrogative words.
_ASKS = (
    ("duration", re.compile(r"\b(combien de temps|depuis combien|pendant combien|how long)\b", re.I)),
    (
        "number",
        re.compile(
            r"\b(combien|quel(le)?s? (est|sont|était|étaient|a été) (le|la|les) (nombre|montant|taux|pourcentage|"
            r"prix|population|chiffre)|quel(le)?s? (nombre|montant|taux|pourcentage|chiffre|somme|part|proportion)|"
            r"how (many|much)|what (percentage|number|amount|share))\b",
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
    own: float = 0.0  # coverage by the sentence's own words, without its context
    span: tuple[int, int] = (0, 0)  # offsets of the sentence in its document


def expected_type(question: str) -> str | None:
    return next((kind for kind, pattern in _ASKS if pattern.search(question)), None)


def _has_type(kind: str | None, sentence: str, question: str) -> bool:
    if kind == "number":
        asked = set(re.findall(r"\d+", question))
        return any(n not in asked for n in _QUANTITY.findall(sentence)) or bool(_NUMBER_WORDS.search(sentence))
    if kind == "date":
        return bool(_YEAR.search(sentence))
    if kind == "duration":
        # "il y a sept ans", "pendant trois mois", or since when: "depuis 2017".
        return bool(_TIME_SPAN.search(sentence) or _YEAR.search(sentence))
    if kind == "name":
        lowered = question.lower()
        return any(name.lower() not in lowered for name in _NAME.findall(sentence))
    return False


def rank_sentences(question: str, passages: list[Hit], languages: list[str]) -> list[Candidate]:
    # Across languages exact terms rarely meet; shared Latin roots do (see ``cognate``).
    key = cognate if any(hit.language != languages[0] for hit in passages) else str
    asked = _FRAME.sub(" ", question)
    question_terms = {key(t) for lang in languages for t in analyze(asked, lang)}
    question_grams = {g for lang in languages for g in char_grams(asked, lang)}
    kind = expected_type(question)
    raw: list[tuple[int, int, tuple[int, int], _Evidence]] = []
    for number, hit in enumerate(passages, 1):
        text, base = hit.chunk.text, hit.chunk.start
        for position, (start, end) in enumerate(sentence_spans(text)):
            sentence = text[start:end]
            terms = frozenset(key(t) for lang in languages for t in analyze(sentence, lang))
            grams = frozenset(char_grams(sentence, hit.language)) & question_grams
            raw.append((number, position, (base + start, base + end), _Evidence(terms, grams)))
    if not raw or not question_terms:
        return []
    words = _Weights(question_terms, [evidence.terms for *_, evidence in raw])
    pieces = _Weights(question_grams, [evidence.grams for *_, evidence in raw])
    candidates = []
    previous = _Evidence(frozenset(), frozenset())
    for number, position, span, evidence in raw:
        hit = passages[number - 1]
        sentence = hit.chunk.text[span[0] - hit.chunk.start : span[1] - hit.chunk.start]
        if position == 0:
            previous = _Evidence(frozenset(), frozenset())

        def cover(seen: _Evidence) -> float:
            return (1 - CHAR_SHARE) * words.cover(seen.terms) + CHAR_SHARE * pieces.cover(seen.grams)

        # "Environ 30 personnes travaillaient dans ce laboratoire": the subject
        # was named one sentence earlier, so that sentence's words count too, a little less.
        with_context = evidence | previous
        own, in_context = cover(evidence), CONTEXT_WEIGHT * cover(with_context)
        coverage = max(own, in_context)
        matched = question_terms & (with_context.terms if in_context > own else evidence.terms)
        has_type = _has_type(kind, sentence, question)
        score = coverage + TYPE_BONUS * has_type * (coverage > 0)
        score += RANK_WEIGHT * (1 - (number - 1) / max(len(passages), 1))
        # A title names the topic, it states no fact: it only lends its words to the next sentence.
        if not _is_title(sentence, position, hit):
            candidates.append(Candidate(number, position, sentence, score, frozenset(matched), has_type, own, span))
        previous = evidence
    # Between equals, a sentence's own evidence beats evidence borrowed from the one before.
    return sorted(candidates, key=lambda c: (-c.score, -c.own))


def _is_title(sentence: str, position: int, hit: Hit) -> bool:
    return position == 0 and hit.chunk.start == 0 and sentence.strip() == hit.title.strip()


@dataclass(frozen=True)
class _Evidence:
    terms: frozenset[str]
    grams: frozenset[str]

    def __or__(self, other: _Evidence) -> _Evidence:
        return _Evidence(self.terms | other.terms, self.grams | other.grams)


class _Weights:
    """Question features weighted by their rarity among the candidate sentences: "Alibaba" over "laboratoire"."""

    def __init__(self, features: set[str], sentences: list[frozenset[str]]) -> None:
        n = len(sentences)
        self.idf = {f: math.log(1 + n / (1 + sum(f in seen for seen in sentences))) for f in features}
        self.total = sum(self.idf.values()) or 1.0

    def cover(self, seen: frozenset[str]) -> float:
        return sum(weight for feature, weight in self.idf.items() if feature in seen) / self.total


def select(candidates: list[Candidate], kind: str | None = None, quantity: bool = False) -> list[Candidate]:
    """The best sentence, completed by a neighbour when only that one holds the fact asked for.

    "Quel chiffre d'affaires ... ?" matches the sentence naming the revenue,
    while the figure itself often opens the following sentence; "He also
    describes ..." matches a "who" question whose name is in the sentence
    before. The neighbour then leads. Nothing when a ``quantity`` is asked
    and none of them states one.
    """
    if not candidates or not candidates[0].terms:
        return []
    best = candidates[0]
    if kind and not best.has_type:
        # The next sentence first (it often opens with the figure), then the one before ("He ..." names no one).
        for position in (best.position + 1, best.position - 1):
            adjacent = next((c for c in candidates if c.passage == best.passage and c.position == position), None)
            if adjacent and adjacent.has_type:
                return [adjacent, best]
    if quantity and not best.has_type:
        return []
    for other in candidates[1:3]:
        if other.score >= SECOND_SENTENCE * best.score and other.terms - best.terms and other.text != best.text:
            return [best, other]
    return [best]


def asks_quantity(question: str) -> bool:
    return expected_type(question) == "number"


class ExtractiveGenerator:
    name = "extractive"

    def generate(self, question: str, passages: list[Hit], language: str) -> Iterator[str | Claim]:
        languages = list(dict.fromkeys([language, *(hit.language for hit in passages if hit.language != "und")]))
        candidates = rank_sentences(question, passages, languages)
        for candidate in select(candidates, expected_type(question), asks_quantity(question)):
            yield Claim(candidate.text, (candidate.passage,), candidate.span)

    def rewrite(self, question: str, history: list[tuple[str, str]], language: str) -> str | None:
        return None  # the built-in heuristic (rag.answering.followups) handles follow-ups

    def check(self) -> str:
        return "Offline extractive answers: no server needed."
