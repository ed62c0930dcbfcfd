"""The Documents tab and ``rag sources``: a damaged index says what to do, and listing stays cheap."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.catalog import list_documents
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.manifest import MANIFEST, IndexCorruptError
from rag.store.versions import current_version
from tests.helpers import access_times_recorded, index_seeds, run_cli
from ui.actions import AssistantHolder, documents_view, remove

BREST_NOTE = "# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n"


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def holder_for(settings: Settings) -> AssistantHolder:
    return AssistantHolder(Assistant(settings, embedder=HashingEmbedder()))


def test_documents_tab_on_an_index_with_no_intact_version_says_to_reindex(tmp_path: Path) -> None:
    _, settings = index_seeds(tmp_path)
    flip_byte(settings.index_dir / "v000001" / "docstore.sqlite")
    table, dropdown = documents_view(holder_for(settings))
    text = visible_text(table)
    assert "damaged" in text and "rag index" in text and "\n" not in text.strip()
    assert dropdown.choices == []


def test_removing_from_an_index_with_no_intact_version_says_to_reindex(tmp_path: Path) -> None:
    _, settings = index_seeds(tmp_path)
    doc_id = list_documents(settings)[0].doc_id
    flip_byte(settings.index_dir / "v000001" / "docstore.sqlite")
    status, table, _dropdown = remove(holder_for(settings), doc_id)
    assert "rag index" in visible_text(status) and "damaged" in visible_text(table)


def test_listing_documents_reads_only_the_manifest_and_the_docstore(tmp_path: Path) -> None:
    if not access_times_recorded(tmp_path):
        pytest.skip("access times are not recorded on this file system")
    _, settings = index_seeds(tmp_path)
    folder = current_version(settings.index_dir)
    assert folder is not None
    others = [p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, "docstore.sqlite")]
    for path in others:
        os.utime(path, (0, path.stat().st_mtime))  # any read moves the access time
    titles = {d.title for d in list_documents(settings)}
    assert "Amazon confirme la fermeture de son laboratoire d’IA à Shanghai" in titles
    read = [str(p.relative_to(folder)) for p in others if p.stat().st_atime != 0]
    assert not read, f"listing documents read {read}"


def test_listing_falls_back_to_the_previous_version_when_the_docstore_is_damaged(tmp_path: Path) -> None:
    corpus, settings = index_seeds(tmp_path)
    (corpus / "brest.md").write_text(BREST_NOTE, encoding="utf-8")
    index_paths([corpus], settings, HashingEmbedder())
    assert any(d.title == "Brest" for d in list_documents(settings))
    flip_byte(settings.index_dir / "v000002" / "docstore.sqlite")
    listed = list_documents(settings)
    assert listed and not any(d.title == "Brest" for d in listed)  # v000001 predates the note
    flip_byte(settings.index_dir / "v000001" / "docstore.sqlite")
    with pytest.raises(IndexCorruptError, match="run `rag index`"):
        list_documents(settings)


def test_rag_sources_on_a_damaged_index_is_one_line(tmp_path: Path) -> None:
    _, settings = index_seeds(tmp_path)
    flip_byte(settings.index_dir / "v000001" / "docstore.sqlite")
    done = run_cli("sources", "--index", str(settings.index_dir))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "run `rag index`" in done.stderr
