"""The ``rag`` command: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import UserError
from rag.settings import Settings
from rag.types import Answer, Hit

#: Exit codes: the run did what was asked; it ran but some of it failed (a folder with nothing
#: indexable); a user error, said in one line (bad setting or path, no index, the LLM failing);
#: interrupted by Ctrl+C.
OK, PARTLY_FAILED, USER_ERROR, INTERRUPTED = 0, 1, 2, 130
#: Characters of a passage quoted when it is shown without a cited span.
QUOTE_CHARS = 300


def _display(path: str) -> str:
    with contextlib.suppress(ValueError):  # another drive on Windows
        path = os.path.relpath(path)
    # A file name may hold a newline or a terminal escape: show it, never let it act.
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in path)


def _shown(text: str) -> str:
    """Document text, titles and server messages with their control characters made visible.

    A document (or an LLM server) could otherwise move the cursor, rewrite what the
    terminal shows or set its title with escape sequences; line breaks and tabs stay.
    """
    return "".join(ch if ch.isprintable() or ch in "\n\t" else ascii(ch)[1:-1] for ch in text)


class _ProgressBars:
    """One tqdm bar per stage on stderr; ``close`` clears them, so an error then prints on its own line."""

    def __init__(self) -> None:
        self._bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if total < 20:  # short work needs no bar
            return
        bar = self._bars.get(stage)
        if bar is None:
            unit = "chunk" if stage == "embedding" else "file"
            bar = self._bars[stage] = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from rag.embedders import LazyEmbedder
    from rag.embedders.parallel import ParallelEmbedder
    from rag.indexing.indexer import index_paths

    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, not {args.workers}.")
    embedder = LazyEmbedder(settings)
    parallel = ParallelEmbedder(settings, embedder, args.workers) if args.workers > 1 else None
    bars = _ProgressBars()
    try:
        report = index_paths([Path(p) for p in args.paths], settings, parallel or embedder, bars)
    finally:
        bars.close()
        if parallel:
            parallel.close()
    if report.rebuilt:
        print(report.rebuilt, file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        for label, paths in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
            print(f"{label:>9}: {len(paths)}" + "".join(f"\n           {_display(p)}" for p in paths))
        print(f"unchanged: {report.unchanged}")
        print(
            f"  skipped: {len(report.skipped)}"
            + "".join(f"\n           {_display(s.path)}: {s.reason}" for s in report.skipped)
        )
        print(f"chunks embedded: {report.chunks_embedded}, chunks in the index: {report.chunks_total}")
    for folder in report.empty_folders:
        print(f"error: nothing indexable in {_display(folder)} (supported: .txt .md .html .htm .pdf).", file=sys.stderr)
    return PARTLY_FAILED if report.empty_folders else OK


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from rag.indexing.catalog import list_documents

    documents = list_documents(settings)
    if args.json:
        print(
            json.dumps(
                [
                    {"title": d.title, "date": d.date, "path": d.path, "paths": list(d.paths), "chunks": d.chunks}
                    for d in documents
                ],
                ensure_ascii=False,
            )
        )
        return OK
    if not documents:
        print("The index is empty.")
    for d in documents:
        print(f"{_shown(d.title)}\n    {d.date or 'no date'} · {d.chunks} chunks · {_display(d.path)}")
        for alias in d.paths[1:]:
            print(f"    same content: {_display(alias)}")
    return OK


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answering.service import Assistant

    # The answer's deadline (llm_answer_seconds) counts from when the command started.
    answer = Assistant(settings).ask(" ".join(args.question), asked_at=args.started)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        _print_answer(answer)
    if answer.error:  # the answer backend failed, or its answer was cut: its one-line reason is the answer
        print(f"error: {_shown(answer.error)}", file=sys.stderr)
        _exit_quickly()
        return USER_ERROR
    generation = answer.generation
    if generation and generation.fallback and generation.reason:
        print(f"note: {_shown(generation.reason)} The answer above quotes your documents instead.", file=sys.stderr)
    _exit_quickly()
    return OK


def _exit_quickly() -> None:
    """Leave the objects made so far out of the interpreter's last garbage collection.

    With the LLM client loaded it walks some 170,000 objects (0.4 s on two idle cores, more on
    busy ones), after the answer was printed but before `rag ask` returns: time that counts
    against the promise of an answer within `llm_answer_seconds` plus a second. Nothing
    is left to write by then; reference counting still closes files and connections.
    """
    gc.freeze()


def _print_answer(answer: Answer) -> None:
    """The answer (unless the backend failed), then its sources, or the closest passages."""
    if not answer.error:
        print(_shown(answer.text))
    shown = answer.shown()
    if shown:
        gap = "" if answer.error else "\n"  # nothing was printed above when the backend failed
        print(gap + ("Closest passages:" if answer.abstained else "Sources:"))
    for n, hit, citations in shown:
        # One quote per passage: the span of the last sentence citing it.
        citation = citations[-1] if citations else None
        quote = " ".join(citation.span_text.split()) if citation else _excerpt(hit.chunk.text)
        mark = f" ({citation.verification})" if citation and citation.verification != "supported" else ""
        print(f"[{n}] {_shown(hit.title)} ({hit.date or 'no date'}) — {_where(hit)}")
        print(f"    {_quoted(_shown(quote))}{mark}")


#: Opening quote marks: a sentence that opens with one already shows where its quote starts.
OPENING_QUOTES = "«“\"‘'„"


def _quoted(text: str) -> str:
    """``text`` between « », unless it is itself a quotation (« « Après… » » reads as a typo)."""
    return text if text[:1] in OPENING_QUOTES else f"« {text} »"


def _where(hit: Hit) -> str:
    return _display(hit.source) + (f", page {hit.page}" if hit.page else "")


def _excerpt(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` on one line, cut at the last whole word within ``limit`` characters, marked with "…"."""
    flat = " ".join(text.split())  # a passage's line breaks would break the quote's indentation
    if len(flat) <= limit:
        return flat
    kept = flat[:limit]
    if flat[limit] != " " and " " in kept:
        kept = kept.rsplit(" ", 1)[0]
    return kept + "…"


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from rag.answering.service import Assistant
    from rag.evaluation import evaluate

    assistant = Assistant(settings)
    bars: list[Any] = []

    def progress(done: int, total: int) -> None:
        # Created once the run starts: an error before it (a wrong --out path) stays one line.
        if not bars:
            bars.append(tqdm(total=total, desc="questions", unit="q", file=sys.stderr, leave=False))
        bars[0].update(done - bars[0].n)

    try:
        scores = evaluate(assistant.ask, Path(args.qa_file), Path(args.out) if args.out else None, progress)
    finally:
        for bar in bars:
            bar.close()
    # Halves split by a hash of the id: a figure tuned on one half is checked on the other.
    columns = [("all", scores.table())] + [(f"half {h}", scores.halves[h].table()) for h in sorted(scores.halves)]
    if len(scores.languages) > 1:
        columns += [(language, scores.languages[language].table()) for language in sorted(scores.languages)]
    print(f"{scores.questions} questions ({scores.answerable} answerable)")
    print(f"{'':>24}  " + "".join(f"{name:>8}" for name, _ in columns))
    for name in columns[0][1]:
        style = "{:8.1f}" if name.endswith("_median") else "{:8.3f}"
        print(f"{name:>24}: " + "".join(style.format(table.get(name, float("nan"))) for _, table in columns))
    print(scores.endings())
    return OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from ui.server import serve

    serve(settings.replace(host=args.host, port=args.port))
    return OK


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from rag.integrations.mcp_server import serve_stdio

    serve_stdio(settings)
    return OK


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from rag.integrations.openai_api import serve

    serve(settings, args.host, args.port)
    return OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Answer questions from your own articles, with cited sources."
    )
    parser.add_argument("--config", type=Path, help="TOML settings file (default: ./rag.toml if present)")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--index", type=Path, help="index folder (default: vectorstore/, or $RAG_INDEX_DIR)")
        sub.add_argument("--store", help='where the index lives: "files" (default) or "milvus" ($RAG_STORE_BACKEND)')
        return sub

    index = add("index", "Index files and folders (recursively), incrementally.")
    index.add_argument("paths", nargs="+", metavar="PATH")
    index.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    index.add_argument(
        "--workers", type=int, default=1, metavar="N", help="embed in N processes, each with its own model (default: 1)"
    )
    index.set_defaults(run=cmd_index)

    ask = add("ask", "Answer a question from the indexed documents, with cited sources.")
    ask.add_argument("question", nargs="+", metavar="QUESTION")
    ask.add_argument("--json", action="store_true", help="print answer, citations, passages and timings as JSON")
    ask.set_defaults(run=cmd_ask)

    evaluation = add("eval", "Score retrieval and answers on a QA file (one JSON question per line).")
    evaluation.add_argument("qa_file", metavar="QA.jsonl")
    evaluation.add_argument("--out", metavar="RESULTS.jsonl", help="write one JSON line per question")
    evaluation.add_argument(
        "--generator", help="answer backend for this run, e.g. openai for the LLM server in the settings"
    )
    evaluation.set_defaults(run=cmd_eval)

    sources = add("sources", "List the indexed documents.")
    sources.add_argument(
        "--json", action="store_true", help="print the documents (title, date, path, paths, chunks) as a JSON list"
    )
    sources.set_defaults(run=cmd_sources)

    serve = add("serve", "Start the web app: chat, documents, settings. Indexes nothing by itself.")
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1, or $RAG_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default: 7860, or $RAG_PORT)")
    serve.set_defaults(run=cmd_serve)

    mcp = add("mcp", "Serve search, cited answers and the documents to MCP clients, on stdin/stdout.")
    mcp.set_defaults(run=cmd_mcp)

    api = add("api", "Serve cited answers through an OpenAI-compatible API (/v1/chat/completions, /v1/models).")
    api.add_argument("--host", help="address to listen on (default: 127.0.0.1, or $RAG_HOST)")
    api.add_argument("--port", type=int, help="port to listen on (default: 7861; 0 for any free port)")
    api.set_defaults(run=cmd_api)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    args.started = started
    try:
        settings = Settings.load(
            config_file=args.config,
            index_dir=getattr(args, "index", None),
            generator=getattr(args, "generator", None),
            store_backend=getattr(args, "store", None),
        )
        return int(args.run(args, settings))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; the index is unchanged unless a new version was already published.", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
