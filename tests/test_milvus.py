"""The app on the Milvus store (Milvus Lite in a file under tmp_path), through its real entry points.

``rag index`` (new, unchanged, changed, deleted, copied and renamed files), ``rag ask``,
``rag sources`` and ``rag eval`` in child processes, compared with the file store where
the same analysis and embedder must give the same figures. The service, removal and
the embedding-model rebuild in this process. The UI and the API: tests/test_milvus_apps.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.answering.service import Assistant
from rag.cli import main
from rag.embedders.fake import HashingEmbedder
from rag.errors import UserError
from rag.indexing.indexer import index_paths, remove_document
from rag.settings import Settings
from tests.helpers import ROOT, SEEDS
from tests.milvus_helpers import milvus_settings, opened, rag, read_corpus, release

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
QA_FILE = SEEDS / "qa.jsonl"


def note(title: str, fact: str) -> str:
    return f"# {title}\n\n{fact}\n\nCe paragraphe complète la note sur {title.lower()} sans rien changer au fait.\n"


def index_json(folder: Path, index_dir: Path) -> dict[str, object]:
    done = rag("index", str(folder), "--index", str(index_dir), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_index_runs_follow_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, index_dir = tmp_path / "articles", tmp_path / "index"
    folder.mkdir()
    for name in ("brest", "lorient", "quimper", "vannes"):
        (folder / f"{name}.md").write_text(note(f"Le port de {name}", f"{name} a reçu 120 escales."), encoding="utf-8")
    settings = milvus_settings(index_dir)

    first = index_json(folder, index_dir)
    assert len(first["added"]) == 4 and first["chunks_embedded"] == first["chunks_total"] > 0  # type: ignore[list-item]
    before = read_corpus(settings)
    assert sorted(Path(w.paths[0]).name for w in before.values()) == [
        f"{n}.md" for n in ("brest", "lorient", "quimper", "vannes")
    ]

    monkeypatch.setenv("RAG_STORE_BACKEND", "milvus")  # the same command in this process: no start-up to pay
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "fake")
    try:
        assert main(["index", str(folder), "--index", str(index_dir), "--json"]) == 0
    finally:
        release(settings)
    again = json.loads(capsys.readouterr().out)
    assert (again["added"], again["updated"], again["removed"], again["unchanged"]) == ([], [], [], 4)
    assert again["chunks_embedded"] == 0 and read_corpus(settings) == before

    changed = note("Le port de brest", "brest a reçu 950 escales, un record.")
    (folder / "brest.md").write_text(changed, encoding="utf-8")  # changed: its chunks are replaced
    (folder / "lorient.md").unlink()  # deleted: it leaves
    shutil.copy(folder / "quimper.md", folder / "quimper-copie.md")  # the same bytes twice: one document
    (folder / "vannes.md").rename(folder / "vannes-2024.md")  # renamed: the same document, embedded once
    third = index_json(folder, index_dir)
    assert third["updated"] == [str(folder / "brest.md")]
    assert sorted(third["added"]) == [str(folder / "quimper-copie.md"), str(folder / "vannes-2024.md")]  # type: ignore[arg-type]
    assert sorted(third["removed"]) == [str(folder / "lorient.md"), str(folder / "vannes.md")]  # type: ignore[arg-type]
    after = read_corpus(settings)
    by_name = {Path(p).name: w for w in after.values() for p in w.paths}
    assert sorted(by_name) == ["brest.md", "quimper-copie.md", "quimper.md", "vannes-2024.md"]
    assert len(after) == 3 and by_name["quimper.md"] is by_name["quimper-copie.md"]
    assert "950 escales" in by_name["brest.md"].text and "120 escales" not in by_name["brest.md"].text
    assert not any("120 escales" in text for _, _, text in by_name["brest.md"].chunks), "old chunks are still there"
    new_chunks = {text for _, _, text in by_name["brest.md"].chunks}
    old_chunks = {text for w in before.values() if "brest.md" in w.paths[0] for _, _, text in w.chunks}
    assert third["chunks_embedded"] == len(new_chunks - old_chunks) > 0  # nothing else: copy and rename embed nothing
    assert by_name["vannes-2024.md"].chunks == next(w for w in before.values() if "vannes" in w.paths[0]).chunks

    listed = rag("sources", "--index", str(index_dir), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {Path(row["path"]).name: row for row in json.loads(listed.stdout)}
    assert sorted(rows) == ["brest.md", "quimper-copie.md", "vannes-2024.md"]  # a copy shows under its first name
    assert [Path(p).name for p in rows["quimper-copie.md"]["paths"]] == ["quimper-copie.md", "quimper.md"]
    assert rows["brest.md"]["chunks"] == len(by_name["brest.md"].chunks)


# One index of the seeds on each store ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Settings]:
    """(files, milvus) settings of two indexes of the same seed articles, built in this process and released."""
    root = tmp_path_factory.mktemp("milvus-seeds")
    corpus = root / "seeds"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    files = Settings(index_dir=root / "files", embedding_backend="fake")
    milvus = milvus_settings(root / "milvus")
    for settings in (files, milvus):
        index_paths([corpus], settings, HashingEmbedder())
    release(milvus)
    return files, milvus


def test_ask_and_sources_print_what_the_file_store_prints(
    stores: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files, milvus = stores
    asked = rag("ask", ALIBABA, "--index", str(milvus.index_dir), "--json")
    listed = rag("sources", "--index", str(milvus.index_dir))
    assert asked.returncode == 0 and listed.returncode == 0, asked.stderr + listed.stderr
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "fake")
    assert main(["ask", ALIBABA, "--index", str(files.index_dir), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    answer = json.loads(asked.stdout)
    assert "Environ 30 personnes" in answer["answer"]
    for key in ("answer", "abstained", "citations", "rewritten_question"):
        assert answer[key] == expected[key], key
    assert [(r["source"], r["start"], r["end"]) for r in answer["retrieved"]] == [
        (r["source"], r["start"], r["end"]) for r in expected["retrieved"]
    ]
    assert main(["sources", "--index", str(files.index_dir)]) == 0
    assert listed.stdout == capsys.readouterr().out
    monkeypatch.setenv("RAG_STORE_BACKEND", "milvus")  # the plain forms, in this process
    try:
        assert main(["ask", ALIBABA, "--index", str(milvus.index_dir)]) == 0
        assert main(["sources", "--index", str(milvus.index_dir), "--json"]) == 0
    finally:
        release(milvus)
    *plain, listing = capsys.readouterr().out.strip().splitlines()
    assert plain[0] == expected["answer"].split("\n")[0] and "Sources:" in plain
    assert sorted(Path(row["path"]).name for row in json.loads(listing)) == sorted(p.name for p in SEEDS.glob("*.txt"))


def test_eval_gives_the_file_store_figures(
    stores: tuple[Settings, Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files, milvus = stores
    on_milvus = rag("eval", str(QA_FILE), "--index", str(milvus.index_dir), "--out", str(tmp_path / "milvus.jsonl"))
    assert on_milvus.returncode == 0, on_milvus.stderr
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "fake")
    monkeypatch.chdir(ROOT)
    assert main(["eval", str(QA_FILE), "--index", str(files.index_dir), "--out", str(tmp_path / "files.jsonl")]) == 0

    def figures(table: str) -> list[str]:
        return [line for line in table.splitlines() if "_ms" not in line]  # timings differ, not the figures

    assert figures(on_milvus.stdout) == figures(capsys.readouterr().out) and "recall@5" in on_milvus.stdout

    def lines(name: str) -> tuple[list[dict[str, object]], list[float]]:
        """Each question's record without its timings, and the fused scores apart (Milvus sums in float32)."""
        rows = [json.loads(line) for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()]
        scores = [passage.pop("score") for row in rows for passage in row["retrieved"]]
        return [{k: v for k, v in row.items() if k != "timings_ms"} for row in rows], scores

    (milvus_rows, milvus_scores), (file_rows, file_scores) = lines("milvus.jsonl"), lines("files.jsonl")
    assert len(milvus_rows) == 36 and milvus_rows == file_rows  # the same answers, passages, ranks and citations
    assert milvus_scores == pytest.approx(file_scores, abs=2e-4)


# The service, removal and the model change, in this process ----------------------------------------

BREST = "# Le port de Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n"
BREST_QUESTION = "Combien d'escales le port de Brest a-t-il accueillies en 2022 ?"


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Path, Settings]]:
    """(articles folder, settings) of a fresh Milvus index of the seed articles, released afterwards."""
    corpus = tmp_path / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    settings = milvus_settings(tmp_path / "index")
    index_paths([corpus], settings, HashingEmbedder())
    yield corpus, settings
    release(settings)


def test_the_service_picks_up_a_generation_published_while_it_runs(seeded: tuple[Path, Settings]) -> None:
    corpus, settings = seeded
    assistant = Assistant(settings, embedder=HashingEmbedder())
    assert "Environ 30 personnes" in assistant.ask(ALIBABA).text
    before = assistant.snapshot()
    (corpus / "brest.md").write_text(BREST, encoding="utf-8")
    index_paths([corpus], settings, HashingEmbedder())  # as an upload does, while the service runs
    answer = assistant.ask(BREST_QUESTION)
    assert "4 200 escales" in answer.text and answer.citations[0].hit.source.endswith("brest.md")
    after = assistant.snapshot()
    assert after.published > before.published and len(after.index) > len(before.index)
    # A request that began before keeps reading its own generation.
    assert not [d for d in before.index.docstore.document_metadata() if d.path.endswith("brest.md")]
    assert "Environ 30 personnes" in Assistant(settings, embedder=HashingEmbedder()).ask(ALIBABA).text


def test_remove_document_drops_it_under_all_its_names(seeded: tuple[Path, Settings]) -> None:
    corpus, settings = seeded
    (corpus / "brest.md").write_text(BREST, encoding="utf-8")
    (corpus / "brest-copie.md").write_text(BREST, encoding="utf-8")
    index_paths([corpus], settings, HashingEmbedder())
    assistant = Assistant(settings, embedder=HashingEmbedder())
    assert "4 200 escales" in assistant.ask(BREST_QUESTION).text
    before = read_corpus(settings)
    (doc_id,) = [doc_id for doc_id, whole in before.items() if "brest.md" in whole.paths[-1]]
    report = remove_document(doc_id, settings)
    assert report.removed == [str(corpus / "brest-copie.md"), str(corpus / "brest.md")]
    after = read_corpus(settings)
    assert after == {k: v for k, v in before.items() if k != doc_id}
    assert report.chunks_total == sum(len(w.chunks) for w in after.values())
    answer = assistant.ask(BREST_QUESTION)
    assert "4 200" not in answer.text and not [h for h in answer.hits if "brest" in h.source]
    with pytest.raises(UserError, match="not in the index"):
        remove_document(doc_id, settings)


def test_another_embedding_model_rebuilds_in_one_line_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"))
    settings = milvus_settings(tmp_path / "index")
    index_paths([corpus], settings, HashingEmbedder(dimension=32))  # another model, of another dimension
    before = read_corpus(settings)
    monkeypatch.setenv("RAG_STORE_BACKEND", "milvus")
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "fake")
    try:
        assert main(["ask", ALIBABA, "--index", str(settings.index_dir)]) == 2
    finally:
        release(settings)
    refused = capsys.readouterr().err
    assert refused.count("\n") == 1 and "fake-hashing-32" in refused and "run `rag index`" in refused, refused
    rebuilt = rag("index", str(corpus), "--index", str(settings.index_dir), "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    messages = [line for line in rebuilt.stderr.splitlines() if line.strip() and "\r" not in line]
    assert messages == ["Embedding model changed (fake-hashing-32 -> fake-hashing-64): rebuilding the index."]
    assert json.loads(rebuilt.stdout)["chunks_embedded"] == sum(len(w.chunks) for w in before.values())
    assert read_corpus(settings) == before  # the same documents, names and chunks
    with opened(settings) as store:
        assert store.manifest.embedder["name"] == "fake-hashing-64" and store.manifest.embedder["dimension"] == 64
    assert "Environ 30 personnes" in Assistant(settings, embedder=HashingEmbedder()).ask(ALIBABA).text
    release(settings)
