"""What the Documents and Settings tabs do, apart from their layout.

Settings are shared by every session of the app (it is a personal, local
assistant): saving them swaps in a new Assistant for the next question, while
answers already in flight finish with the one they started with.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import gradio as gr
from gradio.components.chatbot import ExampleMessage

from rag.answering.service import Assistant
from rag.errors import UserError
from rag.generators import Generator, make_generator
from rag.generators.context import HasContextBudget
from rag.indexing.catalog import DocumentInfo, list_documents
from rag.indexing.indexer import Progress, remove_document
from rag.indexing.uploads import delete_uploaded_copies, index_uploads
from rag.settings import Settings
from rag.store.index import IndexNotFoundError
from rag.store.manifest import IndexCorruptError
from ui.render import render_context_budget, render_error
from ui.render_documents import (
    document_choice,
    render_documents,
    render_outcome,
    render_removal_question,
    render_upload_results,
)
from ui.render_welcome import example_questions, render_welcome

log = logging.getLogger(__name__)

MAX_TOP_K = 20
DAMAGED = (
    "The index is damaged and no earlier version of it is intact: index your documents again "
    "(upload them below, or run `rag index PATH`)."
)
_STAGES = {"reading": ("Reading files", "files"), "embedding": ("Embedding passages", "passages")}


class AssistantHolder:
    """The one Assistant all sessions use, replaced as a whole when the settings change."""

    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant
        self._lock = threading.Lock()

    @property
    def current(self) -> Assistant:
        with self._lock:
            return self._assistant

    def replace(self, settings: Settings, generator: Generator) -> None:
        with self._lock:
            # The embedding model does not depend on these settings: keep the loaded one.
            self._assistant = Assistant(settings, embedder=self._assistant.embedder, generator=generator)


def _documents(settings: Settings) -> list[DocumentInfo] | None:
    """The indexed documents; None when no version of the index is intact."""
    try:
        return list_documents(settings)
    except IndexNotFoundError:
        return []
    except IndexCorruptError as error:
        log.warning("%s", error)  # which file is damaged, for whoever runs the app
        return None


def documents_view(holder: AssistantHolder) -> tuple[str, Any]:
    """The documents table and the removal dropdown's choices, fresh from the index."""
    documents = _documents(holder.current.settings)
    if documents is None:
        return render_error(DAMAGED), gr.Dropdown(choices=[], value=None)
    choices = [document_choice(d) for d in sorted(documents, key=lambda d: d.title.casefold())]
    return render_documents(documents), gr.Dropdown(choices=choices, value=None)


def welcome(holder: AssistantHolder) -> Any:
    """The empty chat: what is indexed and three questions drawn from it."""
    documents = _documents(holder.current.settings)
    examples: list[ExampleMessage] = [{"text": q} for q in example_questions(documents or [])]
    return gr.Chatbot(placeholder=render_welcome(documents), examples=examples or None)


def documents_table(holder: AssistantHolder, query: str) -> str:
    """The documents table alone, filtered by title or file name."""
    documents = _documents(holder.current.settings)
    return render_error(DAMAGED) if documents is None else render_documents(documents, query or "")


def progress_bar(progress: gr.Progress) -> Progress:
    """The indexer's (stage, done, total) callback, shown as Gradio's progress bar."""

    def update(stage: str, done: int, total: int) -> None:
        description, unit = _STAGES.get(stage, (stage, "steps"))
        progress((done, total), desc=description, unit=unit)

    return update


def upload_documents(holder: AssistantHolder, files: list[str] | None, progress: gr.Progress) -> tuple[Any, ...]:
    """Index the uploaded files; (results, documents table, dropdown, cleared file input)."""
    if not files:
        return (render_outcome(False, "Choose one or more files first."), *documents_view(holder), gr.skip())
    assistant = holder.current
    try:
        results = index_uploads(files, assistant.settings, assistant.embedder, progress_bar(progress))
    except UserError as error:
        return (render_outcome(False, str(error)), *documents_view(holder), gr.skip())
    return (render_upload_results(results), *documents_view(holder), None)


def confirm_removal(holder: AssistantHolder, doc_id: str | None) -> tuple[Any, ...]:
    """(confirmation box shown or not, its question, status): removing asks first."""
    if not doc_id:
        return gr.update(visible=False), "", render_outcome(False, "Choose a document to remove.")
    document = next((d for d in _documents(holder.current.settings) or [] if d.doc_id == doc_id), None)
    if document is None:
        return gr.update(visible=False), "", render_outcome(False, "That document is no longer indexed.")
    return gr.update(visible=True), render_removal_question(document), ""


def remove(holder: AssistantHolder, doc_id: str | None) -> tuple[Any, ...]:
    """Remove a document from the index (and its copy, if it was uploaded here); (status, table, dropdown)."""
    settings = holder.current.settings
    if not doc_id:
        return (render_outcome(False, "Choose a document to remove."), *documents_view(holder))
    title = next((d.title for d in _documents(settings) or [] if d.doc_id == doc_id), "The document")
    try:
        report = remove_document(doc_id, settings)
    except UserError as error:
        return (render_outcome(False, str(error)), *documents_view(holder))
    deleted = delete_uploaded_copies(report.removed, settings)
    note = " Its uploaded copy was deleted." if deleted else ""
    message = f"Removed “{title}” from the index ({report.chunks_total} passages left).{note}"
    return (render_outcome(True, message), *documents_view(holder))


def settings_form(holder: AssistantHolder) -> tuple[Any, ...]:
    """The form's values from the current settings; the API key is never sent back to the browser."""
    settings = holder.current.settings
    key_hint = "set — leave empty to keep it" if settings.llm_api_key else "optional for local servers"
    return (
        settings.generator,
        gr.update(visible=settings.generator == "openai"),
        settings.llm_base_url,
        settings.llm_model,
        gr.Textbox(value="", placeholder=key_hint),
        settings.top_k,
    )


def save_settings(holder: AssistantHolder, backend: str, base_url: str, model: str, api_key: str, top_k: float) -> str:
    """Check the chosen backend and, only if it works, use it from the next question on."""
    passages = max(1, min(MAX_TOP_K, int(top_k or 1)))
    try:
        # Settings.replace ignores None: an empty field keeps the current value.
        settings = holder.current.settings.replace(
            generator=backend,
            llm_base_url=base_url.strip() or None,
            llm_model=model.strip() or None,
            llm_api_key=api_key.strip() or None,
            top_k=passages,
        )
        generator = make_generator(settings)
        status = generator.check()
    except UserError as error:
        return render_outcome(False, f"Not saved: {error}")
    holder.replace(settings, generator)
    return render_outcome(True, f"Saved. {status} {passages} passages per answer.")


def context_window_view(holder: AssistantHolder) -> str:
    """The LLM's context window and the prompt budget it leaves, as the backend learned them from its server."""
    generator = holder.current.generator
    if not isinstance(generator, HasContextBudget):
        return render_context_budget(None)
    return render_context_budget(generator.context_budget())
