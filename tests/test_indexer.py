"""Incremental indexing, atomic versions and the lock, with the fake embedder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.catalog import list_documents
from rag.indexing.discover import PathNotFoundError
from rag.indexing.indexer import index_paths
from rag.ingest.loaders import LOADERS
from rag.settings import Settings
from rag.store import index as index_module
from rag.store.index import Index
from rag.store.versions import IndexLockedError, IndexWriteError, current_version, writer_lock

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", embedding_backend="fake")


def test_first_run_indexes_every_article(corpus: Path, settings: Settings) -> None:
    embedder = HashingEmbedder()
    report = index_paths([corpus], settings, embedder)
    assert len(report.added) == 2 and not report.skipped
    assert report.chunks_embedded == report.chunks_total > 2
    index = Index.open(settings.index_dir)
    assert len(index) == report.chunks_total
    for document in index.docstore.documents():
        for row in index.docstore.chunk_rows(document.id):
            chunk = index.docstore.chunks([row])[row]
            assert document.text[chunk.start : chunk.end] == chunk.text


def test_rerun_on_unchanged_folder_embeds_nothing_and_writes_no_version(corpus: Path, settings: Settings) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    version = current_version(settings.index_dir)
    embedder = HashingEmbedder()
    report = index_paths([corpus], settings, embedder)
    assert report.unchanged == 2 and not (report.added or report.updated or report.removed)
    assert embedder.embedded == 0
    assert current_version(settings.index_dir) == version


def test_changed_file_reembeds_only_its_changed_chunks(corpus: Path, settings: Settings) -> None:
    first = index_paths([corpus], settings, HashingEmbedder())
    article = corpus / "003_c00ce55952bfa148.txt"
    article.write_text(article.read_text(encoding="utf-8") + "\nUne phrase ajoutée à la fin.\n", encoding="utf-8")
    embedder = HashingEmbedder()
    report = index_paths([corpus], settings, embedder)
    assert report.updated == [str(article)]
    assert 0 < embedder.embedded < first.chunks_total
    titles = [d.title for d in list_documents(settings)]
    assert len(titles) == 2


def test_deleted_file_disappears(corpus: Path, settings: Settings) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    gone = corpus / "000_152f96d1acfd8424.txt"
    gone.unlink()
    report = index_paths([corpus], settings, HashingEmbedder())
    assert report.removed == [str(gone)]
    documents = list_documents(settings)
    assert [d.path for d in documents] == [str(corpus / "003_c00ce55952bfa148.txt")]
    assert Index.open(settings.index_dir).manifest.chunks == report.chunks_total


def test_identical_file_under_two_names_is_stored_once(corpus: Path, settings: Settings) -> None:
    shutil.copy(corpus / "003_c00ce55952bfa148.txt", corpus / "copy.txt")
    embedder = HashingEmbedder()
    report = index_paths([corpus], settings, embedder)
    assert len(report.added) == 3
    documents = list_documents(settings)
    assert len(documents) == 2
    assert sorted(len(d.paths) for d in documents) == [1, 2]
    # Removing one name keeps the document under the other.
    (corpus / "003_c00ce55952bfa148.txt").unlink()
    index_paths([corpus], settings, HashingEmbedder())
    assert any(d.paths == (str(corpus / "copy.txt"),) for d in list_documents(settings))


def test_model_change_rebuilds_everything(corpus: Path, settings: Settings) -> None:
    first = index_paths([corpus], settings, HashingEmbedder(dimension=64))
    embedder = HashingEmbedder(dimension=32)
    report = index_paths([corpus], settings, embedder)
    assert report.rebuilt and "Embedding model changed" in report.rebuilt
    assert embedder.embedded == first.chunks_total
    assert Index.open(settings.index_dir).vectors.d == 32


def test_chunking_change_rebuilds(corpus: Path, settings: Settings) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    report = index_paths([corpus], settings.replace(chunk_max_tokens=80), HashingEmbedder())
    assert report.rebuilt and "Chunking" in report.rebuilt
    assert report.chunks_total > 0


def test_missing_path_is_an_error_and_changes_nothing(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(PathNotFoundError):
        index_paths([tmp_path / "nope"], settings, HashingEmbedder())
    assert current_version(settings.index_dir) is None


def test_folder_with_nothing_indexable_is_reported(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    report = index_paths([folder], settings, HashingEmbedder())
    assert report.empty_folders == [str(folder)]
    assert [s.path for s in report.skipped] == [str(folder / "image.png")]


def test_bad_file_keeps_the_indexed_version(corpus: Path, settings: Settings) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    article = corpus / "003_c00ce55952bfa148.txt"
    article.write_bytes(b"")
    report = index_paths([corpus], settings, HashingEmbedder())
    assert [s.path for s in report.skipped] == [str(article)]
    assert not report.removed
    assert len(list_documents(settings)) == 2


def test_second_writer_gets_a_clear_error(corpus: Path, settings: Settings) -> None:
    with writer_lock(settings.index_dir), pytest.raises(IndexLockedError, match="wait for it"):
        index_paths([corpus], settings, HashingEmbedder())


def test_failure_while_writing_leaves_previous_version(
    corpus: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    before = current_version(settings.index_dir)
    (corpus / "extra.md").write_text("# Extra\n\nUn autre article sur le cloud.\n", encoding="utf-8")

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_module, "write_docstore", disk_full)
    with pytest.raises(IndexWriteError, match="No space left"):
        index_paths([corpus], settings, HashingEmbedder())
    assert current_version(settings.index_dir) == before
    assert len(list_documents(settings)) == 2
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".staging")]


def test_index_folder_holds_only_plain_files(corpus: Path, settings: Settings) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    folder = current_version(settings.index_dir)
    assert folder is not None
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"manifest.json", "vectors.faiss", "docstore.sqlite"} <= names
    for path in folder.rglob("*"):
        if path.is_file():
            assert path.suffix not in {".pkl", ".pickle"}
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks pickled"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["embedder"]["dimension"] == 64 and set(manifest["checksums"]) == names - {"manifest.json"}


def test_only_two_versions_are_kept(corpus: Path, settings: Settings) -> None:
    for n in range(4):
        (corpus / f"note{n}.md").write_text(f"# Note {n}\n\nLe numéro {n} parle de Shanghai.\n", encoding="utf-8")
        index_paths([corpus], settings, HashingEmbedder())
    versions = sorted(p.name for p in settings.index_dir.glob("v*"))
    assert len(versions) == 2 and current_version(settings.index_dir).name == versions[-1]  # type: ignore[union-attr]


def test_deleted_name_of_a_duplicate_is_no_longer_cited(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "duplicates"
    folder.mkdir()
    text = "Le port de Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n"
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(text, encoding="utf-8")
    index_paths([folder], settings, HashingEmbedder())
    (folder / "a.txt").unlink()
    embedder = HashingEmbedder()
    report = index_paths([folder], settings, embedder)
    assert report.removed == [str(folder / "a.txt")] and embedder.embedded == 0
    index = Index.open(settings.index_dir)
    try:
        (document,) = index.docstore.documents()
    finally:
        index.close()
    assert document.path == str(folder / "b.txt")
    answer = Assistant(settings, embedder=HashingEmbedder()).ask("Combien d'escales le port de Brest a-t-il eues ?")
    assert answer.hits and {hit.source for hit in answer.hits} == {str(folder / "b.txt")}


def _count_text_loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths the .txt loader parses from now on (the loader is looked up at each load)."""
    loaded: list[Path] = []
    real = LOADERS[".txt"]

    def counting(path: Path, data: bytes, settings: Settings) -> Any:
        loaded.append(path)
        return real(path, data, settings)

    monkeypatch.setitem(LOADERS, ".txt", counting)
    return loaded


def test_touched_file_is_read_once_and_then_remembered(
    corpus: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_paths([corpus], settings, HashingEmbedder())
    version = current_version(settings.index_dir)
    article = corpus / "003_c00ce55952bfa148.txt"
    info = article.stat()
    os.utime(article, ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))  # touched: same bytes
    loaded = _count_text_loads(monkeypatch)
    first = index_paths([corpus], settings, HashingEmbedder())
    assert loaded == [article] and first.unchanged == 2 and not (first.added or first.updated)
    loaded.clear()
    embedder = HashingEmbedder()
    second = index_paths([corpus], settings, embedder)
    assert loaded == [] and second.unchanged == 2 and embedder.embedded == 0
    assert current_version(settings.index_dir) == version  # remembered without writing a version
    # Remembering the touch never hides a real change.
    article.write_text(article.read_text(encoding="utf-8") + "\nUne phrase ajoutée.\n", encoding="utf-8")
    assert index_paths([corpus], settings, HashingEmbedder()).updated == [str(article)]
