"""The Documents tab as safe HTML: the table, upload results, removal and one-line outcomes (pure functions)."""

from __future__ import annotations

from pathlib import Path

from rag.indexing.catalog import DocumentInfo
from rag.indexing.uploads import UploadResult
from ui.html import escape


def _matches(document: DocumentInfo, query: str) -> bool:
    key = query.casefold().strip()
    return not key or key in document.title.casefold() or any(key in Path(p).name.casefold() for p in document.paths)


def render_documents(documents: list[DocumentInfo], query: str = "") -> str:
    """The documents table, those whose title or file name contains ``query`` (all when it is empty)."""
    if not documents:
        return '<p class="rag-note">No documents indexed yet: upload some below.</p>'
    shown = [d for d in documents if _matches(d, query)]
    rows = "".join(
        "<tr>"
        f'<td id="{_row_id(d)}-title">{escape(d.title)}</td><td>{escape(d.date or "—")}</td>'
        f'<td title="{escape(_LANGUAGES.get(d.language, "language not recognised"))}">'
        f"{escape(d.language if d.language in _LANGUAGES else '—')}</td><td>{d.chunks}</td>"
        f'<td><span class="rag-file" id="{_row_id(d)}-file" title="{escape(d.path)}">{escape(Path(d.path).name)}</span>'
        f"{_aliases(d)}{_remove_button(d)}</td>"
        "</tr>"
        for d in sorted(shown, key=lambda d: d.title.casefold())
    )
    total = f"{len(documents)} document{'s' if len(documents) != 1 else ''}"
    caption = f"{len(shown)} of {total} match “{escape(query.strip())}”" if query.strip() else total
    return (
        f'<table class="rag-documents"><caption>{caption}</caption><thead><tr><th>Title</th><th>Date</th>'
        "<th>Lang.</th><th>Chunks</th><th>File</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


_LANGUAGES = {"fr": "French", "en": "English"}


def _row_id(document: DocumentInfo) -> str:
    return f"rag-doc-{escape(document.doc_id)}"


def _remove_button(document: DocumentInfo) -> str:
    # Under the file name rather than in a column of its own, which would push a 390 px wide table
    # past the screen's edge. Named after its row for screen readers ("Remove" alone, read out of
    # the table, says not what): "Remove", the title, the file, read from the cells themselves, so
    # the name starts with the visible word (voice control) and no title is copied into an attribute.
    # The click only asks first (ui.documents_tab).
    row = _row_id(document)
    return (
        f'<div class="rag-row-actions"><button type="button" class="rag-remove-row" id="{row}-remove" '
        f'data-doc-id="{escape(document.doc_id)}" aria-labelledby="{row}-remove {row}-title {row}-file">'
        "Remove</button></div>"
    )


def _aliases(document: DocumentInfo) -> str:
    if len(document.paths) < 2:
        return ""
    names = ", ".join(escape(Path(p).name) for p in document.paths[1:])
    return f'<br><span class="rag-note">same content: {names}</span>'


def document_choice(document: DocumentInfo) -> tuple[str, str]:
    """(label, value) for the removal dropdown; the dropdown shows labels as plain text."""
    return f"{document.title} — {Path(document.path).name}", document.doc_id


def render_removal_question(document: DocumentInfo) -> str:
    """What the confirmation box asks before a document leaves the index."""
    return (
        f"<p>Remove “{escape(document.title)}” ({escape(Path(document.path).name)}, {document.chunks} passages) "
        "from the index? An uploaded copy is deleted too; this cannot be undone.</p>"
    )


def render_upload_results(results: list[UploadResult]) -> str:
    """One line per uploaded file: what happened to it, and why when it was not indexed."""
    if not results:
        return ""
    labels = {"indexed": "indexed", "updated": "updated", "unchanged": "unchanged", "skipped": "skipped"}
    items = "".join(
        f'<li><span class="{"rag-skip" if r.status == "skipped" else "rag-ok"}">'
        f'{"✗" if r.status == "skipped" else "✓"}</span> <span class="rag-file">{escape(r.name)}</span>'
        f" — {labels[r.status]}{': ' + escape(r.detail) if r.detail else ''}</li>"
        for r in results
    )
    return f'<ul class="rag-results">{items}</ul>'


def render_outcome(ok: bool, message: str) -> str:
    """A one-line result of an action (saving settings, removing a document)."""
    mark = '<span class="rag-ok">✓</span>' if ok else '<span class="rag-skip">✗</span>'
    return f"<div>{mark} {escape(message)}</div>"
