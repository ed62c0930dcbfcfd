"""Cold start: from a fresh process to the first answer, on the seed articles.

- ours: ``rag ask QUESTION --index DIR`` as a child process, on an index built
  beforehand (it persists on disk), timed from launch to exit;
- LangChain: ``python -m benchmarks.baseline ask``, timed from launch to its
  first passages. Without pickle a LangChain FAISS store cannot be loaded
  from disk, so this process loads the seed files, splits, embeds them and
  builds the store before searching: that is what its cold start is.

Each is run a few times and the median kept (the first run also warms the
OS file cache; all runs are counted).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import SEEDS, Plan, last_json, log, rag_command, run_process
from rag.evaluation import read_questions


def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    question = next(iter(read_questions(SEEDS / "qa.jsonl"))).question
    seeds = workdir / "seeds"
    seeds.mkdir(exist_ok=True)
    for path in sorted(SEEDS.glob("*.txt")):
        (seeds / path.name).write_bytes(path.read_bytes())
    index = workdir / "ours-seeds"
    run_process([rag_command(), "index", str(seeds), "--index", str(index)], cwd=workdir)
    ours, theirs = [], []
    for attempt in range(plan.coldstart_runs):
        log(f"cold start {attempt + 1}/{plan.coldstart_runs}")
        ours.append(run_process([rag_command(), "ask", question, "--index", str(index)], cwd=workdir).seconds)
        done = run_process([sys.executable, "-m", "benchmarks.baseline", "ask", str(seeds), question], cwd=workdir)
        theirs.append(last_json(done.stdout)["ready"] - done.launched)
    return {
        "question": question,
        "ours": {"seconds": statistics.median(ours), "runs": ours},
        "langchain": {"seconds": statistics.median(theirs), "runs": theirs},
    }
