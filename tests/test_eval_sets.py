"""Shape of the bundled QA sets: fast checks on the files themselves (no model, no index).

``eval/news/dev.jsonl`` is checked in full (fields, spans, the mix of question kinds and
its dev/held-out halves); ``seeds/qa.jsonl`` for the properties its format carries.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "eval" / "news"
NEWS_QA = NEWS / "dev.jsonl"
NEWS_CORPUS = NEWS / "corpus"
ORANGESUM = ROOT / "benchmarks" / "data" / "orangesum" / "articles-5000.jsonl"
SEEDS = ROOT / "seeds"
SEEDS_QA = SEEDS / "qa.jsonl"

ANSWERABLE = {"fact", "followup"}
UNANSWERABLE = {"absent", "general", "not-stated"}
FIELDS = {"id", "question", "answers", "sources", "spans", "language", "kind", "history"}


def _half(question_id: str) -> str:
    # Same rule as rag.evaluation.half, kept here so this file imports nothing from rag.
    return "AB"[zlib.crc32(question_id.encode("utf-8")) % 2]


def _lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                pytest.fail(f"{path.name}:{number} is not JSON: {error}")
    return rows


@pytest.fixture(scope="module")
def news() -> list[dict[str, Any]]:
    return _lines(NEWS_QA)


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(NEWS_CORPUS.glob("*.txt"))}


def test_news_lines_have_the_fields(news: list[dict[str, Any]]) -> None:
    for row in news:
        assert set(row) == FIELDS, row.get("id")
        assert isinstance(row["question"], str) and row["question"].strip() == row["question"] != "", row["id"]
        assert row["language"] in {"fr", "en"}, row["id"]
        assert row["kind"] in ANSWERABLE | UNANSWERABLE, row["id"]
        assert isinstance(row["history"], list) and all(isinstance(h, str) and h for h in row["history"]), row["id"]
        for key in ("answers", "sources", "spans"):
            assert isinstance(row[key], list), (row["id"], key)


def test_news_ids_are_unique_and_numbered_in_order(news: list[dict[str, Any]]) -> None:
    ids = [row["id"] for row in news]
    assert len(set(ids)) == len(ids)
    assert ids == [f"news-{n:03d}" for n in range(1, len(ids) + 1)]
    questions = Counter((tuple(row["history"]), row["question"]) for row in news)
    assert not [q for q, n in questions.items() if n > 1], "the same question (with the same history) twice"


def test_news_answerable_lines_point_at_their_answers(news: list[dict[str, Any]], corpus: dict[str, str]) -> None:
    for row in news:
        if row["kind"] not in ANSWERABLE:
            continue
        assert row["answers"] and all(isinstance(a, str) and a.strip() == a != "" for a in row["answers"]), row["id"]
        assert len(row["sources"]) == 1 and row["sources"][0] in corpus, row["id"]
        text = corpus[row["sources"][0]]
        assert row["spans"], row["id"]
        spanned = set()
        for span in row["spans"]:
            assert len(span) == 2 and all(isinstance(x, int) for x in span), row["id"]
            start, end = span
            assert 0 <= start < end <= len(text), (row["id"], span)
            assert text[start:end] in row["answers"], (row["id"], span, text[start:end])
            spanned.add(text[start:end])
        # Every listed answer has a span of its own.
        assert spanned == set(row["answers"]), (row["id"], set(row["answers"]) - spanned)


def test_news_unanswerable_lines_are_empty(news: list[dict[str, Any]]) -> None:
    for row in news:
        if row["kind"] in UNANSWERABLE:
            assert row["answers"] == row["sources"] == row["spans"] == [], row["id"]
            assert row["history"] == [], row["id"]


def test_news_follow_ups_carry_their_history(news: list[dict[str, Any]]) -> None:
    language = {row["question"]: row["language"] for row in news}
    switches = 0
    for row in news:
        if row["kind"] == "followup":
            assert row["history"], row["id"]
            # The previous question is itself in the set, so its language is known.
            assert row["history"][-1] in language, row["id"]
            switches += language[row["history"][-1]] != row["language"]
        elif row["kind"] == "fact":
            assert row["history"] == [], row["id"]
    assert switches >= 6


def test_news_mix_of_kinds_and_languages(news: list[dict[str, Any]]) -> None:
    kinds = Counter(row["kind"] for row in news)
    english = [row for row in news if row["language"] == "en"]
    assert len(news) >= 160
    assert sum(kinds[k] for k in UNANSWERABLE) >= 36
    assert all(kinds[k] >= 12 for k in UNANSWERABLE), kinds
    assert kinds["followup"] >= 22, kinds
    assert len(english) >= 32
    assert sum(row["kind"] in UNANSWERABLE for row in english) >= 8
    assert sum(row["kind"] in ANSWERABLE for row in english) >= 8


def test_news_halves_each_hold_a_fair_share(news: list[dict[str, Any]]) -> None:
    groups: dict[str, list[str]] = {}
    for row in news:
        groups.setdefault(row["kind"], []).append(row["id"])
        if row["language"] == "en":
            groups.setdefault("en", []).append(row["id"])
    for name, ids in groups.items():
        in_a = sum(_half(i) == "A" for i in ids)
        assert min(in_a, len(ids) - in_a) >= 0.4 * len(ids), (name, in_a, len(ids) - in_a)


def test_news_corpus_is_orangesum_articles_as_the_benchmark_writes_them(
    news: list[dict[str, Any]], corpus: dict[str, str]
) -> None:
    assert len(corpus) == 50
    wanted = {name.removesuffix(".txt") for name in corpus}
    articles = {}
    with ORANGESUM.open(encoding="utf-8") as handle:
        for line in handle:
            article = json.loads(line)
            if article["id"] in wanted:
                articles[article["id"]] = article
    assert set(articles) == wanted
    for name, text in corpus.items():
        a = articles[name.removesuffix(".txt")]
        # benchmarks/common.py article_text(), byte for byte.
        assert text == f"{a['title']}\n\ndate: {a['date']}\n\n{a['heading']}\n\n{a['text']}\n", name
        assert (NEWS_CORPUS / name).read_bytes() == text.encode("utf-8"), name
    cited = {source for row in news for source in row["sources"]}
    assert cited == set(corpus), set(corpus) - cited


def test_seed_spans_hold_answers() -> None:
    rows = _lines(SEEDS_QA)
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert {"id", "question", "answers", "sources", "spans"} <= set(row), row.get("id")
        if not row["answers"]:
            assert row["sources"] == row["spans"] == [], row["id"]
            continue
        assert row["sources"] and row["spans"], row["id"]
        texts = [(SEEDS / source).read_text(encoding="utf-8") for source in row["sources"]]
        for answer in row["answers"]:
            assert any(answer in text for text in texts), (row["id"], answer)
        for start, end in row["spans"]:
            # A span is an answer's own text (some alternative answers have no span of their own).
            assert any(0 <= start < end <= len(t) and t[start:end] in row["answers"] for t in texts), (
                row["id"],
                [start, end],
            )


def test_news_readme_counts_match_the_file(news: list[dict[str, Any]]) -> None:
    readme = (NEWS / "README.md").read_text(encoding="utf-8")
    match = re.search(r"(\d+) questions", readme)
    assert match and int(match.group(1)) == len(news)
    assert (NEWS / "LICENSE").read_bytes() == (ORANGESUM.parent / "LICENSE").read_bytes()
