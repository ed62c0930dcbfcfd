"""The app on the Milvus store (Milvus Lite in a file under tmp_path), through its real entry points.

``rag index`` (new, unchanged, changed, deleted, copied and renamed files), ``rag ask``,
``rag sources`` and ``rag eval`` in child processes, compared with the file store where
the same analysis and embedder must give the same figures. The service, removal and
the embedding-model rebuild in this process. The UI and the API: tests/test_milvus_apps.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.cli import main
from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from tests.helpers import ROOT, SEEDS
from tests.milvus_helpers import milvus_settings, rag, read_corpus, release

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
QA_FILE = SEEDS / "qa.jsonl"


def note(title: str, fact: str) -> str:
    return f"# {title}\n\n{fact}\n\nCe paragraphe complète la note sur {title.lower()} sans rien changer au fait.\n"


def index_json(folder: Path, index_dir: Path) -> dict[str, object]:
    done = rag("index", str(folder), "--index", str(index_dir), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_index_runs_follow_the_files(tmp_path: Path) -> None:
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

    again = index_json(folder, index_dir)
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
