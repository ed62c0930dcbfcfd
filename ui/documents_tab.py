"""The Documents tab: the table (filtered by title), uploads with one progress bar, removal after confirming."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui import actions
from ui.actions import AssistantHolder

# Indexing and removal write the index: one at a time, queued rather than refused.
WRITER = "index-writer"
# Each row's Remove button (ui.render_documents) passes its document on as a click of the table;
# listening on the table itself keeps working when its rows are rendered again.
ROW_REMOVE = """
element.addEventListener('click', (event) => {
  const button = event.target.closest && event.target.closest('button.rag-remove-row');
  if (!button) return;
  window.ragRemoveFrom = button.dataset.docId;
  trigger('click', { doc_id: button.dataset.docId });
});
"""
# The keyboard follows the question: to Cancel (the safe answer) once it shows, and back to the
# row's button when it is cancelled. Retried briefly, since the box shows after the update lands.
FOCUS_CANCEL = """
() => {
  const focus = (tries) => {
    const button = document.querySelector('#rag-remove-cancel');
    if (button && button.offsetParent) button.focus();
    else if (tries > 0) setTimeout(() => focus(tries - 1), 50);
  };
  focus(20);
}
"""
# Once removed, the row and the box are gone: the focus goes to the result, which a screen reader
# then reads ("✓ Removed …"), rather than falling back to the top of the page.
FOCUS_STATUS = """
() => {
  window.ragRemoveFrom = null;
  const status = document.querySelector('#rag-remove-status');
  if (status) { status.setAttribute('tabindex', '-1'); status.focus(); }
}
"""
FOCUS_ROW = """
() => {
  const id = window.ragRemoveFrom;
  window.ragRemoveFrom = null;
  const row = id && document.querySelector(`#rag-documents button.rag-remove-row[data-doc-id="${CSS.escape(id)}"]`);
  if (row) row.focus();
}
"""


def documents_tab(holder: AssistantHolder, demo: gr.Blocks) -> list[Any]:
    """Builds the tab; returns the events after which the index has changed."""
    gr.HTML('<div class="rag-section-title">Indexed documents</div>', js_on_load=None)
    search = gr.Textbox(
        label="Filter by title or file name", placeholder="Type to filter…", elem_id="rag-doc-filter", max_lines=1
    )
    table = gr.HTML(label="Documents", js_on_load=ROW_REMOVE, elem_id="rag-documents")
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.HTML('<div class="rag-section-title">Add documents</div>', js_on_load=None)
            files = gr.File(label="Files: .txt .md .html .htm .pdf", file_count="multiple", type="filepath", height=160)
            index_button = gr.Button("Index these files", variant="primary")
            results = gr.HTML(label="Upload results", js_on_load=None, elem_id="rag-upload-results")
        with gr.Column():
            gr.HTML('<div class="rag-section-title">Remove a document</div>', js_on_load=None)
            choice = gr.Dropdown(label="Document", choices=[], value=None)
            remove_button = gr.Button("Remove…", variant="stop")
            # Removing cannot be undone: the button only asks, this box does it.
            with gr.Column(visible=False, elem_id="rag-remove-confirm") as confirm_box:
                confirm_text = gr.HTML(js_on_load=None, elem_id="rag-remove-question")
                with gr.Row():
                    confirm_button = gr.Button("Yes, remove it", variant="stop", elem_id="rag-remove-yes")
                    cancel_button = gr.Button("Cancel", variant="secondary", elem_id="rag-remove-cancel")
            removed = gr.HTML(label="Removal", js_on_load=None, elem_id="rag-remove-status")

    def upload(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        # The removal's earlier message is cleared: only the latest action's result stays on screen.
        return (*actions.upload_documents(holder, paths, progress), "")

    def ask_removal(doc_id: str | None) -> tuple[Any, ...]:
        return actions.confirm_removal(holder, doc_id)

    def ask_row_removal(event: gr.EventData) -> tuple[Any, ...]:
        # Which row: only what the page sends, checked against the index by confirm_removal.
        doc_id = getattr(event, "doc_id", None)
        doc_id = doc_id if isinstance(doc_id, str) and doc_id else None
        asked = actions.confirm_removal(holder, doc_id)
        # The dropdown shows the document asked about; confirming removes what it holds.
        return (*asked, doc_id if asked[1] else None)

    def remove(doc_id: str | None) -> tuple[Any, ...]:
        return (*actions.remove(holder, doc_id), "", gr.update(visible=False))

    def cancel() -> Any:
        return gr.update(visible=False)

    def refresh() -> tuple[str, Any]:
        return actions.documents_view(holder)

    def filtered(query: str) -> str:
        return actions.documents_table(holder, query)

    quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
    search.change(filtered, [search], [table], **quiet)
    indexed = index_button.click(
        upload,
        [files],
        [results, table, choice, files, removed],
        api_name="upload",
        concurrency_id=WRITER,
        concurrency_limit=1,
        show_progress_on=[results],  # one progress bar, not one over each output
    )
    asked = [
        remove_button.click(ask_removal, [choice], [confirm_box, confirm_text, removed], **quiet),
        table.click(ask_row_removal, None, [confirm_box, confirm_text, removed, choice], **quiet),
    ]
    for event in asked:
        event.then(None, js=FOCUS_CANCEL, **quiet)
    removal = confirm_button.click(
        remove,
        [choice],
        [removed, table, choice, results, confirm_box],
        api_name="remove_document",
        concurrency_id=WRITER,
        concurrency_limit=1,
        show_progress_on=[removed],
    )
    cancel_button.click(cancel, None, [confirm_box], **quiet).then(None, js=FOCUS_ROW, **quiet)
    removal.then(None, js=FOCUS_STATUS, **quiet)
    for changed in (indexed, removal):  # the table stays filtered as the user asked
        changed.then(filtered, [search], [table], **quiet)
    demo.load(refresh, None, [table, choice], api_name="documents")
    return [indexed, removal]
