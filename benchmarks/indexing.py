"""Indexing the OrangeSum articles, then re-indexing after small changes.

Each build runs in a fresh child process, timed from launch to the built
index, so both sides pay interpreter start, imports and model load.

- ours: the ``rag index`` command (``rag.cli.main``), with its progress bar
  swapped for a recorder of when each stage starts and ends;
- LangChain: ``python -m benchmarks.baseline build`` (the tutorial).

Re-indexing: ours is incremental (an unchanged run, one article edited, 50
articles added to the other 4,950). The baseline has no persistent index
without pickle, so any change means a full rebuild in the next process: its
re-index figure is the full-build time measured above, unless
``--measure-rebuilds`` runs the rebuilds too.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import coverage
from benchmarks.baseline import read_dump
from benchmarks.common import Plan, last_json, log, memory_status, read_articles, run_process, write_articles
from rag.embedders import Embedder


def ours_build(folder: Path, index: Path, workdir: Path) -> dict[str, Any]:
    done = run_process([sys.executable, "-m", "benchmarks.indexing", str(folder), str(index)], cwd=workdir)
    child = last_json(done.stdout)
    report = json.loads(next(line for line in done.stdout.splitlines() if line.startswith('{"added"')))
    # Stage boundaries come from the child's clock; the launch from ours.
    marks = {k: v - done.launched for k, v in child.items()}
    return {
        "seconds": done.seconds,
        "chunks": report["chunks_total"],
        "chunks_embedded": report["chunks_embedded"],
        "added": len(report["added"]),
        "updated": len(report["updated"]),
        "removed": len(report["removed"]),
        "stages": _stages(marks, done.seconds),
        "peak_rss_mib": _memory(done.stdout)["peak_rss_mib"],
    }


def _memory(stdout: str) -> dict[str, float]:
    line = next(line for line in stdout.splitlines() if line.startswith('{"memory"'))
    return dict(json.loads(line)["memory"])


def _stages(marks: dict[str, float], total: float) -> dict[str, float]:
    """Seconds per stage from the first/last progress calls (approximate boundaries)."""
    read0, read1 = marks.get("reading_first", 0.0), marks.get("reading_last", 0.0)
    emb1 = marks.get("embedding_last", read1)
    return {
        "startup_and_discover": read0,
        "read_chunk_and_model_load": read1 - read0,
        "embed": emb1 - read1,
        "publish_and_exit": total - emb1,
    }


def langchain_build(folder: Path, dump: Path | None, workdir: Path) -> dict[str, Any]:
    args = [sys.executable, "-m", "benchmarks.baseline", "build", str(folder)]
    done = run_process([*args, "--dump", str(dump)] if dump else args, cwd=workdir)
    result = last_json(done.stdout)
    return {
        "seconds": result["ready"] - done.launched,
        "chunks": result["chunks"],
        "chunks_embedded": result["chunks"],
        "stages": result["stages"],
        "peak_rss_mib": result["peak_rss_mib"],
    }


def _rates(result: dict[str, Any], articles: int) -> dict[str, Any]:
    seconds = result["seconds"]
    return {**result, "chunks_per_second": result["chunks"] / seconds, "articles_per_second": articles / seconds}


def edit(path: Path) -> None:
    """Change one article the way an update does: one sentence added to its lead."""
    title, rest = path.read_text(encoding="utf-8").split("\n\n", 1)
    date, rest = rest.split("\n\n", 1)
    lead, body = rest.split("\n\n", 1)
    path.write_text(f"{title}\n\n{date}\n\n{lead} Cet article a été mis à jour.\n\n{body}", encoding="utf-8")


def run(plan: Plan, workdir: Path, tokenizer: Any, window: int, embedder: Embedder) -> dict[str, Any]:
    folder, index, dump = workdir / "orangesum", workdir / "ours-orangesum", workdir / "langchain-orangesum"
    articles = read_articles(plan.articles)
    paths = write_articles(articles, folder)
    log(f"indexing {len(paths)} articles: ours (rag index)")
    ours = _rates(ours_build(folder, index, workdir), len(paths))
    log(f"  ours: {ours['seconds']:.1f} s, {ours['chunks']} chunks; LangChain tutorial")
    theirs = _rates(langchain_build(folder, dump, workdir), len(paths))
    log(f"  langchain: {theirs['seconds']:.1f} s, {theirs['chunks']} chunks; coverage")
    _, dumped = read_dump(dump)
    covered = coverage.run(index, dumped, tokenizer, window, embedder)

    reindex: dict[str, Any] = {}

    def step(name: str) -> None:
        result = ours_build(folder, index, workdir)
        if plan.measure_rebuilds:
            rebuilt = langchain_build(folder, None, workdir)
        else:
            rebuilt = {"seconds": theirs["seconds"], "chunks_embedded": theirs["chunks"], "derived": True}
        reindex[name] = {"ours": result, "langchain": rebuilt}
        log(f"  re-index {name}: ours {result['seconds']:.1f} s ({result['chunks_embedded']} chunks embedded)")

    step("unchanged")
    edit(paths[len(paths) // 2])
    step("change_one")
    held = workdir / "held-out"
    held.mkdir(exist_ok=True)
    for path in paths[-plan.added :]:
        shutil.move(path, held / path.name)
    reindex[f"remove_{plan.added}"] = {"ours": ours_build(folder, index, workdir)}
    for path in paths[-plan.added :]:
        shutil.move(held / path.name, path)
    step(f"add_{plan.added}")
    return {"articles": len(paths), "ours": ours, "langchain": theirs, "coverage": covered, "reindex": reindex}


def _child(folder: str, index: str) -> int:
    """``rag index FOLDER --index INDEX --json``, recording when each stage starts and ends."""
    import rag.cli

    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.time()
        marks.setdefault(f"{stage}_first", now)
        marks[f"{stage}_last"] = now

    rag.cli._progress_bar = lambda: progress
    code = rag.cli.main(["index", folder, "--index", index, "--json"])
    # Memory first, the stage marks last (a flat object, the last JSON line).
    print(json.dumps({"memory": memory_status()}), flush=True)
    print(json.dumps(marks), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
