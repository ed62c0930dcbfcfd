"""Upload handling: safe names, the size limit before parsing, per-file results (fast: fake embedder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.embedders.fake import HashingEmbedder
from rag.indexing import uploads
from rag.indexing.catalog import list_documents
from rag.indexing.indexer import index_paths
from rag.indexing.uploads import MAX_NAME_CHARS, delete_uploaded_copies, index_uploads, safe_filename, uploads_dir
from rag.settings import Settings
from tests.pdf_factory import text_pdf


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("article.md", "article.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\notes.TXT", "notes.txt"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("bad\x00name.md", "bad name.md"),
        ("..", "upload"),
        ("...md", "md"),
        (".hidden.md", "hidden.md"),
        ("a..b.md", "a.b.md"),
        ("CON.txt", "_CON.txt"),
        ("lpt1.tar.md", "_lpt1.tar.md"),
        ('what<>:"|?*.html', "what_______.html"),
        ("l’été à Lorient.md", "l’été à Lorient.md"),
        ("trailing. . .", "trailing"),
    ],
)
def test_safe_filename(given: str, expected: str) -> None:
    assert safe_filename(given) == expected


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = safe_filename("é" * 300 + ".md")
    assert name.endswith(".md") and len(name) <= MAX_NAME_CHARS and len(name.encode()) <= 240


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "data", embedding_backend="fake")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_each_file_gets_a_result_and_only_indexed_copies_stay(settings: Settings, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    files = [
        write(incoming, "lorient.md", "# Festival\n\nLe festival de Lorient a accueilli 850 000 visiteurs en 2024.\n"),
        write(incoming, "empty.txt", "   \n"),
        write(incoming, "notes.docx", "not supported"),
    ]
    results = index_uploads(files, settings, HashingEmbedder())
    assert [(r.name, r.status) for r in results] == [
        ("lorient.md", "indexed"),
        ("empty.txt", "skipped"),
        ("notes.docx", "skipped"),
    ]
    assert "unsupported file type .docx" in results[2].detail
    assert sorted(p.name for p in uploads_dir(settings).iterdir()) == ["lorient.md"]
    again = index_uploads([files[0]], settings, HashingEmbedder())
    assert again[0].status == "unchanged"


def test_files_above_the_limit_are_refused_before_anything_reads_them(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = settings.replace(max_file_bytes=1000)
    big = write(tmp_path / "incoming", "big.md", "x" * 2000)

    def must_not_copy(*args: object) -> None:
        raise AssertionError("an over-size file was read")

    monkeypatch.setattr(uploads, "_copy", must_not_copy)
    (result,) = index_uploads([big], small, HashingEmbedder())
    assert result.status == "skipped" and "above the 0.0 MB limit" in result.detail
    assert not (uploads_dir(small) / "big.md").exists()


def test_same_name_twice_in_one_upload_keeps_both(settings: Settings, tmp_path: Path) -> None:
    first = write(tmp_path / "a", "notes.md", "Première note sur le port de Brest et ses bateaux.")
    second = write(tmp_path / "b", "notes.md", "Seconde note sur la rade de Toulon et ses navires.")
    results = index_uploads([first, second], settings, HashingEmbedder())
    assert [r.name for r in results] == ["notes.md", "notes (2).md"]
    assert {r.status for r in results} == {"indexed"}


def test_removal_deletes_only_copies_inside_the_uploads_folder(settings: Settings, tmp_path: Path) -> None:
    own = write(tmp_path / "mine", "keep.md", "A user's own file, indexed from where it lives.")
    uploaded = write(uploads_dir(settings), "copy.md", "An uploaded copy.")
    assert delete_uploaded_copies([str(own), str(uploaded)], settings) == 1
    assert own.exists() and not uploaded.exists()


def test_uploaded_document_is_listed(settings: Settings, tmp_path: Path) -> None:
    index_uploads([write(tmp_path, "brest.md", "# Brest\n\nLe port de Brest.")], settings, HashingEmbedder())
    (document,) = list_documents(settings)
    assert document.title == "Brest" and Path(document.path).parent == uploads_dir(settings).absolute()


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("notes.md", b"# Brest\n\nLe port de Brest a accueilli 4 200 escales.\n", b""),
        ("report.pdf", text_pdf([["Le port de Brest a accueilli 4 200 escales."]]), b"%PDF-1.4\n1 0 obj garbage"),
    ],
    ids=["empty-markdown", "corrupt-pdf"],
)
def test_rejected_reupload_leaves_the_previous_copy(
    settings: Settings, tmp_path: Path, name: str, good: bytes, bad: bytes
) -> None:
    first, second = tmp_path / "first" / name, tmp_path / "second" / name
    for path, data in ((first, good), (second, bad)):
        path.parent.mkdir()
        path.write_bytes(data)
    assert index_uploads([first], settings, HashingEmbedder())[0].status == "indexed"
    saved = uploads_dir(settings) / name
    before = saved.stat()
    (result,) = index_uploads([second], settings, HashingEmbedder())
    assert result.status == "skipped"
    assert saved.read_bytes() == good and saved.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in uploads_dir(settings).iterdir()) == [name]  # no backup left behind
    (document,) = list_documents(settings)
    assert document.path == str(saved.absolute())
    # The folder and the index agree: indexing the copy again finds nothing to do.
    report = index_paths([saved], settings, HashingEmbedder())
    assert report.unchanged == 1 and not (report.skipped or report.updated)


def test_accepted_reupload_replaces_the_copy_and_leaves_nothing_behind(settings: Settings, tmp_path: Path) -> None:
    first = write(tmp_path / "first", "notes.md", "# Brest\n\nLe port de Brest a accueilli 4 200 escales.\n")
    second = write(tmp_path / "second", "notes.md", "# Toulon\n\nLa rade de Toulon a accueilli 900 navires.\n")
    index_uploads([first], settings, HashingEmbedder())
    (result,) = index_uploads([second], settings, HashingEmbedder())
    assert result.status == "updated"
    assert [p.name for p in uploads_dir(settings).iterdir()] == ["notes.md"]
    assert (uploads_dir(settings) / "notes.md").read_bytes() == second.read_bytes()
