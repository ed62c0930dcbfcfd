"""Cold start: from a fresh process to the first answer, on the seed articles.

- ours: ``rag ask QUESTION --index DIR --json`` as a child process, on an index
  built beforehand (it persists on disk), timed from launch to exit;
- LangChain: ``python -m benchmarks.baseline ask``, timed from launch to its
  first passages. Without pickle a LangChain FAISS store cannot be loaded
  from disk, so this process loads the seed files, splits, embeds them and
  builds the store before searching: that is what its cold start is.

Two questions from ``seeds/qa.jsonl``, one French and one English: with the
default English-only model ours answers French from BM25 alone and never
loads the model, while an English question loads it. Each is run a few times
and the median kept; whether ours abstained is recorded.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import SEEDS, Plan, last_json, log, rag_command, run_process
from rag.evaluation import read_questions

QUESTIONS = {"french": "seeds-fr-01", "english": "seeds-en-01"}


def _ours(question: str, index: Path, workdir: Path) -> tuple[float, bool]:
    done = run_process([rag_command(), "ask", question, "--index", str(index), "--json"], cwd=workdir)
    return done.seconds, bool(json.loads(done.stdout)["abstained"])


def _langchain(question: str, seeds: Path, workdir: Path) -> float:
    done = run_process([sys.executable, "-m", "benchmarks.baseline", "ask", str(seeds), question], cwd=workdir)
    return float(last_json(done.stdout)["ready"]) - done.launched


def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    by_id = {q.id: q.question for q in read_questions(SEEDS / "qa.jsonl")}
    seeds = workdir / "seeds"
    seeds.mkdir(exist_ok=True)
    for path in sorted(SEEDS.glob("*.txt")):
        (seeds / path.name).write_bytes(path.read_bytes())
    index = workdir / "ours-seeds"
    run_process([rag_command(), "index", str(seeds), "--index", str(index)], cwd=workdir)
    results: dict[str, Any] = {}
    for language, qid in QUESTIONS.items():
        question = by_id[qid]
        ours, abstained, theirs = [], [], []
        for attempt in range(plan.coldstart_runs):
            log(f"cold start, {language} question, {attempt + 1}/{plan.coldstart_runs}")
            seconds, abstain = _ours(question, index, workdir)
            ours.append(seconds)
            abstained.append(abstain)
            theirs.append(_langchain(question, seeds, workdir))
        results[language] = {
            "question": question,
            "ours": {"seconds": statistics.median(ours), "runs": ours, "abstained": any(abstained)},
            "langchain": {"seconds": statistics.median(theirs), "runs": theirs},
        }
    return results
