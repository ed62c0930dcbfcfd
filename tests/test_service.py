"""The answering service end to end on the seeds, with the fake embedder.

The LLM path goes through real HTTP and real streaming to the scripted
OpenAI-compatible server in ``tests/llm_server.py``.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.errors import UserError
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.indexer import index_paths
from rag.service import Assistant, Done, Retrieved, Token
from rag.settings import Settings
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
    document = assistant(settings).snapshot().retriever.document(first.hit.chunk.doc_id)
    assert document.text[first.start : first.end] == first.span_text


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
