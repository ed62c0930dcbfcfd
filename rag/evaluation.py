"""``rag eval``: run a QA file through the real pipeline and score it.

A QA line is ``{"id", "question", "answers", "sources", "spans"}``; spans are
character offsets into the gold source's text. A retrieved passage counts
when it comes from a gold source and overlaps a gold span. Optional keys:
``language`` (detected when absent) and ``history``, the questions asked
before a follow-up, oldest first: they are asked in turn, and the follow-up
is asked after them with their answers, as in a chat.

Beside retrieval and answers, it counts the answer sentences that are
supported, weak or unsupported, and the answers an LLM backend had cut (and
why) or failed to give: what tells a local model fit for the job.
"""

from __future__ import annotations

import json
import statistics
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rag.answering.service import RETRIEVED
from rag.errors import UserError
from rag.text.language import detect_language
from rag.text.normalise import normalise
from rag.types import Answer, Hit


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]
    sources: list[str]
    spans: list[tuple[int, int]]
    history: tuple[str, ...] = ()
    language: str = "und"

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def half(question_id: str) -> str:
    """ "A" or "B", from a hash of the id: a fixed split, to choose on one half and check on the other."""
    return "AB"[zlib.crc32(question_id.encode("utf-8")) % 2]


@dataclass
class Scores:
    questions: int = 0
    answerable: int = 0
    hits_at: dict[int, int] = field(default_factory=lambda: {1: 0, 5: 0, 10: 0})
    reciprocal_ranks: float = 0.0
    answer_contains: int = 0
    citation_overlaps: int = 0
    abstained_answerable: int = 0
    unanswerable: int = 0
    abstained_unanswerable: int = 0
    retrieval_seconds: list[float] = field(default_factory=list)
    answer_seconds: list[float] = field(default_factory=list)
    #: Answer sentences by their verdict: supported, weak, unsupported.
    verdicts: Counter[str] = field(default_factory=Counter)
    #: Answers whose LLM generation was cut, by why: repetition, echo, template, length, deadline.
    cuts: Counter[str] = field(default_factory=Counter)
    #: Answers whose backend failed (an error, not a cut).
    failed: int = 0
    #: Cut or failed answers given by the offline backend instead (llm_fallback = "extractive").
    fell_back: int = 0
    #: The same scores for half "A" and half "B" of the questions (``half``).
    halves: dict[str, Scores] = field(default_factory=dict)
    #: The same scores per language of the questions.
    languages: dict[str, Scores] = field(default_factory=dict)

    def table(self) -> dict[str, float]:
        n = max(self.answerable, 1)
        table = {f"recall@{k}": v / n for k, v in self.hits_at.items()}
        table["mrr@10"] = self.reciprocal_ranks / n
        table["answer_contains"] = self.answer_contains / n
        table["citation_overlap"] = self.citation_overlaps / n
        table["abstained_answerable"] = self.abstained_answerable / n
        if self.unanswerable:
            table["abstained_unanswerable"] = self.abstained_unanswerable / self.unanswerable
        sentences = sum(self.verdicts.values())
        for verdict in ("supported", "weak", "unsupported"):
            table[f"sentences_{verdict}"] = self.verdicts[verdict] / sentences if sentences else 0.0
        table["answers_cut"] = sum(self.cuts.values()) / max(self.questions, 1)
        table["answers_failed"] = self.failed / max(self.questions, 1)
        table["retrieval_ms_median"] = 1000 * statistics.median(self.retrieval_seconds or [0.0])
        table["answer_ms_median"] = 1000 * statistics.median(self.answer_seconds or [0.0])
        return table

    def endings(self) -> str:
        """One line: how many answers were cut and why, how many failed, how many fell back."""
        why = ", ".join(f"{kind} {count}" for kind, count in self.cuts.most_common())
        cut = sum(self.cuts.values())
        return (
            f"answers cut: {cut} of {self.questions}" + (f" ({why})" if why else "") + f"; failed: {self.failed}"
            f"; answered offline instead: {self.fell_back}"
        )


def read_questions(path: Path) -> Iterator[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserError(f"Cannot read {path}: {error.strerror}.") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            yield Question(
                id=str(data["id"]),
                question=data["question"],
                answers=list(data.get("answers", [])),
                sources=list(data.get("sources", [])),
                spans=[(int(a), int(b)) for a, b in data.get("spans", [])],
                history=tuple(str(q) for q in data.get("history", [])),
                language=str(data.get("language") or detect_language(data["question"])),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path}:{number} is not a QA line ({error}); see README, 'Evaluate'.") from None


def _same_file(path: str, gold: list[str]) -> bool:
    return any(path == g or path.endswith("/" + g) for g in gold)


def passage_matches(source: str, start: int, end: int, question: Question) -> bool:
    if not _same_file(source, question.sources):
        return False
    return any(start < gold_end and gold_start < end for gold_start, gold_end in question.spans)


def score(question: Question, answer: Answer, scores: Scores) -> dict[str, Any]:
    scores.questions += 1
    hits = list(answer.hits)
    scores.retrieval_seconds.append(answer.timings.get("retrieval", 0.0))
    scores.answer_seconds.append(answer.timings.get("total", 0.0))
    scores.verdicts.update(sentence.verification for sentence in answer.sentences)
    generation = answer.generation
    if generation and generation.cut:
        scores.cuts[generation.cut] += 1
    elif answer.error or (generation and generation.fallback):
        scores.failed += 1
    scores.fell_back += bool(generation and generation.fallback)
    if not question.answerable:
        scores.unanswerable += 1
        scores.abstained_unanswerable += answer.abstained
    else:
        scores.answerable += 1
        rank = next(
            (i for i, h in enumerate(hits[:RETRIEVED], 1) if passage_matches(h.source, *_span(h), question)), None
        )
        if rank is not None:
            scores.reciprocal_ranks += 1 / rank
            for k in scores.hits_at:
                scores.hits_at[k] += rank <= k
        scores.abstained_answerable += answer.abstained
        # In what it says, not its markers: a gold answer "2" is not in "[2]".
        scores.answer_contains += any(normalise(a) in normalise(answer.said) for a in question.answers)
        first = answer.citations[0] if answer.citations else None
        scores.citation_overlaps += bool(first and passage_matches(first.hit.source, first.start, first.end, question))
    return {"id": question.id, **answer.to_json()}


def _span(hit: Hit) -> tuple[int, int]:
    return hit.chunk.start, hit.chunk.end


def _open_results(out: Path) -> TextIO:
    try:
        return out.open("w", encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"Cannot write {out}: the folder {out.parent} does not exist; create it first.") from None
    except OSError as error:
        raise UserError(f"Cannot write {out} ({error.strerror}): choose another --out path.") from None


Turns = list[tuple[str, str]]
Ask = Callable[[str, Turns], Answer]


def _history(ask: Ask, questions: tuple[str, ...], seen: dict[tuple[str, ...], Turns]) -> Turns:
    """The chat turns a follow-up comes after: each earlier question asked after the ones before it."""
    if questions not in seen:
        before = _history(ask, questions[:-1], seen) if len(questions) > 1 else []
        answer = ask(questions[-1], before)
        # As the chat keeps it: the question as it was searched, and the answer's text.
        seen[questions] = [*before, (answer.rewritten_question or questions[-1], answer.said)]
    return seen[questions]


def evaluate(
    ask: Ask,
    qa_file: Path,
    out: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> Scores:
    questions = list(read_questions(qa_file))
    if not questions:
        raise UserError(f"{qa_file} holds no questions.")
    scores = Scores()
    seen: dict[tuple[str, ...], Turns] = {}
    # Opened before the first question: a wrong path fails at once, not after the whole run.
    handle = _open_results(out) if out else None
    if progress:
        progress(0, len(questions))
    try:
        for number, question in enumerate(questions, 1):
            history = _history(ask, question.history, seen) if question.history else []
            answer = ask(question.question, history)
            line = score(question, answer, scores)
            score(question, answer, scores.halves.setdefault(half(question.id), Scores()))
            score(question, answer, scores.languages.setdefault(question.language, Scores()))
            if handle:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            if progress:
                progress(number, len(questions))
    finally:
        if handle:
            handle.close()
    return scores
