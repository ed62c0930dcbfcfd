"""Is a first API token as quick as the chat's first answer? ``rag api`` beside the in-process stream.

    python -m benchmarks.api_latency [--rounds 3]

Indexes seeds/ with the default model, then asks each question of
seeds/qa.jsonl (a few rounds, after a warm-up) two ways: through the running
``rag api`` (``stream: true``, raw HTTP, time to the first chunk that carries
answer text) and through ``Assistant.stream`` in this process, which is what
the chat page calls (time to the first event that shows answer text: a token,
or the finished answer when the offline answer streams none). Offline
extractive answers: no LLM, so the figures are the app's own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from rag.answering.service import Assistant, Done, Token
from rag.embedders import LazyEmbedder
from rag.indexing.indexer import index_paths
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _questions() -> list[str]:
    lines = (ROOT / "seeds" / "qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _in_process(assistant: Assistant, question: str) -> float:
    started = time.perf_counter()
    for event in assistant.stream(question):
        if isinstance(event, Token | Done):
            return time.perf_counter() - started
    raise RuntimeError("the stream ended without an answer")


def _api(client: httpx.Client, question: str) -> float:
    body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    with client.stream("POST", "/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            delta = json.loads(line[6:])["choices"][0].get("delta", {})
            if delta.get("content"):
                return time.perf_counter() - started
    raise RuntimeError("the API stream ended without answer text")


def _start_api(index_dir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "rag.cli", "api", "--index", str(index_dir), "--port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()  # "OpenAI-compatible API on http://127.0.0.1:PORT/v1 ..."
    return process, line.split(" on ", 1)[1].split()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_latency", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked each way")
    args = parser.parse_args(argv)
    questions = _questions()
    with tempfile.TemporaryDirectory() as work:
        settings = Settings(index_dir=Path(work) / "index")
        index_paths([ROOT / "seeds"], settings, LazyEmbedder(settings))
        assistant = Assistant(settings)
        process, url = _start_api(settings.index_dir)
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                for question in questions[:3]:  # warm-up: both load the model and open the index
                    _in_process(assistant, question)
                    _api(client, question)
                local = [_in_process(assistant, q) for _ in range(args.rounds) for q in questions]
                remote = [_api(client, q) for _ in range(args.rounds) for q in questions]
        finally:
            process.terminate()
            process.wait(timeout=10)
    result = {
        "questions": len(questions) * args.rounds,
        "chat_first_answer_ms_median": round(1000 * statistics.median(local), 1),
        "api_first_token_ms_median": round(1000 * statistics.median(remote), 1),
    }
    result["ratio"] = round(result["api_first_token_ms_median"] / result["chat_first_answer_ms_median"], 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
