"""Load: 50 people asking at once, through the real app and gradio_client, with the real model.

Each request comes from its own client (its own session) and asks about a different
town, whose population only one document gives, so every answer can be matched to its
own question. Every request must be answered correctly or refused with Gradio's
queue-full message; the server log must stay free of errors and tracebacks. The 95th
percentile latency is printed and written to tests/artifacts/load.json.

Three bursts: the offline backend; an OpenAI-compatible backend (the scripted test
server, 0.2 s per reply); and the offline backend again while an upload is being
indexed, when answers must keep coming from the version already published.
"""

from __future__ import annotations

import html
import json
import logging
import re
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from rag.embedders import LazyEmbedder
from rag.indexing.catalog import list_documents
from rag.settings import Settings
from tests.llm_server import FakeLLMServer, Messages
from tests.ui_server import indexed_settings, running_app

pytestmark = pytest.mark.slow

CONCURRENT = 50
LLM_DELAY_SECONDS = 0.2
ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "load.json"
_PREFIXES = ["Ker", "Plou", "Lan", "Tré", "Pen", "Loc", "Gwen", "Mor", "Sant", "Lam"]
_SUFFIXES = ["avel", "oudic", "ivinec", "ergat", "onnez"]
TOWNS = [f"{prefix}{suffix}" for prefix in _PREFIXES for suffix in _SUFFIXES][:CONCURRENT]
POPULATION = {town: 1207 + 113 * number for number, town in enumerate(TOWNS)}
FACT = "La commune de {town} comptait {people} habitants au recensement de 2021, selon l’Insee."
QUESTION = "Combien d'habitants la commune de {town} comptait-elle au recensement de 2021 ?"
# Gradio's refusal when its queue (max_queue) is full, as gradio_client raises it.
BUSY = re.compile(r"queue is full", re.IGNORECASE)


def _document(town: str) -> str:
    return (
        f"# {town}, une commune bretonne\n\n{FACT.format(town=town, people=POPULATION[town])} "
        f"Le bourg de {town} garde une église du XVIe siècle et un marché le mardi.\n"
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, LazyEmbedder]:
    """The seeds and one document per town, indexed once with the real model."""
    files = {f"commune-{town.lower()}.md": _document(town) for town in TOWNS}
    return indexed_settings(tmp_path_factory.mktemp("load"), files)


@dataclass
class Outcome:
    town: str
    started: float
    ended: float
    answer: str | None = None
    question_shown: str | None = None
    refused: str | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def _ask(url: str, town: str, start: threading.Barrier) -> Outcome:
    client = Client(url, verbose=False)  # one client each: one session each, as 50 browsers would be
    start.wait(timeout=120)
    started = time.monotonic()
    try:
        chat, _sources, _box = client.predict(QUESTION.format(town=town), api_name="/ask")
    except Exception as error:  # the queue-full refusal arrives as an exception
        message = " ".join(str(error).split())
        outcome = Outcome(town, started, time.monotonic())
        if BUSY.search(message):
            outcome.refused = message
        else:
            outcome.error = f"{type(error).__name__}: {message}"
        return outcome
    outcome = Outcome(town, started, time.monotonic())
    outcome.question_shown = html.unescape(re.sub(r"<[^>]+>", "", chat[-2]["content"][0]["text"]))
    outcome.answer = chat[-1]["content"][0]["text"]
    return outcome


def burst(url: str) -> list[Outcome]:
    """CONCURRENT clients ask their own question at the same moment."""
    start = threading.Barrier(CONCURRENT)
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        futures = [pool.submit(_ask, url, town, start) for town in TOWNS]
        return [future.result(timeout=600) for future in futures]


def check(outcomes: list[Outcome]) -> dict[str, Any]:
    """Every request answered with its own town's figure, or refused as busy; the figures for the report."""
    answered = [o for o in outcomes if o.answer is not None]
    errors = [f"{o.town}: {o.error}" for o in outcomes if o.error]
    assert not errors, errors
    for outcome in answered:
        assert outcome.question_shown == QUESTION.format(town=outcome.town), "an answer came back to the wrong asker"
        assert outcome.answer is not None
        body = outcome.answer.split("<details", 1)[0]  # the answer, without the retrieval trace
        text = html.unescape(re.sub(r"<[^>]+>", "", body))
        assert str(POPULATION[outcome.town]) in text, f"{outcome.town}: {text[:300]}"
        others = [t for t in TOWNS if t != outcome.town and str(POPULATION[t]) in text]
        assert not others, f"{outcome.town}'s answer quotes {others}"
        assert "rag-error" not in body
    assert len(answered) + sum(1 for o in outcomes if o.refused) == CONCURRENT
    assert len(answered) >= CONCURRENT // 2, "most requests must be served, not refused"
    latencies = sorted(o.seconds for o in answered)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    return {
        "concurrent": CONCURRENT,
        "answered": len(answered),
        "refused_busy": CONCURRENT - len(answered),
        "p50_seconds": round(statistics.median(latencies), 3),
        "p95_seconds": round(p95, 3),
        "max_seconds": round(latencies[-1], 3),
        "wall_seconds": round(max(o.ended for o in outcomes) - min(o.started for o in outcomes), 3),
    }


def report(name: str, figures: dict[str, Any]) -> None:
    print(f"\nload[{name}]: {json.dumps(figures)}")
    ARTIFACT.parent.mkdir(exist_ok=True)
    existing = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    existing[name] = figures
    ARTIFACT.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Fails the test if the app logged an error or printed a traceback while it ran."""
    caplog.set_level(logging.WARNING)
    yield
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out, captured.err[-3000:]
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def test_offline_backend_under_load(indexed: tuple[Settings, LazyEmbedder], server_log: None) -> None:
    settings, embedder = indexed
    with running_app(settings, embedder) as url:
        figures = check(burst(url))
    report("offline", figures)


def _perfect_llm(messages: Messages) -> str:
    """A model that answers from the passage naming the town asked about, citing it."""
    prompt = str(messages[-1]["content"])
    town = re.search(r"commune de (\w+) comptait-elle", prompt.split("<question>", 1)[1])
    assert town is not None
    for number, passage in re.findall(r"<passage (\d+)>\n(.*?)</passage \1>", prompt, re.DOTALL):
        found = re.search(rf"commune de {town.group(1)} comptait (\d+) habitants", passage)
        if found:
            return f"La commune de {town.group(1)} comptait {found.group(1)} habitants en 2021 [{number}]."
    return "Je n’ai pas trouvé cette information dans les documents."


def test_llm_backend_under_load(indexed: tuple[Settings, LazyEmbedder], server_log: None) -> None:
    settings, embedder = indexed
    with FakeLLMServer(script=_perfect_llm, delay_seconds=LLM_DELAY_SECONDS) as llm:
        llm_settings = settings.replace(generator="openai", llm_base_url=llm.url, llm_model="test-model")
        with running_app(llm_settings, embedder) as url:
            figures = check(burst(url))
        assert len(llm.requests) >= figures["answered"], "the answers did not come from the LLM"
    report("openai_compatible_0.2s", figures)


def test_answers_keep_coming_while_an_upload_is_indexed(
    indexed: tuple[Settings, LazyEmbedder], server_log: None, tmp_path: Path
) -> None:
    settings, embedder = indexed
    uploads = []
    for number in range(5):
        path = tmp_path / f"rapport-{number}.md"
        lines = [f"# Rapport portuaire {number}", ""]
        lines += [
            f"Le quai {number}-{k} du port de Saint-Malo a reçu {k * 7 + number} navires de croisière en 2023, "
            f"et sa grue numéro {k} a levé {k * 311 + number} conteneurs."
            for k in range(60)
        ]
        path.write_text("\n\n".join(lines), encoding="utf-8")
        uploads.append(path)
    before = {d.doc_id for d in list_documents(settings.index_dir)}
    with running_app(settings, embedder) as url:
        upload: dict[str, Any] = {}

        def do_upload() -> None:
            upload["started"] = time.monotonic()
            results, *_ = Client(url, verbose=False).predict(
                [handle_file(str(path)) for path in uploads], api_name="/upload"
            )
            upload["ended"] = time.monotonic()
            upload["results"] = results

        uploader = threading.Thread(target=do_upload)
        uploader.start()
        time.sleep(0.5)  # the upload is being indexed when the questions arrive
        outcomes = burst(url)
        uploader.join(timeout=600)
        figures = check(outcomes)
        assert upload["results"].count("— indexed") == len(uploads), upload["results"]
        during = [o for o in outcomes if o.answer and upload["started"] < o.ended < upload["ended"]]
        figures["answered_while_indexing"] = len(during)
        figures["upload_seconds"] = round(upload["ended"] - upload["started"], 3)
        assert during, "no answer arrived while the upload was being indexed"
        # Once published, the new version answers.
        chat, _sources, _box = Client(url, verbose=False).predict(
            "Combien de navires de croisière le quai 3-10 du port de Saint-Malo a-t-il reçus en 2023 ?",
            api_name="/ask",
        )
        assert "73" in re.sub(r"<[^>]+>", "", chat[-1]["content"][0]["text"].split("<details", 1)[0])
    assert len({d.doc_id for d in list_documents(settings.index_dir)} - before) == len(uploads)
    report("offline_during_upload", figures)
