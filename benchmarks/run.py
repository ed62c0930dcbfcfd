"""``python -m benchmarks.run [--quick] [--out DIR]``: both pipelines, side by side, one run.

Writes ``results.json`` (every figure) and ``results.md`` (the table) into
``--out`` (default ``benchmarks/results``), after each measurement so a
failure late in the run keeps what was measured. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import baseline, coldstart, indexing, latency, memory, milvus, quality, report
from benchmarks.common import ROOT, Plan, log, machine, model_path, set_offline

SECTIONS = ("coldstart", "quality", "indexing", "latency", "memory", "milvus")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 articles, fewer questions and queries (~5 min)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="where results go")
    parser.add_argument(
        "--measure-rebuilds", action="store_true", help="also time LangChain's full rebuilds after each change"
    )
    parser.add_argument("--articles", type=int, help="index this many OrangeSum articles (default 5000, quick 300)")
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of {','.join(SECTIONS)} (for development); "
        f"milvus.{{{','.join(milvus.PARTS)}}} for parts of the Milvus section",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    return parser.parse_args(argv)


def _write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "results.md").write_text(report.markdown(results), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    wanted = set(args.only.split(",")) if args.only else set(SECTIONS)
    # "milvus.indexing,milvus.scale": some parts of the Milvus section only.
    milvus_parts = {name.partition(".")[2] for name in wanted if name.startswith("milvus.")} or set(milvus.PARTS)
    wanted = {name.partition(".")[0] for name in wanted}
    if unknown := wanted - set(SECTIONS) | milvus_parts - set(milvus.PARTS):
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
    if wanted & {"latency", "memory"}:
        wanted |= {"indexing", "latency"}  # they serve the indexes built there
    set_offline()
    plan = Plan.make(args.quick, args.measure_rebuilds, args.articles)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "plan": plan.as_json(),
        "seconds": 0.0,
    }
    workdir = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    log(f"work folder {workdir}; {'quick' if plan.quick else 'full'} run of {', '.join(sorted(wanted))}")
    try:
        from transformers import AutoTokenizer

        from rag.embedders import make_embedder
        from rag.settings import Settings

        ours_embedder = make_embedder(Settings())
        lc_embedder = baseline.embeddings()

        def done(name: str, value: dict[str, Any]) -> None:
            results[name] = value
            results["seconds"] = time.perf_counter() - started
            _write(results, args.out)

        if "coldstart" in wanted:
            done("coldstart", coldstart.run(plan, workdir))
        if "quality" in wanted:
            done("quality", quality.run(plan, ours_embedder, lc_embedder, workdir))
        if "indexing" in wanted:
            tokenizer = AutoTokenizer.from_pretrained(model_path())
            # LangChain's all-MiniLM-L6-v2 reads 256 wordpieces, [CLS] and [SEP] included.
            done("indexing", indexing.run(plan, workdir, tokenizer, 254, ours_embedder))
        if "latency" in wanted:
            source, dump = workdir / "ours-orangesum", workdir / "langchain-orangesum"
            done("latency", latency.run(plan, workdir, source, dump, ours_embedder, lc_embedder))
        if "memory" in wanted:
            done("memory", memory.run(plan, workdir, latency.queries(plan)))
        if "milvus" in wanted:
            partial = lambda found: done("milvus", found)  # noqa: E731
            done("milvus", milvus.run(plan, workdir, ours_embedder, milvus_parts, partial))
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {(time.perf_counter() - started) / 60:.1f} min: {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
