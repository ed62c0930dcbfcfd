"""Version clean-up keeps a good fallback, and a version's folder and manifest agree on its number."""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.index import Index
from rag.store.versions import current_version
from tests.helpers import index_seeds


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def add_note(corpus: Path, settings: Settings, number: int) -> None:
    """One more article, indexed: one more version."""
    note = corpus / f"note{number}.md"
    note.write_text(f"# Note {number}\n\nLe quai numéro {number} du port de Brest mesure {number * 7} mètres.\n")
    assert str(note) in index_paths([corpus], settings, HashingEmbedder()).added


def versions(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.index_dir.glob("v*"))


def opened_version(settings: Settings) -> str:
    index = Index.open(settings.index_dir)
    try:
        assert index.folder.name == f"v{index.manifest.version:06d}", "folder and manifest disagree"
        return index.folder.name
    finally:
        index.close()


def test_clean_up_keeps_the_good_fallback_and_drops_the_damaged_version(tmp_path: Path) -> None:
    corpus, settings = index_seeds(tmp_path)
    add_note(corpus, settings, 1)
    add_note(corpus, settings, 2)
    assert versions(settings) == ["v000002", "v000003"]
    flip_byte(settings.index_dir / "v000003" / "docstore.sqlite")
    assert opened_version(settings) == "v000002"  # reading falls back to the good one
    add_note(corpus, settings, 3)
    assert versions(settings) == ["v000002", "v000004"]
    # The kept fallback really serves when the new version is damaged in turn.
    flip_byte(settings.index_dir / "v000004" / "vectors.faiss")
    assert opened_version(settings) == "v000002"


def test_a_version_never_published_is_not_the_fallback_nor_skews_numbering(tmp_path: Path) -> None:
    corpus, settings = index_seeds(tmp_path)
    add_note(corpus, settings, 1)
    # A writer killed between renaming its folder into place and switching CURRENT leaves a
    # complete version above the current one; no reader ever saw it.
    shutil.copytree(settings.index_dir / "v000002", settings.index_dir / "v000003")
    add_note(corpus, settings, 2)
    assert current_version(settings.index_dir) == settings.index_dir / "v000003"
    assert opened_version(settings) == "v000003"
    assert versions(settings) == ["v000002", "v000003"]
    index = Index(settings.index_dir / "v000003")
    try:
        assert any(s.path.endswith("note2.md") for s in index.docstore.sources())
    finally:
        index.close()
