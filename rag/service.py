"""The one service the CLI, the UI and the tests call: retrieve, generate, cite.

``Assistant`` owns the open index, the embedder and the answer backend. It
re-opens the index when a new version is published, so a long-running app
picks up uploads; a request in flight keeps the version it started with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from rag.citing import abstain, cite, render_sentence
from rag.conversation import rewrite_followup
from rag.embedders import Embedder, LazyEmbedder
from rag.errors import UserError
from rag.generators import Generator, GeneratorUnavailableError, make_generator
from rag.language import detect_language
from rag.retrieval.base import Retrieval
from rag.retrieval.hybrid import MIN_RELEVANCE, HybridRetriever
from rag.settings import Settings
from rag.store.index import Index, IndexNotFoundError
from rag.store.versions import current_version
from rag.types import Answer, Hit

#: Longer questions are cut: nobody types more, and analysis cost grows with length.
MAX_QUESTION_CHARS = 2000
#: Passages retrieved for the trace and for ``rag eval`` (the answer uses ``top_k``).
RETRIEVED = 10


@dataclass(frozen=True)
class Retrieved:
    passages: list[Hit]
    rewritten: str | None


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Token | Done


@dataclass(frozen=True)
class _Snapshot:
    index: Index
    retriever: HybridRetriever


class Assistant:
    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._generator = generator
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = LazyEmbedder(self.settings)
        return self._embedder

    def snapshot(self) -> _Snapshot:
        """The current index version, re-opened if a newer one was published."""
        with self._lock:
            published = current_version(self.settings.index_dir)
            if self._snapshot is None or published != self._snapshot.index.folder:
                index = Index.open(self.settings.index_dir)
                built_with = index.manifest.embedder.get("name")
                if built_with != self.embedder.name:
                    raise UserError(
                        f"The index was built with {built_with} but the settings name {self.embedder.name}: "
                        "run `rag index` on your files to rebuild it."
                    )
                retriever = HybridRetriever(
                    index,
                    self.embedder,
                    mode=self.settings.retrieval_mode,
                    min_relevance=self.settings.min_relevance or MIN_RELEVANCE,
                )
                self._snapshot = _Snapshot(index, retriever)
            return self._snapshot

    def _searchable(self) -> _Snapshot:
        """The current snapshot, if it holds anything to search."""
        snapshot = self.snapshot()
        if len(snapshot.index) == 0:
            raise IndexNotFoundError(
                f"The index in {self.settings.index_dir} holds no documents: run `rag index PATH` to add some."
            )
        return snapshot

    def retrieve(self, query: str, k: int | None = None) -> Retrieval:
        query = query.strip()
        if not query:
            raise UserError("The question is empty: type a question.")
        started = time.perf_counter()
        retrieval = self._searchable().retriever.retrieve(query, k or self.settings.top_k)
        retrieval.timings["retrieval"] = time.perf_counter() - started
        return retrieval

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = make_generator(self.settings)
        return self._generator

    def ask(self, question: str, history: list[tuple[str, str]] | None = None) -> Answer:
        """Answer ``question`` in one go (see ``stream`` for the pieces as they come)."""
        answer = None
        for event in self.stream(question, history):
            if isinstance(event, Done):
                answer = event.answer
        assert answer is not None  # stream always ends with Done
        return answer

    def stream(self, question: str, history: list[tuple[str, str]] | None = None) -> Iterator[Event]:
        """Retrieve, generate and cite; yields ``Retrieved``, then ``Token``s, then ``Done``."""
        started = time.perf_counter()
        question = question.strip()[:MAX_QUESTION_CHARS]
        if not question:
            raise UserError("The question is empty: type a question.")
        snapshot = self._searchable()
        language = detect_language(question, default=snapshot.retriever.corpus_languages[0])
        timings: dict[str, float] = {}
        rewritten = self._rewrite(question, history or [], language, timings)
        retrieval = self.retrieve(rewritten or question, max(self.settings.top_k, RETRIEVED))
        timings.update(retrieval.timings)
        passages = retrieval.hits[: self.settings.top_k]
        yield Retrieved(passages, rewritten)
        if not retrieval.relevant:
            yield Done(abstain(question, language, retrieval.hits, rewritten, timings, started))
            return
        pieces: list[str] = []
        error = None
        generation_started = time.perf_counter()
        try:
            for piece in self.generator.generate(rewritten or question, passages, language):
                pieces.append(piece)
                yield Token(piece)
        except GeneratorUnavailableError as failure:
            error = str(failure)
        timings["generation"] = time.perf_counter() - generation_started
        if error:
            answer = abstain(question, language, retrieval.hits, rewritten, timings, started)
            yield Done(replace(answer, error=error, text=error))
            return
        citing_started = time.perf_counter()
        languages = list(dict.fromkeys([language, *(h.language for h in passages if h.language != "und")]))
        sentences, citations = cite("".join(pieces), passages, languages, self._verifier_embedder())
        timings["citation"] = time.perf_counter() - citing_started
        if not any(s.verification != "unsupported" for s in sentences):
            yield Done(abstain(question, language, retrieval.hits, rewritten, timings, started))
            return
        timings["total"] = time.perf_counter() - started
        text = " ".join(render_sentence(s) for s in sentences)
        yield Done(
            Answer(question, text, tuple(sentences), tuple(citations), tuple(retrieval.hits), False, rewritten, timings)
        )

    def _rewrite(
        self, question: str, history: list[tuple[str, str]], language: str, timings: dict[str, float]
    ) -> str | None:
        if not history:
            return None
        started = time.perf_counter()
        try:
            rewritten = self.generator.rewrite(question, history, language)
        except GeneratorUnavailableError:
            rewritten = None
        rewritten = rewritten or rewrite_followup(question, history, language)
        timings["rewrite"] = time.perf_counter() - started
        return rewritten if rewritten and rewritten != question else None

    def _verifier_embedder(self) -> Embedder | None:
        # Verifying by embedding similarity is only worth it where the model
        # understands the text; the lexical and fact checks always run.
        return self.embedder
