"""The generator contract: what every Generator promises the answering service.

The tests live in mixin classes that run against a ``generator`` fixture; each
implementation gets a concrete ``Test...`` class that provides it (as Haystack's
document-store test mixins do):

* ``GeneratorContract``, for every generator: ``generate`` yields only ``str`` and
  ``Claim``; each claim is a stripped, non-empty sentence citing distinct 1-based
  numbers of the passages it was given (or none); a claim with a ``span`` quotes
  it: the span lies in the cited passage and is the claim's text in its document;
  ``check()`` is one line; ``rewrite`` gives None or a one-line question.
* ``QuotingContract`` (extractive): claims only, no text, each one a quote with its span.
* ``WritingContract`` (LLM-like): the text streams in several pieces before any claim,
  and the claims are exactly ``parse_answer`` of the text written.
* ``UnavailableContract``: a backend that cannot be reached raises
  ``GeneratorUnavailableError``, one line, from ``generate``, ``rewrite`` and ``check``.

The OpenAI-compatible generator talks to the scripted server of ``tests/llm_server.py``.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.generators import Generator, GeneratorUnavailableError, make_generator
from rag.generators.extractive import ExtractiveGenerator
from rag.generators.fake import ScriptedGenerator
from rag.generators.markers import parse_answer
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.generators.prompt import not_found_sentence
from rag.settings import Settings
from rag.types import Chunk, Claim, Document, Hit
from tests.helpers import index_seeds
from tests.llm_server import FakeLLMServer, Messages


def _document(doc_id: str, title: str, before: str, passage: str, after: str = "") -> tuple[Document, Hit]:
    """A document whose passage starts well inside it, so offsets in the chunk and in the document differ."""
    text = f"{title}\n\n{before}\n\n{passage}\n\n{after}"
    start = text.index(passage)
    chunk = Chunk(doc_id=doc_id, start=start, end=start + len(passage), text=passage)
    document = Document(id=doc_id, path=f"/corpus/{doc_id}.txt", text=text, title=title, language="fr")
    return document, Hit(chunk=chunk, score=1.0, source=document.path, title=title, row=0, language="fr")


_MADE = [
    _document(
        "lyon",
        "Lyon en chiffres",
        "La ville est traversée par le Rhône et la Saône.",
        "Lyon compte environ 520 000 habitants. C’est la troisième ville de France par sa population.",
        "Son maire est élu pour six ans.",
    ),
    _document(
        "brest",
        "Le port de Brest",
        "Brest est un port militaire et de commerce.",
        "Le port de Brest a accueilli 4 200 escales de navires en 2022. Le trafic a augmenté de 3 %.",
    ),
    _document(
        "quantique",
        "Alibaba et le quantique",
        "Alibaba restructure sa recherche.",
        "Environ 30 personnes travaillaient dans le laboratoire quantique d’Alibaba, cédé à l’université.",
    ),
]
DOCUMENTS = [document for document, _ in _MADE]
PASSAGES = [hit for _, hit in _MADE]
BY_ID = {document.id: document for document in DOCUMENTS}
# (question, language, passages given): answerable questions, one the passages do not answer, and none.
CASES: list[tuple[str, str, list[Hit]]] = [
    ("Combien d’habitants compte Lyon ?", "fr", list(PASSAGES)),
    ("Combien d’escales le port de Brest a-t-il accueillies en 2022 ?", "fr", [PASSAGES[1], PASSAGES[0]]),
    ("How many people worked in Alibaba's quantum laboratory?", "en", list(PASSAGES)),
    ("Quelle est la capitale de l’Australie ?", "fr", [PASSAGES[0]]),
    ("Combien d’habitants compte Lyon ?", "fr", []),
]
CASE_IDS = ["lyon", "brest-second", "english", "not-answered", "no-passage"]
HISTORY = [("Combien d’habitants compte Lyon ?", "Lyon compte environ 520 000 habitants [1].")]
FOLLOW_UP = "Et Brest ?"


def produce(generator: Generator, question: str, language: str, passages: list[Hit]) -> list[str | Claim]:
    return list(generator.generate(question, passages, language))


def claims_of(produced: list[str | Claim]) -> list[Claim]:
    return [piece for piece in produced if isinstance(piece, Claim)]


def text_of(produced: list[str | Claim]) -> str:
    return "".join(piece for piece in produced if isinstance(piece, str))


class GeneratorContract:
    """What every generator promises. Concrete classes provide the ``generator`` fixture."""

    @pytest.fixture
    def generator(self) -> Generator:
        raise NotImplementedError("a concrete test class provides the generator")

    def test_has_a_name(self, generator: Generator) -> None:
        assert isinstance(generator.name, str) and generator.name.strip()

    @pytest.mark.parametrize(("question", "language", "passages"), CASES, ids=CASE_IDS)
    def test_generate_yields_only_text_and_claims(
        self, generator: Generator, question: str, language: str, passages: list[Hit]
    ) -> None:
        produced = produce(generator, question, language, passages)
        assert all(type(piece) in (str, Claim) for piece in produced), [type(p) for p in produced]

    @pytest.mark.parametrize(("question", "language", "passages"), CASES, ids=CASE_IDS)
    def test_claims_cite_only_passages_they_were_given(
        self, generator: Generator, question: str, language: str, passages: list[Hit]
    ) -> None:
        for claim in claims_of(produce(generator, question, language, passages)):
            assert claim.text and claim.text == claim.text.strip(), claim
            assert all(type(n) is int and 1 <= n <= len(passages) for n in claim.passages), claim
            assert len(set(claim.passages)) == len(claim.passages), claim

    @pytest.mark.parametrize(("question", "language", "passages"), CASES, ids=CASE_IDS)
    def test_a_quote_is_its_span_in_the_cited_document(
        self, generator: Generator, question: str, language: str, passages: list[Hit]
    ) -> None:
        for claim in claims_of(produce(generator, question, language, passages)):
            if claim.span is None:
                continue
            assert claim.passages, "a quote must say which passage it comes from"
            chunk = passages[claim.passages[0] - 1].chunk
            start, end = claim.span
            assert chunk.start <= start < end <= chunk.end, (claim, chunk.start, chunk.end)
            assert BY_ID[chunk.doc_id].text[start:end] == claim.text

    def test_check_is_one_line(self, generator: Generator) -> None:
        status = generator.check()
        assert isinstance(status, str) and status.strip() and "\n" not in status

    def test_rewrite_is_none_or_one_line(self, generator: Generator) -> None:
        rewritten = generator.rewrite(FOLLOW_UP, HISTORY, "fr")
        assert rewritten is None or (isinstance(rewritten, str) and rewritten.strip() and "\n" not in rewritten)


class QuotingContract:
    """An extractive generator: it quotes its passages and writes nothing of its own."""

    def test_answers_with_quotes_only(self, generator: Generator) -> None:
        question, language, passages = CASES[0]
        produced = produce(generator, question, language, passages)
        assert produced and all(isinstance(piece, Claim) for piece in produced)
        for claim in claims_of(produced):
            assert claim.span is not None and len(claim.passages) == 1, claim
        assert "520 000" in " ".join(claim.text for claim in claims_of(produced))


class WritingContract:
    """An LLM-like generator: it streams text, then the sentences that text holds."""

    @pytest.mark.parametrize(("question", "language", "passages"), CASES, ids=CASE_IDS)
    def test_text_streams_first_and_parses_back_to_the_claims(
        self, generator: Generator, question: str, language: str, passages: list[Hit]
    ) -> None:
        produced = produce(generator, question, language, passages)
        claims = claims_of(produced)
        written = text_of(produced)
        assert sum(isinstance(piece, str) for piece in produced) > 1, "the text must stream in pieces"
        assert produced[len(produced) - len(claims) :] == claims, "claims come after the text"
        assert claims == parse_answer(written, len(passages)) and claims

    def test_a_passage_number_the_model_invents_is_not_passed_on(self, invented: Generator) -> None:
        for claim in claims_of(produce(invented, *CASES[1])):
            assert all(1 <= n <= len(CASES[1][2]) for n in claim.passages), claim


class UnavailableContract:
    """A backend that cannot answer says so, in one line, whichever method is called."""

    @pytest.fixture
    def unavailable(self) -> Generator:
        raise NotImplementedError("a concrete test class provides a generator whose backend is down")

    def test_generate_raises_unavailable(self, unavailable: Generator) -> None:
        with pytest.raises(GeneratorUnavailableError) as caught:
            produce(unavailable, *CASES[0])
        assert "\n" not in str(caught.value) and str(caught.value).strip()

    def test_rewrite_raises_unavailable(self, unavailable: Generator) -> None:
        with pytest.raises(GeneratorUnavailableError) as caught:
            unavailable.rewrite(FOLLOW_UP, HISTORY, "fr")
        assert "\n" not in str(caught.value)

    def test_check_raises_unavailable(self, unavailable: Generator) -> None:
        with pytest.raises(GeneratorUnavailableError) as caught:
            unavailable.check()
        assert "\n" not in str(caught.value)


# Implementations ------------------------------------------------------------------------------

#: Over two passages, a model citing one that does not exist.
INVENTED = "Le port de Brest a accueilli 4 200 escales [1][9]."


class TestExtractiveGenerator(GeneratorContract, QuotingContract):
    @pytest.fixture
    def generator(self) -> Generator:
        return ExtractiveGenerator()


def _scripted(question: str, passages: list[Hit], language: str) -> str:
    """A script that cites every passage it was given, each by its first sentence."""
    if not passages:
        return not_found_sentence(language)
    return " ".join(f"{parse_answer(hit.chunk.text)[0].text[:-1]} [{n}]." for n, hit in enumerate(passages, 1))


class TestScriptedGenerator(GeneratorContract, WritingContract, UnavailableContract):
    @pytest.fixture(params=["registered as fake", "function script"])
    def generator(self, request: pytest.FixtureRequest) -> Generator:
        if request.param == "registered as fake":
            return make_generator(Settings(generator="fake"))
        return ScriptedGenerator(_scripted, rewrite=lambda question, history, language: f"{question} (Lyon)")

    @pytest.fixture
    def invented(self) -> Generator:
        return ScriptedGenerator(INVENTED)

    @pytest.fixture
    def unavailable(self) -> Generator:
        return ScriptedGenerator(unavailable="The scripted backend is down: choose the offline extractive backend.")

    def test_a_string_script_is_played_as_written(self) -> None:
        generator = ScriptedGenerator(INVENTED, rewrite="Combien d’escales à Brest ?")
        produced = produce(generator, *CASES[1])
        assert text_of(produced) == INVENTED
        assert claims_of(produced) == [
            Claim("Le port de Brest a accueilli 4 200 escales.", (1,))
        ]  # [9] points at nothing
        assert generator.rewrite(FOLLOW_UP, HISTORY, "fr") == "Combien d’escales à Brest ?"
        assert [call.question for call in generator.calls] == [CASES[1][0]]

    def test_the_default_script_echoes_the_sentence_of_passage_1_closest_to_the_question(self) -> None:
        def answer(question: str, passages: list[Hit]) -> list[Claim]:
            return claims_of(produce(ScriptedGenerator(), question, "fr", passages))

        assert answer("Combien d’habitants compte Lyon ?", list(PASSAGES)) == [
            Claim("Lyon compte environ 520 000 habitants.", (1,))
        ]
        assert answer("Quelle ville de France est la troisième ?", list(PASSAGES)) == [
            Claim("C’est la troisième ville de France par sa population.", (1,))
        ]
        # Passage 1 only: the Brest passage, second here, is not read.
        assert answer("Combien d’escales à Brest ?", list(PASSAGES)) == [Claim(not_found_sentence("fr"))]
        assert answer("Combien d’habitants compte Lyon ?", []) == [Claim(not_found_sentence("fr"))]

    def test_the_registered_fake_answers_through_the_service(self, tmp_path: Path) -> None:
        _, settings = index_seeds(tmp_path)
        assistant = Assistant(settings.replace(generator="fake"), embedder=HashingEmbedder())
        assert isinstance(assistant.generator, ScriptedGenerator)
        answer = assistant.ask("Quel laboratoire Alibaba a-t-il fermé ?")
        assert not answer.abstained and answer.citations
        assert all(citation.verification == "supported" for citation in answer.citations)
        assert assistant.ask("Quelle est la capitale de l’Australie ?").abstained


def _llm(messages: Messages) -> str:
    """A model that follows the prompt: each passage's first sentence, cited; a question when asked to rewrite."""
    prompt = str(messages[-1]["content"])
    if "<passages>" not in prompt:
        return "Combien d’escales le port de Brest a-t-il accueillies en 2022 ?"
    passages = re.findall(r"<passage (\d+)>\n[^\n]*\n(.*?)\n</passage \1>", prompt, re.DOTALL)
    if not passages:
        return not_found_sentence("en" if "in English" in prompt else "fr")
    return " ".join(f"{parse_answer(text)[0].text[:-1]} [{n}]." for n, text in passages)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestOpenAICompatibleGenerator(GeneratorContract, WritingContract, UnavailableContract):
    @pytest.fixture
    def generator(self, llm_server: FakeLLMServer) -> Generator:
        llm_server.script = _llm
        return OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=10)

    @pytest.fixture
    def invented(self, llm_server: FakeLLMServer) -> Generator:
        llm_server.script = INVENTED
        return OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=10)

    @pytest.fixture
    def unavailable(self) -> Generator:
        # Nothing listens on a port just freed: the connection is refused at once.
        return OpenAICompatibleGenerator(f"http://127.0.0.1:{_free_port()}/v1", "test-model", timeout=5)
