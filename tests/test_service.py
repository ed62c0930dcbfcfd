"""The answering service end to end on the seeds, with the fake embedder.

The LLM path goes through real HTTP and real streaming to the scripted
OpenAI-compatible server in ``tests/llm_server.py``.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from pathlib import Path

import pytest

from rag.answering.service import Assistant, Done, Retrieved, Token
from rag.embedders.fake import HashingEmbedder
from rag.errors import UserError
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.index import Index
from tests.helpers import index_seeds
from tests.llm_server import FakeLLMServer

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("service")
    corpus = root / "articles"
    corpus.mkdir()
    for article in SEEDS.glob("*.txt"):
        shutil.copy(article, corpus)
    settings = Settings(index_dir=root / "index", embedding_backend="fake")
    index_paths([corpus], settings, HashingEmbedder())
    return settings


def assistant(settings: Settings, generator: OpenAICompatibleGenerator | None = None) -> Assistant:
    return Assistant(settings, embedder=HashingEmbedder(), generator=generator)


def test_extractive_answer_gives_the_key_fact_with_a_true_citation(settings: Settings) -> None:
    answer = assistant(settings).ask(ALIBABA)
    assert not answer.abstained
    assert "Environ 30 personnes" in answer.text
    first = answer.citations[0]
    assert first.hit.source.endswith("003_c00ce55952bfa148.txt")
    assert first.verification == "supported" and "30 personnes" in first.span_text
    document = assistant(settings).snapshot().index.docstore.document(first.hit.chunk.doc_id)
    assert document is not None and document.text[first.start : first.end] == first.span_text


def test_question_outside_the_documents_abstains_and_shows_closest_passages(settings: Settings) -> None:
    answer = assistant(settings).ask("Quelle est la capitale de l’Australie ?")
    assert answer.abstained
    assert answer.text == "Je n’ai pas trouvé cette information dans les documents."
    assert not answer.citations


def test_an_everyday_word_the_documents_never_use_does_not_make_a_question_unanswerable(settings: Settings) -> None:
    # Neither article says "ville", "trouvait" or "vient"; the answer is "Shanghai".
    answer = assistant(settings).ask("Dans quelle ville se trouvait le laboratoire d’IA qu’Amazon vient de fermer ?")
    assert not answer.abstained
    assert "Shanghai" in answer.text


def test_english_abstention_is_in_english(settings: Settings) -> None:
    answer = assistant(settings).ask("What is the boiling point of mercury?")
    assert answer.abstained and answer.text == "I could not find this information in the documents."


def test_empty_question_is_a_user_error(settings: Settings) -> None:
    with pytest.raises(UserError, match="empty"):
        assistant(settings).ask("   ")


def test_followup_is_rewritten_from_history(settings: Settings) -> None:
    history = [("Quel laboratoire Alibaba a-t-il fermé ?", "Son laboratoire de calcul quantique [1].")]
    answer = assistant(settings).ask("Et combien de personnes y travaillaient ?", history)
    assert answer.rewritten_question and "Alibaba" in answer.rewritten_question
    assert "30" in answer.text


def test_a_question_naming_its_own_topic_is_not_mixed_with_the_previous_one(settings: Settings) -> None:
    history = [("Quel laboratoire Alibaba a-t-il fermé ?", "Son laboratoire de calcul quantique [1].")]
    answer = assistant(settings).ask("Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?", history)
    assert answer.rewritten_question is None
    assert "Alibaba" not in answer.text


def test_llm_answer_streams_tokens_and_keeps_good_citations(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.script = "Environ 30 personnes travaillaient dans ce laboratoire [1]."
    service = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5))
    events = list(service.stream(ALIBABA))
    assert isinstance(events[0], Retrieved)
    assert sum(isinstance(e, Token) for e in events) > 3
    done = events[-1]
    assert isinstance(done, Done)
    assert done.answer.citations[0].verification == "supported"
    assert done.answer.citations[0].hit.source.endswith("003_c00ce55952bfa148.txt")


def test_llm_citation_to_the_wrong_passage_is_repointed(settings: Settings, llm_server: FakeLLMServer) -> None:
    service = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5))
    hits = service.retrieve(ALIBABA).hits
    right = next(n for n, h in enumerate(hits, 1) if "30 personnes" in h.chunk.text)
    wrong = next(n for n in range(1, len(hits) + 1) if n != right)
    llm_server.script = f"Environ 30 personnes travaillaient dans ce laboratoire depuis 2017 [{wrong}]."
    answer = service.ask(ALIBABA)
    assert [c.n for c in answer.citations] == [right]


def test_llm_invented_fact_is_flagged_not_shown_as_supported(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.script = "Environ 30 personnes y travaillaient [1]. Le laboratoire a coûté 450 millions d’euros [1]."
    answer = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5)).ask(ALIBABA)
    invented = next(s for s in answer.sentences if "450" in s.text)
    assert invented.verification == "unsupported"
    assert "[unsupported]" in answer.text


def test_llm_answer_without_markers_gets_a_citation_or_a_flag(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.script = "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire."
    answer = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5)).ask(ALIBABA)
    assert answer.sentences[0].citations and answer.sentences[0].verification == "supported"


def test_out_of_range_citation_is_dropped(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.script = "Environ 30 personnes travaillaient dans ce laboratoire [1][42]."
    answer = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5)).ask(ALIBABA)
    assert all(c.n <= len(answer.hits) for c in answer.citations)


def test_llm_server_down_gives_one_line_error_and_still_the_sources(settings: Settings) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    answer = assistant(settings, OpenAICompatibleGenerator(url, "test-model", timeout=2)).ask(ALIBABA)
    assert answer.error and "\n" not in answer.error and "not reachable" in answer.error
    assert answer.hits and answer.hits[0].source.endswith("003_c00ce55952bfa148.txt")


def test_llm_saying_not_found_abstains(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.script = "Je n’ai pas trouvé cette information dans les documents."
    answer = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5)).ask(ALIBABA)
    assert answer.abstained


def test_llm_rewrites_followups(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.script = [
        "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?",
        "Environ 30 personnes travaillaient dans ce laboratoire [1].",
    ]
    service = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=5))
    answer = service.ask("Et combien y travaillaient ?", [("Alibaba ferme-t-il un laboratoire ?", "Oui [1].")])
    assert answer.rewritten_question == ALIBABA
    assert "30" in answer.text


# Index versions, settings passed through, a failing LLM ----------------------------------------

BREST_NOTE = "# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n"
BREST = "Combien d'escales de navires le port de Brest a-t-il accueillies en 2022 ?"


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def add_brest_note(corpus: Path, settings: Settings) -> None:
    """Publish a new version that also holds a note on Brest."""
    (corpus / "brest.md").write_text(BREST_NOTE, encoding="utf-8")
    index_paths([corpus], settings, HashingEmbedder())


def test_a_damaged_current_version_is_opened_once_not_on_every_question(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus, settings = index_seeds(tmp_path)
    add_brest_note(corpus, settings)
    flip_byte(settings.index_dir / "v000002" / "vectors.faiss")
    service = assistant(settings)
    with caplog.at_level(logging.WARNING, logger="rag.store.index"):
        answers = [service.ask(ALIBABA) for _ in range(3)]
    assert all("30 personnes" in answer.text for answer in answers)  # from the intact v000001
    fallbacks = [r for r in caplog.records if "using the previous version" in r.getMessage()]
    assert len(fallbacks) == 1, "the damaged version was opened and hashed again"


def test_a_question_keeps_the_version_it_started_with(tmp_path: Path, llm_server: FakeLLMServer) -> None:
    corpus, settings = index_seeds(tmp_path)

    def publish_while_rewriting(messages: list[dict[str, object]]) -> str:
        if not (corpus / "brest.md").exists():  # the rewrite: a new version appears meanwhile
            add_brest_note(corpus, settings)
            return BREST
        return "Le port de Brest a accueilli 4 200 escales de navires en 2022 [1]."

    llm_server.script = publish_while_rewriting
    service = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=30))
    answer = service.ask("Et combien d'escales ?", [("Parle-moi du port de Brest.", "Je ne sais pas.")])
    assert answer.rewritten_question == BREST
    assert not any(hit.source.endswith("brest.md") for hit in answer.hits)
    assert any(hit.source.endswith("brest.md") for hit in service.ask(BREST).hits)  # the next one sees it


def test_opening_a_new_version_does_not_make_other_questions_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, settings = index_seeds(tmp_path)
    service = assistant(settings)
    serving = service.snapshot()
    add_brest_note(corpus, settings)
    real_open = Index.open
    opened: list[Path] = []
    opening, release = threading.Event(), threading.Event()

    def slow_open(index_dir: Path, verify: bool = True) -> Index:
        opened.append(index_dir)
        opening.set()
        release.wait(30)  # a large index takes a while to hash and load
        return real_open(index_dir, verify)

    monkeypatch.setattr(Index, "open", slow_open)
    reopening = threading.Thread(target=service.snapshot)
    reopening.start()
    assert opening.wait(30)
    meanwhile: list[object] = []
    reader = threading.Thread(target=lambda: meanwhile.append(service.snapshot()))
    reader.start()
    reader.join(5)
    try:
        assert not reader.is_alive(), "a question waited for the new version to be opened"
        assert meanwhile == [serving]  # it kept answering from the version it had
    finally:
        release.set()
        reopening.join(30)
        reader.join(30)
    assert len(opened) == 1
    assert service.snapshot() is not serving and service.snapshot().index.folder.name == "v000002"


def test_min_relevance_zero_is_kept_not_replaced_by_the_default(settings: Settings) -> None:
    # Lexical only: the fake embedder's similarities would make anything look relevant.
    lexical = settings.replace(retrieval_mode="lexical")
    off_topic = "Qui a gagné la coupe du monde de rugby ?"  # a passage holds a quarter of its terms
    assert not assistant(lexical).retrieve(off_topic).relevant
    assert assistant(lexical.replace(min_relevance=0.0)).retrieve(off_topic).relevant
    assert assistant(lexical.replace(min_relevance=0.2)).retrieve(off_topic).relevant


def test_a_hung_llm_costs_one_timeout_even_with_history(settings: Settings, llm_server: FakeLLMServer) -> None:
    llm_server.delay_seconds = 3.0
    service = assistant(settings, OpenAICompatibleGenerator(llm_server.url, "test-model", timeout=0.5))
    history = [("Quel laboratoire Alibaba a-t-il fermé ?", "Son laboratoire de calcul quantique [1].")]
    events = list(service.stream("Et combien de personnes y travaillaient ?", history))
    assert len(llm_server.requests) == 1, "the answer waited for the hung server a second time"
    assert isinstance(events[0], Retrieved) and events[0].passages
    done = events[-1]
    assert isinstance(done, Done) and done.answer.error
    assert "did not answer within 0.5 s" in done.answer.error and "\n" not in done.answer.error
    assert done.answer.hits[0].source.endswith("003_c00ce55952bfa148.txt")  # searched with the built-in rewrite


def test_an_index_from_another_backend_says_to_rebuild(settings: Settings) -> None:
    # Same model name, another backend: another vector space (e5 with or without its prefixes).
    elsewhere = Assistant(settings.replace(embedding_backend="e5"), embedder=HashingEmbedder())
    with pytest.raises(UserError, match=r"\(fake\).*\(e5\).*rag index") as caught:
        elsewhere.ask(ALIBABA)
    assert "\n" not in str(caught.value)
