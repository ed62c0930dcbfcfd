"""A damaged or tampered index is detected by its checksums, and nothing is ever unpickled.

* One flipped byte in any data file of the current version: ``Index.open`` uses the
  previous version with a warning, or, when there is none, raises a one-line
  IndexCorruptError saying to re-index.
* Pickles planted in the index folder (LangChain's ``index.pkl`` among them), or
  smuggled into a NumPy array with a forged manifest, are never unpickled: the
  pickle bomb's marker file never appears, whatever the app does. Planted pickles are
  not even opened: Python's audit hooks, in this process and in the ``rag`` children,
  see every file Python code opens and every object unpickled, and name none of them.
* No module of ``rag/`` or ``ui/`` imports pickle or calls a pickle-based loader.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.catalog import list_documents
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.index import Index
from rag.store.manifest import MANIFEST, IndexCorruptError, file_sha256
from rag.store.versions import current_version
from tests.helpers import ROOT, index_seeds, run_captured, run_cli

ALIBABA = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
BREST = "Combien d'escales de navires le port de Brest a-t-il accueillies en 2022 ?"
DATA_FILES = [
    "vectors.faiss",
    "docstore.sqlite",
    "lexical/data.csc.index.npy",
    "lexical/indices.csc.index.npy",
    "lexical/indptr.csc.index.npy",
    "lexical/vocab.index.json",
    "lexical/params.index.json",
    "lexical/lexical.json",
    "lexical-chars/data.csc.index.npy",
    "lexical-chars/indices.csc.index.npy",
    "lexical-chars/indptr.csc.index.npy",
    "lexical-chars/vocab.index.json",
    "lexical-chars/params.index.json",
    "lexical-chars/lexical.json",
    "lexical-documents/data.csc.index.npy",
    "lexical-documents/indices.csc.index.npy",
    "lexical-documents/indptr.csc.index.npy",
    "lexical-documents/vocab.index.json",
    "lexical-documents/params.index.json",
    "lexical-documents/lexical.json",
    "lexical-documents/rows.json",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index with two versions: v1 the seeds, v2 the seeds and a note on Brest."""
    corpus, settings = index_seeds(tmp_path_factory.mktemp("tampering"))
    (corpus / "brest.md").write_text("# Brest\n\nLe port de Brest a accueilli 4 200 escales de navires en 2022.\n")
    index_paths([corpus], settings, HashingEmbedder())
    assert sorted(p.name for p in settings.index_dir.glob("v*")) == ["v000001", "v000002"]
    return settings.index_dir


@pytest.fixture
def settings(built: Path, tmp_path: Path) -> Settings:
    shutil.copytree(built, tmp_path / "index")
    return Settings(index_dir=tmp_path / "index", embedding_backend="fake")


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def ask(settings: Settings, question: str) -> str:
    return Assistant(settings, embedder=HashingEmbedder()).ask(question).text


def test_every_data_file_is_covered_by_the_manifest(settings: Settings) -> None:
    folder = current_version(settings.index_dir)
    assert folder is not None
    listed = set(json.loads((folder / MANIFEST).read_text())["checksums"])
    assert listed == set(DATA_FILES)


@pytest.mark.parametrize("name", DATA_FILES)
def test_flipped_byte_falls_back_to_the_previous_version_with_a_warning(
    settings: Settings, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert "4 200" in ask(settings, BREST)
    flip_byte(settings.index_dir / "v000002" / name)
    with caplog.at_level(logging.WARNING, logger="rag.store.index"):
        index = Index.open(settings.index_dir)
    assert index.folder.name == "v000001"
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert "\n" not in message and name in message and "using the previous version v000001" in message
    index.close()
    # The app keeps answering from the intact version (which predates the Brest note).
    assert "30 personnes" in ask(settings, ALIBABA)
    assert "4 200" not in ask(settings, BREST)


@pytest.mark.parametrize("name", DATA_FILES)
def test_flipped_byte_without_a_previous_version_says_to_reindex(settings: Settings, name: str) -> None:
    shutil.rmtree(settings.index_dir / "v000001")
    flip_byte(settings.index_dir / "v000002" / name)
    with pytest.raises(IndexCorruptError) as caught:
        Index.open(settings.index_dir)
    message = str(caught.value)
    assert "\n" not in message and name in message and "run `rag index`" in message and "rebuild" in message


def test_damaged_index_is_one_line_in_the_cli_and_reindexing_repairs_it(settings: Settings, tmp_path: Path) -> None:
    shutil.rmtree(settings.index_dir / "v000001")
    flip_byte(settings.index_dir / "v000002" / "vectors.faiss")
    done = run_cli("ask", ALIBABA, "--index", str(settings.index_dir))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "does not match the index manifest's checksum" in done.stderr
    assert "run `rag index` on your files again" in done.stderr


def test_reindexing_after_damage_publishes_a_sound_version(settings: Settings) -> None:
    flip_byte(settings.index_dir / "v000002" / "docstore.sqlite")
    corpus = Path(next(s.path for s in Index.open(settings.index_dir).docstore.sources())).parent
    index_paths([corpus], settings, HashingEmbedder())
    index = Index.open(settings.index_dir)  # verifies every checksum
    assert index.folder.name == "v000003"
    assert "4 200" in ask(settings, BREST)


def test_edited_manifest_and_missing_file_are_detected(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    manifest = settings.index_dir / "v000002" / MANIFEST
    data = json.loads(manifest.read_text())
    data["checksums"]["vectors.faiss"] = "0" * 64
    manifest.write_text(json.dumps(data))
    assert Index.open(settings.index_dir).folder.name == "v000001"
    manifest.write_text("{ not json")
    assert Index.open(settings.index_dir).folder.name == "v000001"
    shutil.copy(settings.index_dir / "v000001" / MANIFEST, manifest)  # v1's manifest on v2's files
    assert Index.open(settings.index_dir).folder.name == "v000001"
    (settings.index_dir / "v000001" / "vectors.faiss").unlink()
    with pytest.raises(IndexCorruptError, match="run `rag index`"):
        Index.open(settings.index_dir)


# Pickles --------------------------------------------------------------------------------


class Bomb:
    """Unpickling this creates ``marker``: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_the_bomb_is_live(tmp_path: Path) -> None:
    """The planted pickles are real: unpickling one (in another process) does create its marker."""
    marker = tmp_path / "proof"
    bomb = tmp_path / "bomb.pkl"
    bomb.write_bytes(pickle.dumps(Bomb(marker)))
    code = "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())"
    subprocess.run([sys.executable, "-c", code, str(bomb)], check=True, timeout=60)
    assert marker.exists()


# What this process opens and unpickles, while a test listens (``audited``). An audit hook cannot
# be removed, so one is installed for the session, the first time a test listens, and does nothing
# otherwise. Python raises "open" for every file Python code opens (builtins, io, os, numpy, bm25s)
# and "pickle.find_class" for every object an unpickler looks up, whoever calls it.
_LISTENING: list[list[tuple[str, str]]] = []
_HOOKED: list[bool] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _LISTENING:
        return
    try:
        if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
            _LISTENING[-1].append(("open", os.fsdecode(args[0])))
        elif event == "pickle.find_class":
            _LISTENING[-1].append(("unpickle", f"{args[0]}.{args[1]}"))
    except Exception:  # an exception would abort the audited operation itself
        pass


@contextlib.contextmanager
def audited() -> Iterator[list[tuple[str, str]]]:
    """The ``(event, detail)`` pairs this process raises in the block: files opened, objects unpickled."""
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED.append(True)
    events: list[tuple[str, str]] = []
    _LISTENING.append(events)
    try:
        yield events
    finally:
        _LISTENING.remove(events)


# ``rag ARGS`` in a child process under the same audit, written line by line to the file in argv[1].
AUDITED_CLI = r"""
import os, runpy, sys
log = open(sys.argv[1], "a", encoding="utf-8", buffering=1)
def audit(event, args):
    try:
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            log.write("open\t" + os.fsdecode(args[0]) + "\n")
        elif event == "pickle.find_class":
            log.write(f"unpickle\t{args[0]}.{args[1]}\n")
    except Exception:
        pass
sys.addaudithook(audit)
sys.argv = ["rag", *sys.argv[2:]]
runpy.run_module("rag.cli", run_name="__main__")
"""


def run_audited_cli(log: Path, *args: str) -> list[tuple[str, str]]:
    done = run_captured([sys.executable, "-c", AUDITED_CLI, str(log), *args])
    assert done.returncode == 0, done.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    log.unlink()
    return [(event, detail) for event, detail in (line.split("\t", 1) for line in lines)]


def opened(events: list[tuple[str, str]]) -> set[str]:
    return {os.path.realpath(detail) for event, detail in events if event == "open"}


def test_the_audit_sees_files_opened_and_objects_unpickled(tmp_path: Path) -> None:
    """The audit below cannot pass for want of seeing: it sees an open, and an unpickling, when there is one."""
    planted = tmp_path / "index.pkl"
    planted.write_bytes(pickle.dumps(Path("somewhere")))
    with audited() as events:
        pickle.loads(planted.read_bytes())  # noqa: S301 - a path this test just pickled
    assert os.path.realpath(planted) in opened(events)
    assert ("unpickle", f"{type(Path()).__module__}.{type(Path()).__name__}") in events


def test_planted_pickles_are_never_opened(settings: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "UNPICKLED"
    folder = current_version(settings.index_dir)
    assert folder is not None
    planted = [
        settings.index_dir / "index.pkl",  # what LangChain's FAISS.save_local writes
        settings.index_dir / "index.faiss.pkl",
        folder / "index.pkl",
        folder / "docstore.pkl",
        folder / "lexical" / "model.pkl",
        folder / "lexical" / "corpus.pickle",
    ]
    for path in planted:
        path.write_bytes(pickle.dumps(Bomb(marker)))
    forbidden = {os.path.realpath(path) for path in planted}
    with audited() as events:
        assert "30 personnes" in ask(settings, ALIBABA)
        assert list_documents(settings)
        (tmp_path / "more").mkdir()
        (tmp_path / "more" / "lorient.md").write_text(
            "# Lorient\n\nLe festival de Lorient a accueilli 850 000 visiteurs.\n"
        )
        index_paths([tmp_path / "more"], settings, HashingEmbedder())
        assert "850 000" in ask(settings, "Combien de visiteurs le festival de Lorient a-t-il accueillis ?")
    for command in (["ask", ALIBABA], ["sources"]):
        events += run_audited_cli(tmp_path / "audit.log", *command, "--index", str(settings.index_dir))
    assert not marker.exists(), "a planted pickle was unpickled"
    unpickled = [detail for event, detail in events if event == "unpickle"]
    assert not unpickled, f"something was unpickled: {unpickled}"
    touched = sorted(opened(events) & forbidden)
    assert not touched, f"planted pickles were opened: {touched}"
    # The audit saw the app at work: every manifest it read, in this process and in both children.
    manifests = [detail for event, detail in events if event == "open" and detail.endswith(MANIFEST)]
    assert len(manifests) >= 5, manifests


def test_pickle_smuggled_into_an_array_with_a_forged_manifest_is_refused(settings: Settings, tmp_path: Path) -> None:
    """Even someone who can rewrite the manifest gets nothing unpickled: arrays load with allow_pickle=False."""
    marker = tmp_path / "UNPICKLED"
    folder = settings.index_dir / "v000002"
    target = folder / "lexical" / "data.csc.index.npy"
    np.save(target, np.array([Bomb(marker)], dtype=object), allow_pickle=True)
    manifest = folder / MANIFEST
    data = json.loads(manifest.read_text())
    data["checksums"]["lexical/data.csc.index.npy"] = file_sha256(target)
    manifest.write_text(json.dumps(data))
    index = Index.open(settings.index_dir)  # the forged version is unreadable: the previous one serves
    assert index.folder.name == "v000001"
    assert "30 personnes" in ask(settings, ALIBABA)
    shutil.rmtree(settings.index_dir / "v000001")
    with pytest.raises(IndexCorruptError, match="unreadable"):
        Index.open(settings.index_dir)
    assert not marker.exists()


# Source code ------------------------------------------------------------------------------

PICKLING_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
FORBIDDEN_CALLS = re.compile(
    r"load_local|allow_dangerous_deserialization|allow_pickle\s*=\s*True|torch\.load|pd\.read_pickle|\.read_pickle"
)


def _sources() -> list[Path]:
    files = sorted([*(ROOT / "rag").rglob("*.py"), *(ROOT / "ui").rglob("*.py")])
    assert len(files) > 20
    return files


def test_no_module_imports_a_pickler() -> None:
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                names = {str(getattr(node.args[0], "value", "")) if node.args else ""}
            else:
                continue
            assert not names & PICKLING_MODULES, f"{path.relative_to(ROOT)}:{node.lineno} imports {names}"


def test_no_module_calls_a_pickle_based_loader() -> None:
    for path in _sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not FORBIDDEN_CALLS.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_array_loaders_refuse_pickles_explicitly() -> None:
    """Every bm25s/NumPy load names allow_pickle=False rather than trusting a default."""
    calls = 0
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"load", "save"}
            ):
                owner = ast.unparse(node.func.value)
                if owner in {"np", "numpy"} or owner.endswith("BM25") or owner.endswith("_model"):
                    calls += 1
                    keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                    assert keywords.get("allow_pickle") == "False", f"{path.relative_to(ROOT)}:{node.lineno}"
    assert calls >= 2
