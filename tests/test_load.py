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
from gradio_client.utils import Status

from rag.embedders import LazyEmbedder
from rag.indexing.catalog import list_documents
from rag.settings import Settings
from tests.llm_server import FakeLLMServer, Messages
from tests.ui_server import indexed_settings, running_app

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
    # Fifty clients fetch the app's config before the burst; on two busy cores that took over 120 s.
    start.wait(timeout=300)
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


def answer_problems(outcome: Outcome) -> list[str]:
    """What is wrong with an answer: the wrong asker's question, a missing or foreign figure, an error shown."""
    assert outcome.answer is not None
    problems = []
    if outcome.question_shown != QUESTION.format(town=outcome.town):
        problems.append(f"{outcome.town}: an answer came back to the wrong asker ({outcome.question_shown!r})")
    body = outcome.answer.split("<details", 1)[0]  # the answer, without the retrieval trace
    text = html.unescape(re.sub(r"<[^>]+>", "", body))
    if str(POPULATION[outcome.town]) not in text:
        problems.append(f"{outcome.town}: its figure is not in the answer: {text[:300]}")
    others = [t for t in TOWNS if t != outcome.town and str(POPULATION[t]) in text]
    if others:
        problems.append(f"{outcome.town}'s answer quotes {others}")
    if "rag-error" in body:
        problems.append(f"{outcome.town}: the answer is an error: {text[:300]}")
    return problems


def check(outcomes: list[Outcome]) -> dict[str, Any]:
    """Every request answered with its own town's figure, or refused as busy; the figures for the report.

    Each outcome is sorted into exactly one of answered, refused as busy, or a problem
    (an error, a wrong answer, or neither an answer nor a refusal), and any problem fails.
    """
    assert sorted(o.town for o in outcomes) == sorted(TOWNS), "one outcome per asker"
    answered: list[Outcome] = []
    refused: list[Outcome] = []
    problems: list[str] = []
    for outcome in outcomes:
        if outcome.error is not None:
            problems.append(f"{outcome.town}: {outcome.error}")
        elif outcome.answer is not None and outcome.refused is None:
            problems += answer_problems(outcome)
            answered.append(outcome)
        elif outcome.refused is not None and outcome.answer is None and BUSY.search(outcome.refused):
            refused.append(outcome)
        else:
            problems.append(f"{outcome.town}: neither answered nor refused as busy ({outcome})")
    assert not problems, problems
    assert len(answered) >= CONCURRENT // 2, f"most requests must be served, not refused: {len(refused)} refused"
    latencies = sorted(o.seconds for o in answered)
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    return {
        "concurrent": CONCURRENT,
        "answered": len(answered),
        "refused_busy": len(refused),
        "p50_seconds": round(statistics.median(latencies), 3),
        "p95_seconds": round(p95, 3),
        "max_seconds": round(latencies[-1], 3),
        "wall_seconds": round(max(o.ended for o in outcomes) - min(o.started for o in outcomes), 3),
    }


def _answered(town: str, figure: int | None = None, question: str | None = None) -> Outcome:
    """An outcome as ``_ask`` makes it for an answered request (the chat's HTML, then the trace)."""
    people = POPULATION[town] if figure is None else figure
    answer = f"<p>La commune de {town} comptait {people} habitants [1].</p><details>{POPULATION[TOWNS[0]]}</details>"
    return Outcome(town, 0.0, 1.0, answer=answer, question_shown=question or QUESTION.format(town=town))


def test_check_accepts_answers_and_busy_refusals_and_fails_on_anything_else() -> None:
    """``check`` must be able to fail: each kind of wrong outcome, alone among good ones, fails it."""
    good = [_answered(town) for town in TOWNS]
    good[-1] = Outcome(TOWNS[-1], 0.0, 1.0, refused="Queue is full. Try again later.")
    figures = check(good)
    assert (figures["answered"], figures["refused_busy"]) == (CONCURRENT - 1, 1)
    town, other = TOWNS[3], TOWNS[4]
    wrong = {
        "wrong asker": _answered(town, question=QUESTION.format(town=other)),
        "another town's figure": _answered(town, figure=POPULATION[other]),
        "no figure": Outcome(
            town, 0.0, 1.0, answer="<p>Je n’ai pas trouvé.</p>", question_shown=QUESTION.format(town=town)
        ),
        "error shown": Outcome(
            town,
            0.0,
            1.0,
            answer=f'<p class="rag-error">{POPULATION[town]}</p>',
            question_shown=QUESTION.format(town=town),
        ),
        "an exception": Outcome(town, 0.0, 1.0, error="ConnectionError: reset"),
        "not busy": Outcome(town, 0.0, 1.0, refused="Internal server error"),
        "nothing at all": Outcome(town, 0.0, 1.0),
    }
    for kind, outcome in wrong.items():
        with pytest.raises(AssertionError):
            check([outcome if o.town == town else o for o in good])
            pytest.fail(f"check accepted {kind}")
    with pytest.raises(AssertionError, match="one outcome per asker"):
        check(good[1:])
    with pytest.raises(AssertionError, match="most requests must be served"):
        check([Outcome(t, 0.0, 1.0, refused="queue is full") for t in TOWNS])


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_llm_backend_under_load(indexed: tuple[Settings, LazyEmbedder], server_log: None) -> None:
    settings, embedder = indexed
    with FakeLLMServer(script=_perfect_llm, delay_seconds=LLM_DELAY_SECONDS) as llm:
        llm_settings = settings.replace(generator="openai", llm_base_url=llm.url, llm_model="test-model")
        with running_app(llm_settings, embedder) as url:
            figures = check(burst(url))
        assert len(llm.requests) >= figures["answered"], "the answers did not come from the LLM"
    report("openai_compatible_0.2s", figures)


@pytest.mark.slow
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
    before = {d.doc_id for d in list_documents(settings)}
    with running_app(settings, embedder) as url:
        upload: dict[str, Any] = {}
        # Connected first, and the burst held until the upload is in the queue: otherwise the
        # 50 questions can fill the queue before the upload joins it, and it is refused as busy.
        uploader_client = Client(url, verbose=False)
        queued = threading.Event()

        def do_upload() -> None:
            try:
                upload["started"] = time.monotonic()
                job = uploader_client.submit([handle_file(str(path)) for path in uploads], api_name="/upload")
                while job.status().code in (Status.STARTING, Status.JOINING_QUEUE) and not job.done():
                    time.sleep(0.02)
            finally:
                queued.set()
            results, *_ = job.result(timeout=600)
            upload["ended"] = time.monotonic()
            upload["results"] = results

        uploader = threading.Thread(target=do_upload)
        uploader.start()
        assert queued.wait(timeout=120), "the upload never reached the queue"
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
    assert len({d.doc_id for d in list_documents(settings)} - before) == len(uploads)
    report("offline_during_upload", figures)
