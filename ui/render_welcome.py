"""The chat's empty state: what is indexed, three questions to start with, how to add files (pure functions)."""

from __future__ import annotations

from pathlib import Path

from rag.indexing.catalog import DocumentInfo
from ui.html import escape

#: Documents named in the empty state, and example questions offered.
NAMED = 3
#: Characters of a title quoted in an example question.
QUESTION_TITLE_CHARS = 70
_ASK = {
    "fr": "Que disent mes documents sur « {title} » ?",
    "en": "What do my documents say about “{title}”?",
}
UPLOAD_LINE = "Add .txt, .md, .html or .pdf files in the Documents tab; they are indexed on this machine."


def _shorter(title: str, limit: int = QUESTION_TITLE_CHARS) -> str:
    title = " ".join(title.rstrip("…").split())
    if len(title) <= limit:
        return title
    return title[:limit].rsplit(" ", 1)[0] + "…"


def _chosen(documents: list[DocumentInfo]) -> list[DocumentInfo]:
    """The most recent documents first, whole titles before cut ones and file names, one per title."""
    ordered = sorted(
        documents, key=lambda d: (untitled(d), d.title.endswith("…"), -_date_key(d.date), d.title.casefold())
    )
    seen: set[str] = set()
    chosen = []
    for document in ordered:
        if document.title.casefold() not in seen:
            seen.add(document.title.casefold())
            chosen.append(document)
    return chosen[:NAMED]


def _date_key(date: str | None) -> int:
    digits = "".join(ch for ch in (date or "") if ch.isdigit())[:8]
    return int(digits.ljust(8, "0")) if digits else 0


def untitled(document: DocumentInfo) -> bool:
    """Whether the document had no title of its own, so that its file's name stands in (rag.ingest.load)."""
    return any(document.title == Path(path).stem for path in document.paths)


def example_questions(documents: list[DocumentInfo]) -> list[str]:
    """Up to three questions about indexed documents, each in its document's language (English if unknown).

    Never about a file name: "what do my documents say about 003_c00ce55952bfa148?" helps nobody.
    """
    titled = [d for d in documents if not untitled(d)]
    return [_ASK.get(d.language, _ASK["en"]).format(title=_shorter(d.title)) for d in _chosen(titled)]


def render_welcome(documents: list[DocumentInfo] | None) -> str:
    """What the empty chat shows; ``None`` when the index cannot be read."""
    if not documents:
        return f"<b>No documents are indexed yet.</b><br>{escape(UPLOAD_LINE)}"
    count = len(documents)
    titles = ", ".join(f"<i>{escape(_shorter(d.title))}</i>" for d in _chosen(documents))
    among = " (among them)" if count > NAMED else ""
    return (
        f"<b>{count} document{'s' if count != 1 else ''} indexed</b>{among}: {titles}<br>"
        "Ask a question about them, or start with one below. Each sentence of an answer cites its passage.<br>"
        f"{escape(UPLOAD_LINE)}"
    )
