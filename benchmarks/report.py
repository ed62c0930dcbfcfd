"""results.json into results.md: one table, every figure beside LangChain's from the same run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HIGHER, LOWER, INFO = "higher", "lower", ""


@dataclass(frozen=True)
class Row:
    name: str
    ours: float
    theirs: float | None
    better: str
    digits: int = 1
    note: str = ""

    def cells(self) -> list[str]:
        def show(value: float | None) -> str:
            return "—" if value is None else f"{value:,.{self.digits}f}"

        ratio = "—" if not self.theirs else _ratio(self.ours / self.theirs)
        return [self.name, show(self.ours), show(self.theirs), ratio, self.better or "—", self.note]


def _ratio(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 or value == 0 else f"{value:.1g}"


def _side_by_side(name: str, sides: dict[str, Any], key: str, better: str, digits: int = 1, note: str = "") -> Row:
    """The row for a figure both pipelines record under the same key (``sides["ours"]``, ``sides["langchain"]``)."""
    return Row(name, sides["ours"][key], sides["langchain"][key], better, digits, note)


def quality_rows(quality: dict[str, Any]) -> list[Row]:
    rows = []
    for name, data in quality.items():
        theirs = data["langchain"]["dense"]
        for mode in ("hybrid", "lexical", "dense"):
            label = f"{name} ({data['questions']} q) {mode if mode == 'hybrid' else mode + ' (reference)'}"
            for metric in ("recall@1", "recall@5", "recall@10", "mrr@10"):
                rows.append(Row(f"{label}: {metric}", data["ours"][mode][metric], theirs[metric], HIGHER, 3))
    return rows


def indexing_rows(indexing: dict[str, Any]) -> list[Row]:
    n, cov = indexing["articles"], indexing["coverage"]
    rows = [
        _side_by_side(f"index {n} articles: wall time (s)", indexing, "seconds", LOWER),
        _side_by_side("chunks per second", indexing, "chunks_per_second", HIGHER),
        _side_by_side("articles per second", indexing, "articles_per_second", HIGHER, 2),
        _side_by_side("chunks", indexing, "chunks", INFO, 0, "ours: smaller, window-sized chunks"),
        _side_by_side("peak RSS of the indexing process (MiB)", indexing, "peak_rss_mib", LOWER, 0),
        _side_by_side("share of article text embedded (mean)", cov, "share_mean", HIGHER, 3),
        _side_by_side("share of article text embedded (worst article)", cov, "share_min", HIGHER, 3),
        _side_by_side("articles embedded in full", cov, "articles_fully_read", HIGHER, 3),
        _side_by_side("chunks cut by the model's window (ours 512, LangChain 256)", cov, "chunks_truncated", LOWER, 3),
    ]
    for step, data in indexing["reindex"].items():
        if "langchain" not in data:
            continue
        derived = " (LangChain: full rebuild, time of the build above)" if data["langchain"].get("derived") else ""
        label = step.replace("_", " ")
        rows.append(_side_by_side(f"re-index, {label}: wall time (s)", data, "seconds", LOWER, 1, derived.strip()))
        rows.append(_side_by_side(f"re-index, {label}: chunks embedded", data, "chunks_embedded", LOWER, 0))
    return rows


def latency_rows(latency: dict[str, Any]) -> list[Row]:
    rows = []
    answer_note = "vs LangChain retrieval (it has no answer step)"
    for size, data in latency.items():
        if not size.isdigit():
            continue
        ours, theirs = data["ours"], data["langchain"]
        n = f"{int(size):,} chunks"
        for label, key, their_key, note in (
            ("retrieval, French", "retrieval", "retrieval", ""),
            ("full answer, French", "answer", "retrieval", answer_note),
            ("retrieval, English", "retrieval_english", "retrieval_english", ""),
        ):
            for stat in ("median_ms", "p95_ms"):
                name = f"{n}: {label}, {stat.replace('_ms', '')} (ms)"
                rows.append(Row(name, ours[key][stat], theirs[their_key][stat], LOWER, 1, note))
    return rows


def coldstart_rows(cold: dict[str, Any]) -> list[Row]:
    rows = []
    for language, data in cold.items():
        note = "LangChain: load + split + embed the 2 seed articles (no pickle-free load)"
        if data["ours"]["abstained"]:
            note += "; ours abstained"
        rows.append(
            _side_by_side(f"fresh process to first answer, {language} question (s)", data, "seconds", LOWER, 2, note)
        )
    return rows


def memory_rows(memory: dict[str, Any]) -> list[Row]:
    rows = [Row("floor: Python + torch + model (MiB)", memory["floor"]["peak_rss_mib"], None, INFO, 0)]
    for size, data in memory.items():
        if not size.isdigit():
            continue
        ours, theirs = data["ours"], data["langchain"]
        french = ours["french_only"]
        note = "ours: torch never imported" if not french["model_loaded"] else ""
        n = f"{int(size):,} chunks"
        rows += [
            Row(
                f"{n}: peak RSS, 5 French questions (MiB)",
                french["peak_rss_mib"],
                theirs["french_only"]["peak_rss_mib"],
                LOWER,
                0,
                note,
            ),
            Row(f"{n}: peak RSS, + 1 English question (MiB)", ours["peak_rss_mib"], theirs["peak_rss_mib"], LOWER, 0),
            Row(f"{n}: RSS after serving (MiB)", ours["rss_mib"], theirs["rss_mib"], LOWER, 0),
        ]
    return rows


SECTIONS = (
    ("Retrieval quality (k=10)", "quality", quality_rows),
    ("Indexing OrangeSum", "indexing", indexing_rows),
    ("Query latency (warm process)", "latency", latency_rows),
    ("Cold start", "coldstart", coldstart_rows),
    ("Peak memory while serving", "memory", memory_rows),
)


def _table(rows: list[Row]) -> list[str]:
    lines = ["| measurement | ours | LangChain | ours / LangChain | better is | note |", "|---|--:|--:|--:|---|---|"]
    return lines + ["| " + " | ".join(row.cells()) + " |" for row in rows]


def _items(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.1f}" for name, value in values.items())


def _breakdown(results: dict[str, Any]) -> list[str]:
    """Where our time goes, from the same run: the evidence behind the levers."""
    lines = ["## Where our time goes", ""]
    if "indexing" in results:
        indexing = results["indexing"]
        lines.append(f"- `rag index`, {indexing['articles']} articles (s): " + _items(indexing["ours"]["stages"]))
        lines.append("- LangChain build (s): " + _items(indexing["langchain"]["stages"]))
        for step, data in indexing["reindex"].items():
            lines.append(f"- `rag index` again, {step.replace('_', ' ')} (s): " + _items(data["ours"]["stages"]))
    for size, data in results.get("latency", {}).items():
        if size.isdigit():
            retrieval = data["ours"]["retrieval_stages_median_ms"]
            answer = data["ours"]["answer_stages_median_ms"]
            search = data["langchain"]["search_without_query_embedding"]["median_ms"]
            lines.append(
                f"- {int(size):,} chunks, medians (ms): retrieval "
                + ", ".join(f"{k} {v:.1f}" for k, v in retrieval.items())
                + "; answer "
                + ", ".join(f"{k} {v:.1f}" for k, v in answer.items())
                + f"; LangChain search without query embedding {search:.2f}"
            )
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Benchmark: ours vs the textbook LangChain pipeline ({'quick' if results['plan']['quick'] else 'full'} run)",
        "",
        f"- date: {results['date']}",
        f"- machine: {m['cores']} cores, {m['cpu']}, torch {m['torch']} ({m['torch_threads']} threads), "
        f"load average at start {m['load_average_at_start'][0]:.1f}, "
        f"ours embeds in {'bfloat16' if m.get('native_bfloat16') else 'float32'} (LangChain: float32)",
        f"- total time: {results['seconds'] / 60:.1f} min",
        "- ratio = ours / LangChain, measured in this run; the `better is` column says which way is good.",
        "",
    ]
    for title, key, build in SECTIONS:
        if key in results:
            lines += [f"## {title}", "", *_table(build(results[key])), ""]
    if "milvus" in results:
        note = "Quality: Milvus / files is the difference Milvus − files (target: within 0.01)."
        lines += ["## Milvus Lite beside the file store", "", note, "", *milvus_table(results["milvus"]), ""]
    return "\n".join(lines + _breakdown(results))


@dataclass(frozen=True)
class StoreRow:
    """One figure on both stores, LangChain's beside them where it has one; quality compares by difference."""

    name: str
    files: float
    milvus: float
    langchain: float | None
    better: str
    digits: int = 1
    note: str = ""
    difference: bool = False

    def cells(self) -> list[str]:
        def show(value: float | None) -> str:
            return "—" if value is None else f"{value:,.{self.digits}f}"

        def ratio(ours: float, theirs: float | None) -> str:
            return "—" if not theirs else _ratio(ours / theirs)

        compared = f"{self.milvus - self.files:+.3f}" if self.difference else ratio(self.milvus, self.files)
        their = [show(self.langchain), ratio(self.files, self.langchain), ratio(self.milvus, self.langchain)]
        return [self.name, show(self.files), show(self.milvus), compared, *their, self.better or "—", self.note]


def _scale_rows(label: str, data: dict[str, Any], note: str = "") -> list[StoreRow]:
    files, milvus, theirs = data["files"], data["milvus"], data.get("langchain", {})
    rows = []
    for call, name, their_call in (
        ("search_dense", "store dense search", "search_dense"),
        ("search_lexical", "store BM25 search", ""),
        ("retrieve", "full hybrid retrieval", "retrieve"),
    ):
        for stat in ("median_ms", "p95_ms"):
            their = theirs.get(their_call, {}).get(stat) if their_call else None
            stat_name = stat.replace("_ms", "").replace("median", "p50")
            rows.append(
                StoreRow(
                    f"{label}: {name}, {stat_name} (ms)", files[call][stat], milvus[call][stat], their, LOWER, 1, note
                )
            )
    rss = "peak RSS serving (MiB)"
    rows.append(
        StoreRow(
            f"{label}: {rss}", files["peak_rss_mib"], milvus["peak_rss_mib"], theirs.get("peak_rss_mib"), LOWER, 0, note
        )
    )
    rows.append(StoreRow(f"{label}: index on disk (MiB)", files["disk_mib"], milvus["disk_mib"], None, LOWER, 0, note))
    return rows


def milvus_rows(milvus: dict[str, Any]) -> list[StoreRow]:
    rows: list[StoreRow] = []
    if "quality" in milvus:
        quality = milvus["quality"]
        files, ours = quality["files"], quality["milvus"]
        label = f"PIAF dev ({files['answerable']} answerable q)"
        for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "answer_contains", "citation_overlap"):
            rows.append(StoreRow(f"{label}: {key}", files[key], ours[key], None, HIGHER, 3, "", True))
        rows.append(
            StoreRow(f"{label}: answer, median (ms)", files["answer_ms_median"], ours["answer_ms_median"], None, LOWER)
        )
    if "indexing" in milvus:
        data = milvus["indexing"]
        label = f"index {data['articles']} OrangeSum articles"
        for key, name, better, digits in (
            ("seconds", "wall time (s)", LOWER, 1),
            ("chunks_per_second", "chunks per second", HIGHER, 1),
            ("articles_per_second", "articles per second", HIGHER, 2),
            ("peak_rss_mib", "peak RSS (MiB)", LOWER, 0),
        ):
            theirs = data["langchain"][key]
            rows.append(StoreRow(f"{label}: {name}", data["files"][key], data["milvus"][key], theirs, better, digits))
    scale = milvus.get("scale", {})
    for size, data in scale.get("sizes", {}).items():
        rows += _scale_rows(f"{int(size):,} chunks", data)
        insert = data["milvus"]["insert"]["chunks_per_second"]
        rows.append(
            StoreRow(
                f"{int(size):,} chunks: insert without embedding (chunks/s)",
                0.0,
                insert,
                None,
                HIGHER,
                0,
                "files: not measured",
            )
        )
    for size, data in scale.get("extrapolated", {}).items():
        rows += _scale_rows(
            f"{int(size):,} chunks", data, "extrapolated linearly from the two measured sizes, not measured"
        )
    return rows


def milvus_table(milvus: dict[str, Any]) -> list[str]:
    lines = [
        "| measurement | files | Milvus Lite | Milvus / files | LangChain | files / LangChain | Milvus / LangChain"
        " | better is | note |",
        "|---|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    return lines + ["| " + " | ".join(row.cells()) + " |" for row in milvus_rows(milvus)]
