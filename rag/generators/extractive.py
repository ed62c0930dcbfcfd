"""Offline answers without an LLM: the sentences of the passages that best answer.

Each sentence of the retrieved passages is scored by how much of the question
it covers (terms weighted by their rarity among the candidate sentences, and,
as in retrieval, half by stemmed words and half by 4-letter word pieces, so
"labo" meets "laboratoire"), by whether it holds the kind of fact the
question asks for (``rag.text.answer_types``: a reason, an amount of money, an
age, a date, a count of what is counted...), by its passage's rank, and, where
the index holds sentence vectors, by how close the model reads it to the
question (its vector pooled from its passage's own pass at index time, so
"Il a attribué cette fermeture à des ajustements" answers "Pourquoi ... ?"
though it shares no word with it but its subject's). The
best sentence is the answer, with a second one only when it is nearly as good
and adds something; each is a quote, yielded as a ``Claim`` with its span.
When the best sentence lacks the fact and the next (or previous) one holds
it, that one leads and the best follows as its context.

A question asking how many or how much is answered only by a sentence that
states a figure of that kind: when the best one states none, the documents do
not hold it ("Combien vaut l'action Nvidia ?" over articles that name Nvidia
but never its share price), and the answer abstains.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from rag.text.analysis import CHAR_SHARE, analyze, char_grams, cognate
from rag.text.answer_types import FIGURES, counted_unit, counts_unit, expected_type, has_type
from rag.text.sentences import sentence_spans
from rag.types import Claim, Hit

# The words that frame what is asked ("depuis combien de temps", "in what year")
# say which kind of fact answers, not what it is about: they are not matched.
_FRAME = re.compile(
    r"\b((depuis|pendant|jusqu['’]à) )?(combien de temps|quand)\b|\b(en|depuis|à|de) quelle (année|date|époque)\b|"
    r"\bhow long\b|\b(in|since|by) (what|which) (year|date)\b",
    re.I,
)
# Weights measured on 500 PIAF dev questions (answer contains the gold answer:
# 0.53 -> 0.55); each moves the result by a point or two at most.
TYPE_BONUS = 0.1
UNIT_BONUS = 0.1
CONTEXT_WEIGHT = 0.8
RANK_WEIGHT = 0.3
#: Relevance (calibrated, from the embedding) above which a passage in another language is
#: trusted to be on topic though it shares no whole word with the question.
ACROSS_RELEVANCE = 0.5
SECOND_SENTENCE = 0.9  # share of the best score a second sentence needs
#: Weight of a sentence's cosine with the question (above the mean of the candidates'), where the
#: index holds sentence vectors. Chosen on the dev sets (README, "Quality").
SIMILARITY_WEIGHT = 10.0


@dataclass(frozen=True)
class Candidate:
    passage: int  # 1-based number of the passage
    position: int  # index of the sentence inside its passage
    text: str
    score: float
    terms: frozenset[str]
    has_type: bool = False
    own: float = 0.0  # coverage by the sentence's own words, without its context
    coverage: float = 0.0  # the share of the question it covers, with its context (words and word pieces)
    #: Its passage is in another language than the question, and about it by meaning (its relevance).
    across: bool = False
    #: Its cosine with the question above the candidates' mean (0 without sentence vectors).
    closeness: float = 0.0
    span: tuple[int, int] = (0, 0)  # offsets of the sentence in its document


def rank_sentences(question: str, passages: list[Hit], languages: list[str]) -> list[Candidate]:
    # Across languages exact terms rarely meet; shared Latin roots do (see ``cognate``).
    key = cognate if any(hit.language != languages[0] for hit in passages) else str
    asked = _FRAME.sub(" ", question)
    question_terms = {key(t) for lang in languages for t in analyze(asked, lang)}
    question_grams = {g for lang in languages for g in char_grams(asked, lang)}
    kind = expected_type(question)
    unit = counted_unit(question, languages[0])
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
    sentences_in = Counter(number for number, *_ in raw)
    closeness = _closeness(passages)
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
        holds = has_type(kind, sentence, question)
        # "Combien de personnes": a figure of persons beats any figure (the words meet in one language only).
        holds_unit = bool(unit) and hit.language in (languages[0], "und") and counts_unit(sentence, unit, hit.language)
        score = coverage + (TYPE_BONUS * holds + UNIT_BONUS * holds_unit) * (coverage > 0)
        score += RANK_WEIGHT * (1 - (number - 1) / max(len(passages), 1))
        across = hit.language not in (languages[0], "und") and hit.relevance >= ACROSS_RELEVANCE
        close = closeness.get((hit.chunk.doc_id, *span), 0.0)
        # Even where it shares no word of the question: then it is no answer (``select``), which
        # makes more unanswerable questions abstain (news half A: 39% against 30%).
        score += SIMILARITY_WEIGHT * close
        # A title names the topic, it states no fact: it only lends its words to the next sentence.
        # A one-line note is all title, though, and that line is its fact.
        if not _is_title(sentence, position, hit) or sentences_in[number] == 1:
            candidates.append(
                Candidate(
                    number,
                    position,
                    sentence,
                    score,
                    frozenset(matched),
                    holds,
                    own,
                    coverage,
                    span=span,
                    across=across,
                    closeness=close,
                )
            )
        previous = evidence
    # Between equals, a sentence's own evidence beats evidence borrowed from the one before.
    return sorted(candidates, key=lambda c: (-c.score, -c.own))


def _closeness(passages: list[Hit]) -> dict[tuple[str, int, int], float]:
    """Each sentence's cosine with the question minus the mean over the passages' sentences, by document and span.

    Centred, the term moves sentences against each other whatever the model's own scale of
    cosines (e5 puts almost any two texts between 0.7 and 0.9); centred over all the passages,
    not each one, it also says which passage reads closer (centred per passage: news 0.59
    instead of 0.63, PIAF 0.61 instead of 0.63). A sentence in two overlapping passages keeps
    its better reading.
    """
    found: dict[tuple[str, int, int], float] = {}
    for hit in passages:
        for start, end, cosine in hit.sentences:
            key = (hit.chunk.doc_id, start, end)
            found[key] = max(found.get(key, -1.0), cosine)
    if not found:
        return {}
    mean = sum(found.values()) / len(found)
    return {key: cosine - mean for key, cosine in found.items()}


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
    # No word of the question in the best sentence: nothing answers. Across languages, where words
    # rarely meet, a passage the model reads as relevant may be matched by pieces of words alone
    # ("syri" in "Syrians" and "syriens").
    best = candidates[0] if candidates else None
    if best is None or (not best.terms and not (best.across and (best.coverage > 0 or best.closeness > 0))):
        return []
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
    """Whether the question asks for a figure without which nothing answers (a count, an amount of money)."""
    return expected_type(question) in FIGURES


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
