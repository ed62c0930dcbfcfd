"""The side panel of conversations kept in this browser: listed, reopened, deleted.

Layout and wiring only; what is kept and how it is read back is ``ui.history``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ui import history
from ui.chat import Conversation, Message, new_conversation

STORAGE_KEY = "rag-conversations"
NOTE = (
    '<p class="rag-note">Kept in this browser only (its local storage); the server keeps no conversation. '
    "Reopened answers are shown as text.</p>"
)


@dataclass
class HistoryPanel:
    saved: gr.BrowserState
    listed: gr.Radio
    delete: gr.Button


def history_panel() -> HistoryPanel:
    """The panel's components, placed where it is called (inside the Blocks)."""
    saved = gr.BrowserState([], storage_key=STORAGE_KEY)
    with gr.Sidebar(label="Conversations", open=False, elem_id="rag-sidebar"):
        listed = gr.Radio(choices=[], value=None, label="Conversations", elem_id="rag-history")
        delete = gr.Button("Delete this conversation", variant="stop", size="sm", elem_id="rag-delete-chat")
        gr.HTML(NOTE, js_on_load=None)
    return HistoryPanel(saved, listed, delete)


def connect(
    panel: HistoryPanel,
    demo: gr.Blocks,
    chatbot: gr.Chatbot,
    sources: gr.HTML,
    conversation: gr.State,
    changed: Iterable[Any],
    new_chat: Iterable[Any],
) -> None:
    """Keep the conversation after each event of ``changed``; list, reopen and delete kept ones."""
    quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}

    def keep(current: Conversation, saved: Any) -> tuple[Any, Any]:
        kept = history.remember(current, saved)
        selected = current.id if current.exchanges else None
        return kept, gr.Radio(choices=history.choices(kept), value=selected)

    def listing(saved: Any) -> Any:
        return gr.Radio(choices=history.choices(saved), value=None)

    def reopen(chosen: str | None, saved: Any) -> tuple[Any, ...]:
        found = history.restore(chosen, saved)
        if found is None:
            return gr.skip(), gr.skip(), gr.skip()
        restored, panel_html = found
        return list(restored.messages), panel_html, restored

    def delete(chosen: str | None, saved: Any, current: Conversation) -> tuple[Any, ...]:
        kept = history.forget(chosen, saved)
        listed = gr.Radio(choices=history.choices(kept), value=None)
        if chosen != current.id:
            return kept, listed, gr.skip(), gr.skip(), gr.skip()
        messages: list[Message]
        messages, empty, fresh = new_conversation()
        return kept, listed, messages, empty, fresh

    for event in changed:
        event.then(keep, [conversation, panel.saved], [panel.saved, panel.listed], **quiet)
    for event in new_chat:
        event.then(listing, [panel.saved], [panel.listed], **quiet)
    demo.load(listing, [panel.saved], [panel.listed], **quiet)
    panel.listed.input(reopen, [panel.listed, panel.saved], [chatbot, sources, conversation], **quiet)
    panel.delete.click(
        delete,
        [panel.listed, panel.saved, conversation],
        [panel.saved, panel.listed, chatbot, sources, conversation],
        **quiet,
    )
