"""The one service the CLI, the UI, the integrations and the tests call: retrieve, generate, cite.

``Assistant`` owns the open index, the embedder and the answer backend. It
re-opens the index when a new version is published, so a long-running app
picks up uploads; a request in flight keeps the version it started with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from rag import embedders, generators
from rag.answering.citing import abstain, cite
from rag.answering.events import Done, Event, Retrieved, Token
from rag.answering.followups import rewrite_followup
from rag.answering.snapshot import Snapshot, open_snapshot
from rag.embedders import Embedder, LazyEmbedder
from rag.errors import UserError
from rag.generators import Generator, GeneratorUnavailableError, make_generator
from rag.generators.deadline import DeadlineExceeded, call_before, until
from rag.generators.generation import GenerationCutError, report_of
from rag.retrieval.base import Retrieval
from rag.retrieval.hybrid import check_mode
from rag.settings import Settings
from rag.store.backends import store_backend
from rag.store.index import IndexNotFoundError
from rag.text.language import detect_language
from rag.types import Answer, Claim, GenerationReport, Hit

#: Longer questions are cut: nobody types more, and analysis cost grows with length.
MAX_QUESTION_CHARS = 2000
#: Passages retrieved for the trace and for ``rag eval`` (the answer uses ``top_k``).
RETRIEVED = 10


class Assistant:
    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None
    ) -> None:
        # Every backend name is checked now, so that a wrong one fails at start, in one line.
        embedders.validate(settings)
        generators.validate(settings)
        check_mode(settings.retrieval_mode)
        self.settings = settings
        self._store = store_backend(settings)
        self._embedder = embedder
        self._generator = generator
        self._offline: Generator | None = None
        # Held only while a version is opened, so that one thread opens it (hashing every
        # file) while the others keep answering from the snapshot they have.
        self._opening = threading.Lock()
        self._snapshot: Snapshot | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = LazyEmbedder(self.settings)
        return self._embedder

    def snapshot(self) -> Snapshot:
        """The current index version, re-opened if a newer one was published."""
        served = self._snapshot  # replaced whole, never changed: reading it needs no lock
        if served is not None:
            # While another thread opens the new version, keep answering from this one.
            if served.published == self._store.published() or not self._opening.acquire(False):
                return served
        else:
            self._opening.acquire()  # nothing to answer from yet: wait for the first open
        try:
            published = self._store.published()
            served = self._snapshot  # it may have been opened while this thread waited
            if served is None or served.published != published:
                served = self._snapshot = self._open(published)
            return served
        finally:
            self._opening.release()

    def _open(self, published: str | None) -> Snapshot:
        return open_snapshot(self.settings, self._store, self.embedder, published)

    def _searchable(self) -> Snapshot:
        """The current snapshot, if it holds anything to search."""
        snapshot = self.snapshot()
        if len(snapshot.index) == 0:
            raise IndexNotFoundError(
                f"The index in {self._store.describe()} holds no documents: run `rag index PATH` to add some."
            )
        return snapshot

    def retrieve(self, query: str, k: int | None = None) -> Retrieval:
        return self._retrieve(self._searchable(), query, k or self.settings.top_k)

    def _retrieve(self, snapshot: Snapshot, query: str, k: int, language: str | None = None) -> Retrieval:
        query = query.strip()
        if not query:
            raise UserError("The question is empty: type a question.")
        started = time.perf_counter()
        retrieval = snapshot.retriever.retrieve(query, k, language)
        retrieval.timings["retrieval"] = time.perf_counter() - started
        return retrieval

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = make_generator(self.settings)
        return self._generator

    def ask(
        self, question: str, history: list[tuple[str, str]] | None = None, *, asked_at: float | None = None
    ) -> Answer:
        """Answer ``question`` in one go (see ``stream`` for the pieces as they come)."""
        answer = None
        for event in self.stream(question, history, asked_at=asked_at):
            if isinstance(event, Done):
                answer = event.answer
        assert answer is not None  # stream always ends with Done
        return answer

    def stream(
        self, question: str, history: list[tuple[str, str]] | None = None, *, asked_at: float | None = None
    ) -> Iterator[Event]:
        """Retrieve, generate and cite; yields ``Retrieved``, then ``Token``s, then ``Done``.

        The whole request reads one index snapshot, whatever is published meanwhile.
        The answer comes within ``llm_answer_seconds`` of ``asked_at`` (a
        ``time.perf_counter()`` reading; by default now), cut if the backend is
        still writing then.
        """
        started = time.perf_counter() if asked_at is None else asked_at
        deadline = started + self.settings.llm_answer_seconds
        question = question.strip()[:MAX_QUESTION_CHARS]
        if not question:
            raise UserError("The question is empty: type a question.")
        snapshot = self._searchable()
        language = detect_language(question, default=snapshot.retriever.corpus_languages[0])
        timings: dict[str, float] = {}
        rewritten, failure = self._rewrite(question, history or [], language, timings, deadline)
        # A rewritten follow-up may carry its topic in another language: it is searched as written.
        searched = detect_language(rewritten, default=language) if rewritten else language
        retrieval = self._retrieve(snapshot, rewritten or question, max(self.settings.top_k, RETRIEVED), searched)
        timings.update(retrieval.timings)
        passages = retrieval.hits[: self.settings.top_k]
        yield Retrieved(passages, rewritten)
        turn = _Turn(question, language, retrieval, rewritten, timings, started)
        if failure is not None:
            # The backend just failed or timed out on the rewrite: asking it again would make
            # the user wait a second time for the same error.
            yield Done(self._instead(failure, None, turn, passages))
            return
        if not retrieval.relevant:
            yield Done(turn.abstain())
            return
        claims: list[Claim] = []
        generation_started = time.perf_counter()
        pieces = self.generator.generate(rewritten or question, passages, language)
        try:
            for piece in until(deadline, pieces):
                if isinstance(piece, Claim):
                    claims.append(piece)
                else:
                    yield Token(piece)
        except (GeneratorUnavailableError, DeadlineExceeded) as error:
            timings["generation"] = time.perf_counter() - generation_started
            failure = self._late() if isinstance(error, DeadlineExceeded) else error
            yield Done(self._instead(failure, _with_cut(report_of(pieces), failure), turn, passages))
            return
        timings["generation"] = time.perf_counter() - generation_started
        report = report_of(pieces)
        # Only the passages the prompt held can support the answer; the others were never read.
        given = passages[: report.passages_given] if report else passages
        yield Done(replace(self._cited(turn, claims, given), generation=report))

    def _late(self) -> GenerationCutError:
        seconds = self.settings.llm_answer_seconds
        return GenerationCutError(
            f"The answer took longer than llm_answer_seconds ({seconds:g} s) and was cut: raise "
            "llm_answer_seconds, use a faster model, or choose the offline extractive backend.",
            "deadline",
        )

    def _instead(
        self, failure: GeneratorUnavailableError, report: GenerationReport | None, turn: _Turn, passages: list[Hit]
    ) -> Answer:
        """What a failed or cut answer gives: its one-line reason and the closest passages, or the offline answer."""
        report = replace(report or GenerationReport(), reason=str(failure))
        if self.settings.llm_fallback != "extractive" or self.generator.name == "extractive":
            failed = turn.abstain()
            return replace(failed, error=str(failure), message=str(failure), generation=report)
        if self._offline is None:
            self._offline = make_generator(self.settings.replace(generator="extractive"))
        offline = self._offline.generate(turn.question, passages, turn.language)
        claims = [piece for piece in offline if isinstance(piece, Claim)]
        return replace(self._cited(turn, claims, passages), generation=replace(report, fallback=True))

    def _cited(self, turn: _Turn, claims: list[Claim], passages: list[Hit]) -> Answer:
        """The generator's claims, each sentence checked against the passage it cites."""
        citing_started = time.perf_counter()
        languages = list(dict.fromkeys([turn.language, *(h.language for h in passages if h.language != "und")]))
        # The verifier compares embeddings only where the model reads every language
        # involved (rag.answering.verification); its lexical and fact checks always run.
        sentences, citations = cite(claims, passages, languages, self.embedder, turn.question)
        turn.timings["citation"] = time.perf_counter() - citing_started
        if not any(s.verification != "unsupported" for s in sentences):
            return turn.abstain()
        turn.timings["total"] = time.perf_counter() - turn.started
        return Answer(
            turn.question,
            turn.language,
            tuple(sentences),
            tuple(citations),
            tuple(turn.retrieval.hits),
            rewritten_question=turn.rewritten,
            timings=turn.timings,
        )

    def _rewrite(
        self, question: str, history: list[tuple[str, str]], language: str, timings: dict[str, float], deadline: float
    ) -> tuple[str | None, GeneratorUnavailableError | None]:
        """(the standalone question, or None to search as asked; the backend's failure, if it failed)."""
        if not history:
            return None, None
        started = time.perf_counter()
        failure: GeneratorUnavailableError | None = None
        generator = self.generator
        try:
            rewritten = call_before(deadline, lambda: generator.rewrite(question, history, language))
        except GeneratorUnavailableError as error:
            rewritten, failure = None, error
        except DeadlineExceeded:
            rewritten, failure = None, self._late()
        # Without the backend's rewrite, the built-in one still finds the right sources to show.
        rewritten = rewritten or rewrite_followup(question, history, language)
        timings["rewrite"] = time.perf_counter() - started
        return (rewritten if rewritten and rewritten != question else None), failure


@dataclass(frozen=True)
class _Turn:
    """One question being answered: what each way of ending its answer needs."""

    question: str
    language: str
    retrieval: Retrieval
    rewritten: str | None
    timings: dict[str, float]
    started: float

    def abstain(self) -> Answer:
        """Say the documents do not answer, and show the closest passages."""
        return abstain(self.question, self.language, self.retrieval.hits, self.rewritten, self.timings, self.started)


def _with_cut(report: GenerationReport | None, failure: GeneratorUnavailableError) -> GenerationReport | None:
    """The report, saying why the answer was cut when it was (the generator records its own cuts)."""
    if not isinstance(failure, GenerationCutError):
        return report
    return replace(report or GenerationReport(), cut=failure.kind, reason=str(failure))
