"""Loading and chunking: offsets stay true, bad files are skipped with a reason."""

from __future__ import annotations

import codecs
import hashlib
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from pdf_factory import blank_pdf, encrypted_pdf, text_pdf

from rag.embedders.fake import HashingEmbedder
from rag.ingest import SUPPORTED_EXTENSIONS, SkipFile, chunk_document, load_document
from rag.ingest.clean import find_boilerplate
from rag.ingest.decode import decode_text
from rag.settings import Settings
from rag.text.sentences import sentences
from rag.types import Chunk, Document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_000 = SEEDS / "000_152f96d1acfd8424.txt"
SEED_003 = SEEDS / "003_c00ce55952bfa148.txt"
COUNT = HashingEmbedder().count_tokens
SETTINGS = Settings()


def load(path: Path, settings: Settings = SETTINGS, root: Path | None = None) -> Document:
    return load_document(path, settings, root)


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def skip_reason(path: Path, settings: Settings = SETTINGS, root: Path | None = None) -> str:
    with pytest.raises(SkipFile) as caught:
        load_document(path, settings, root)
    assert "\n" not in caught.value.reason
    return caught.value.reason


def check_chunks(doc: Document, chunks: list[Chunk], count: Callable[[str], int], max_tokens: int) -> None:
    assert chunks
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert count(chunk.text) <= max_tokens
        assert chunk.doc_id == doc.id
        for start, end in doc.excluded:
            assert end <= chunk.start or start >= chunk.end, "a chunk overlaps boilerplate"


# Seeds ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [SEED_000, SEED_003])
@pytest.mark.parametrize(("max_tokens", "overlap"), [(200, 40), (60, 15), (20, 0)])
def test_seed_chunks_keep_offsets_and_budget(seed: Path, max_tokens: int, overlap: int) -> None:
    doc = load(seed)
    check_chunks(doc, chunk_document(doc, COUNT, max_tokens, overlap), COUNT, max_tokens)


def test_seed_000_title_language_and_boilerplate() -> None:
    doc = load(SEED_000)
    assert doc.title == "Amazon confirme la fermeture de son laboratoire d’IA à Shanghai"
    assert doc.date is None  # "le 31 mars 2025" in a photo caption is not the article's date
    assert doc.language == "fr" and doc.format == "txt" and doc.pages == ()
    assert doc.text == SEED_000.read_text(encoding="utf-8")
    assert doc.id == hashlib.sha256(SEED_000.read_bytes()).hexdigest()[:32]
    boilerplate = [doc.text[start:end] for start, end in doc.excluded]
    caption = boilerplate[0]
    assert caption.startswith("Logo d'Amazon Web Services (AWS)")  # the photo's caption, above its credit
    assert boilerplate[1:] == [
        "Photo: RONNY HARTMANN/AFP via Getty Images",
        "Journaliste.",
        "Articles actuels de l’auteur",
    ]
    chunks = chunk_document(doc, COUNT, 200, 40)
    for chunk in chunks:
        for line in boilerplate:
            assert line not in chunk.text
    assert any("« ajustements stratégiques" in chunk.text for chunk in chunks)
    assert "d’intelligence artificielle" in doc.text  # typographic apostrophe kept


def test_seed_003_date_marker_is_metadata() -> None:
    doc = load(SEED_003)
    assert doc.date == "2023-11"
    # It has no title: its first line is its lead paragraph, so the file's name stands in for it.
    assert doc.title == "003_c00ce55952bfa148"
    chunks = chunk_document(doc, COUNT, 200, 40)
    assert chunks[0].text.startswith("Face aux défis")
    assert "l’Université de Zhejiang" in doc.text


LEAD = "Le port a accueilli des navires venus de loin, " * 4 + "en 2022."


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        ("lead.txt", f"date 2024-05 {LEAD}\n\nSuite.", "lead"),
        ("lead.md", f"{LEAD}\n\nSuite.\n", "lead"),
        ("lead.html", f"<html><body><p>{LEAD}</p><p>Suite.</p></body></html>", "lead"),
        # A long headline is still a title (shortened): no full stop, shorter than any paragraph lead.
        (
            "news.txt",
            "Coronavirus : la chloroquine promue par le professeur Raoult peut augmenter le risque "
            "de décès, selon une étude\n\nLe texte.",
            "Coronavirus : la chloroquine promue par le professeur Raoult peut augmenter le risque de décès…",
        ),
        ("short.txt", "Une note.\n\nLe texte de la note.", "Une note."),
    ],
)
def test_an_untitled_article_is_named_after_its_file(tmp_path: Path, name: str, text: str, title: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert load(path).title == title


def test_identical_files_share_an_id(tmp_path: Path) -> None:
    copy = write(tmp_path, "other-name.txt", SEED_003.read_bytes())
    assert load(copy).id == load(SEED_003).id
    assert load(copy).path == str(copy)


# Encodings ------------------------------------------------------------------

TEXT = "L’été à Noël coûte 5 € — « très » cher.\r\nSecond line.\n"


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        TEXT.encode("utf-8-sig"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-16-le"),
        TEXT.encode("utf-16-be"),
        TEXT.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-sig", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le", "utf-16-be", "cp1252"],
)
def test_every_encoding_decodes_exactly(tmp_path: Path, data: bytes) -> None:
    assert decode_text(data) == TEXT  # BOM dropped, \r\n kept
    assert load(write(tmp_path, "note.txt", data)).text == TEXT


def test_latin1_decodes() -> None:
    assert decode_text("Déjà vu, ça coûte ½.".encode("latin-1")) == "Déjà vu, ça coûte ½."


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), bytes(range(1, 32)) * 20],
    ids=["nul-bytes", "control-chars"],
)
def test_binary_is_refused(data: bytes) -> None:
    with pytest.raises(SkipFile, match="binary file, not text"):
        decode_text(data)


# Bad files ------------------------------------------------------------------


def test_bad_files_are_skipped_with_one_line(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path, "empty.txt", b"")) == "empty file"
    assert "whitespace" in skip_reason(write(tmp_path, "blank.md", b" \n\t\r\n  "))
    assert skip_reason(write(tmp_path, "image.txt", bytes(range(256)) * 4)) == "binary file, not text"
    assert skip_reason(write(tmp_path, "tool.exe", b"MZ\x90\x00")) == "unsupported extension .exe"
    assert skip_reason(write(tmp_path, "archive.pdf", b"PK\x03\x04" + bytes(64))).startswith("not a PDF")
    assert ".docx" not in SUPPORTED_EXTENSIONS and ".md" in SUPPORTED_EXTENSIONS


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", b"a" * 3 * 1024 * 1024)
    reason = skip_reason(path, Settings(max_file_bytes=2 * 1024 * 1024))
    assert reason == "file is 3.0 MB, above the 2.0 MB limit (max_file_bytes)"


def test_symlink_outside_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    target = write(outside, "passwords.txt", b"hunter2 is my password.")
    (root / "link.txt").symlink_to(target)
    (root / "inside.txt").symlink_to(SEED_003)
    assert "outside" in skip_reason(root / "link.txt", root=root)
    assert load(root / "link.txt").text  # without a root there is nothing to escape
    write(root, "real.txt", b"Inside the root.")
    assert load(root / "real.txt", root=root).text == "Inside the root."


# PDF ------------------------------------------------------------------------

PAGES = [["Hello world. This is page one.", "It has two lines."], ["Page two says goodbye."]]


def test_pdf_text_pages_title_and_date(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "a.pdf", text_pdf(PAGES, title="Quarterly report", created="D:20240305120000Z")))
    assert doc.format == "pdf" and doc.title == "Quarterly report" and doc.date == "2024-03-05"
    assert doc.pages == (0, doc.text.index("Page two"))
    assert doc.text.startswith("Hello world. This is page one.")
    chunks = chunk_document(doc, COUNT, 200, 40)
    assert [(chunk.page, chunk.text) for chunk in chunks] == [
        (1, "Hello world. This is page one.\nIt has two lines."),
        (2, "Page two says goodbye."),
    ]


def test_pdf_without_metadata_takes_first_line_as_title(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "b.pdf", text_pdf([["Annual results", "Revenue grew."]])))
    assert doc.title == "Annual results" and doc.date is None


def test_bad_pdfs_are_skipped(tmp_path: Path) -> None:
    good = text_pdf(PAGES)
    assert skip_reason(write(tmp_path, "scan.pdf", blank_pdf())) == "PDF has no text layer (scanned?)"
    assert skip_reason(write(tmp_path, "locked.pdf", encrypted_pdf(good, "secret"))) == "PDF is password-protected"
    assert skip_reason(write(tmp_path, "cut.pdf", good[: len(good) // 2])).startswith("corrupt PDF: ")
    assert skip_reason(write(tmp_path, "junk.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8)).startswith("corrupt PDF")


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "open.pdf", encrypted_pdf(text_pdf(PAGES), "")))
    assert "Page two says goodbye." in doc.text


def test_pdf_parsing_has_a_time_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "slow.pdf", text_pdf(PAGES))
    reason = skip_reason(path, Settings(pdf_timeout_seconds=0.001))
    assert reason == "PDF parsing took longer than 0.001 s (pdf_timeout_seconds)"


def test_pdf_worker_runs_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "c.pdf", text_pdf(PAGES))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    assert load(path).text.endswith("Page two says goodbye.")


# HTML -----------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><title>Le titre de la page</title>
<meta name="date" content="2024-03-05"><style>body { color: red }</style>
<script>var leaked = "SCRIPT";</script></head><body>
<nav><a href="/">Accueil</a> <a href="/menu">NAVMENU</a></nav>
<article><p>L’intelligence artificielle progresse vite, et « les laboratoires » publient chaque semaine.</p>
<p>Les chercheurs de Shanghai ont présenté un nouveau modèle lors de la conférence annuelle.</p></article>
<footer>FOOTER mentions légales</footer></body></html>"""


def test_html_main_text_title_and_date(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "page.html", PAGE.encode("utf-8")))
    assert doc.format == "html" and doc.title == "Le titre de la page" and doc.date == "2024-03-05"
    assert "L’intelligence artificielle progresse vite" in doc.text and "« les laboratoires »" in doc.text
    for leaked in ("SCRIPT", "color", "NAVMENU", "FOOTER", "<p>"):
        assert leaked not in doc.text
    check_chunks(doc, chunk_document(doc, COUNT, 200, 40), COUNT, 200)


def test_html_fallback_when_trafilatura_finds_nothing(tmp_path: Path) -> None:
    markup = "<html><body><nav>MENU</nav><h1>Short</h1><script>x()</script><p>Tiny.</p></body></html>"
    doc = load(write(tmp_path, "tiny.htm", markup.encode()))
    assert "Tiny." in doc.text and "MENU" not in doc.text and "x()" not in doc.text
    assert doc.title


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    nest = "<div>" * 5000 + "deep" + "</div>" * 5000
    # libxml2 stops at depth 255, so text below it is lost but nothing breaks.
    doc = load(write(tmp_path, "deep.html", f"<html><body><p>Before the nest.</p>{nest}</body></html>".encode()))
    assert doc.text.startswith("Before the nest.")
    assert skip_reason(write(tmp_path, "deeper.html", f"<html><body>{nest}</body></html>".encode()))


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path, "void.html", b"<html><body><script>1</script></body></html>"))


# Text titles and dates ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "title", "date"),
    [
        ("# My *notes*\n\nBody.", "My notes", None),
        ("# Le phare de Kerbrat\ndate 2024-05\n\nTexte.", "Le phare de Kerbrat", "2024-05"),
        ("---\ntitle: Front matter\ndate: 2021-02\n---\n# Heading\n", "Front matter", None),
        ("Titre\nPublié le 5 novembre 2023 à 10h\n\nTexte.", "Titre", "2023-11-05"),
        ("Title\nPublished on March 7, 2024\n\nText.", "Title", "2024-03-07"),
        ("Titre\ndate: 2023-11\n\nTexte.", "Titre", "2023-11"),
        ("Titre\n2023-11-05\n\nTexte.", "Titre", "2023-11-05"),
        ("Titre\nUn texte qui parle du 5 novembre 2023 sans le dater.", "Titre", None),
        ("Titre\n2023-13-45\n", "Titre", None),
    ],
)
def test_text_title_and_date(tmp_path: Path, content: str, title: str, date: str | None) -> None:
    doc = load(write(tmp_path, "note.md", content.encode()))
    assert doc.title == title
    assert doc.date == (date or ("2021-02" if "date: 2021-02" in content else None))


def test_markdown_is_read_without_its_markup(tmp_path: Path) -> None:
    source = (
        "---\nauthor: A\n---\n# Le phare de Kerbrat\n\nIl mesure **42 mètres** et fut bâti par *Louis Morvan*.\n\n"
        "> Voir [le site](https://example.org) et ![la photo](p.png).\n\n---\n\n"
        "```\nsnake_case = `code`\n```\n\nLe fichier `config_file.toml` reste tel quel, 2 * 3 aussi.\n"
    )
    text = load(write(tmp_path, "phare.md", source.encode())).text
    assert text.startswith("Le phare de Kerbrat\n\nIl mesure 42 mètres et fut bâti par Louis Morvan.")
    assert "Voir le site et la photo." in text
    assert "config_file.toml" in text and "2 * 3" in text and "snake_case" in text
    assert not any(mark in text for mark in ("#", "**", "](", "```", "> ", "author:"))


def test_long_heading_is_cut_at_sentence_end_and_a_long_first_line_is_no_title(tmp_path: Path) -> None:
    first = "Le conseil a voté le budget hier soir. " + "Puis il a débattu longuement de tout le reste " * 5
    heading = load(write(tmp_path, "a.md", f"# {first}\n\nTexte.".encode()))
    assert heading.title == "Le conseil a voté le budget hier soir"
    assert load(write(tmp_path, "a.txt", first.encode())).title == "a"  # a paragraph: the file's name


# Boilerplate ----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Crédit photo : Jean Dupont / Le Monde",
        "© AFP 2024",
        "Image: Reuters",
        "(Photo by John Smith/AFP via Getty Images)",
        "Par Marie Durand, journaliste",
        "Lire aussi : Amazon ferme son laboratoire",
        "Read more: The rise of agentic AI",
        "Partager sur Facebook Twitter LinkedIn",
        "Share this article",
        "Abonnez-vous à notre newsletter",
        "Nous utilisons des cookies pour améliorer votre expérience.",
        "Accepter tous les cookies",
    ],
)
def test_boilerplate_lines_are_found(line: str) -> None:
    text = f"Un vrai paragraphe.\n  {line}  \nLa suite."
    assert [text[start:end] for start, end in find_boilerplate(text)] == [line]


@pytest.mark.parametrize(
    "line",
    [
        "Le photographe a pris cette image lors de la manifestation.",
        "Copyright law in France protects authors for seventy years.",
        "Related work has shown similar results.",
        "Les cookies tiers seront interdits par Google en 2025, selon la CNIL.",
        "Par ailleurs, le journaliste a précisé ses sources.",
    ],
)
def test_prose_is_not_boilerplate(line: str) -> None:
    assert find_boilerplate(f"Intro.\n{line}\nFin.") == ()


# Chunking -------------------------------------------------------------------


def make_doc(text: str, excluded: tuple[tuple[int, int], ...] = (), pages: tuple[int, ...] = ()) -> Document:
    return Document(id="d", path="d.txt", text=text, title="t", excluded=excluded, pages=pages)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M. Wang a parlé. Mme. Dupont aussi. Le Dr. House est là.", 3),
        ("Le chiffre atteint 29,3 milliards. La hausse est de 3.5 % cette année.", 2),
        ("« Je le crois. » Il a écrit cela. « Pourquoi ? » demande-t-il. Puis rien…", 4),
        ("He joined the U.S. Army. J. R. R. Tolkien wrote it! Really? Yes.", 4),
        ("En 52 av. J.-C. César gagne. Voir p. 12 pour les détails.", 2),
    ],
)
def test_sentence_splitting(text: str, expected: int) -> None:
    assert len(list(sentences(text, 0, len(text)))) == expected


def test_chunks_never_cross_excluded_spans_or_pages() -> None:
    text = "Premier paragraphe ici. Encore une phrase.\nLire aussi : autre chose\nDeuxième partie. Fin."
    span = (text.index("Lire"), text.index("chose") + len("chose"))
    doc = make_doc(text, excluded=(span,), pages=(0, text.index("Fin.")))
    chunks = chunk_document(doc, COUNT, 1000, 100)
    assert [chunk.text for chunk in chunks] == [
        "Premier paragraphe ici. Encore une phrase.",
        "Deuxième partie.",
        "Fin.",
    ]
    assert [chunk.page for chunk in chunks] == [1, 1, 2]


def test_long_sentence_is_split_at_words() -> None:
    words = " ".join(f"mot{index}" for index in range(400))
    text = f"Une phrase courte. {words}. Une autre phrase. Et encore une dernière."
    doc = make_doc(text)
    chunks = chunk_document(doc, COUNT, 50, 10)
    check_chunks(doc, chunks, COUNT, 50)
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == " "
        assert chunk.end == len(text) or text[chunk.end] == " "


def test_overlap_carries_whole_sentences_within_budget() -> None:
    doc = make_doc(" ".join(f"Phrase {index} ici." for index in range(40)))
    count = len  # one token per character keeps the arithmetic visible
    chunks = chunk_document(doc, count, 60, 15)
    check_chunks(doc, chunks, count, 60)
    for previous, chunk in itertools.pairwise(chunks):
        shared = doc.text[chunk.start : previous.end]
        assert chunk.start < previous.end and len(shared) <= 15 and shared.endswith("ici.")


def test_word_longer_than_the_budget_is_cut() -> None:
    doc = make_doc("Voici une URL : " + "x" * 500 + " et la suite.")
    check_chunks(doc, chunk_document(doc, COUNT, 30, 5), COUNT, 30)


def test_counting_is_linear_not_quadratic() -> None:
    calls = 0

    def count(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text.split())

    sentences = [f"Phrase numéro {index} du long document." for index in range(3000)]
    doc = make_doc(" ".join(sentences))
    chunks = chunk_document(doc, count, 100, 20)
    check_chunks(doc, chunks, count, 100)
    assert calls < 2 * len(sentences)


def test_prefers_ending_at_a_paragraph() -> None:
    first = " ".join(["Phrase du premier paragraphe."] * 8)
    second = " ".join(["Phrase du second paragraphe."] * 8)
    doc = make_doc(f"{first}\n\n{second}")
    chunks = chunk_document(doc, lambda text: len(text.split()), 50, 0)
    assert chunks[0].text == first


def test_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document(make_doc("Texte."), COUNT, 0, 0)
