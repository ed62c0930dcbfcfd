"""Conversations kept in the user's own browser (gr.BrowserState), never on the server's disk.

The browser holds the key Gradio encrypts them with, so what comes back from it
is treated as untrusted input: only plain text is stored (questions, and each
answer as the text Copy gives), checked for shape and length, and shown again
escaped. A restored answer has no live citations; asking again brings them back.
"""

from __future__ import annotations

import uuid
from typing import Any

from ui.chat import Conversation, Exchange
from ui.render import empty_sources, render_question
from ui.render_copy import render_restored

#: Conversations kept per browser (the oldest are dropped), and characters kept of each text.
MAX_CONVERSATIONS = 30
MAX_EXCHANGES = 50
MAX_CHARS = 20_000
TITLE_CHARS = 60

Saved = list[dict[str, Any]]


def new_id() -> str:
    return uuid.uuid4().hex


def _text(value: Any) -> str:
    return value[:MAX_CHARS] if isinstance(value, str) else ""


def _title(conversation: Conversation) -> str:
    first = " ".join(conversation.exchanges[0].question.split()) if conversation.exchanges else "New chat"
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"


def saved_list(value: Any) -> Saved:
    """What the browser sent, reduced to well-formed entries."""
    if not isinstance(value, list):
        return []
    entries = []
    for entry in value[:MAX_CONVERSATIONS]:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("exchanges"), list):
            entries.append(entry)
    return entries


def remember(conversation: Conversation, saved: Any) -> Saved:
    """``saved`` with ``conversation`` in first place (it is the latest one used); empty ones are not kept."""
    others = [e for e in saved_list(saved) if e["id"] != conversation.id]
    if not conversation.exchanges:
        return others
    exchanges = [
        {"question": e.question, "resolved": e.resolved, "said": e.said, "text": e.text}
        for e in conversation.exchanges[-MAX_EXCHANGES:]
    ]
    entry = {"id": conversation.id, "title": _title(conversation), "exchanges": exchanges}
    return [entry, *others][:MAX_CONVERSATIONS]


def forget(conversation_id: str | None, saved: Any) -> Saved:
    return [e for e in saved_list(saved) if e["id"] != conversation_id]


def choices(saved: Any) -> list[tuple[str, str]]:
    """(title, id) of each kept conversation, latest first, for the side panel."""
    return [(_text(e.get("title")) or "Untitled", e["id"]) for e in saved_list(saved)]


def restore(conversation_id: str | None, saved: Any) -> tuple[Conversation, str] | None:
    """The kept conversation ``conversation_id``, rebuilt from its text (and the sources panel to show)."""
    entry = next((e for e in saved_list(saved) if e["id"] == conversation_id), None)
    if entry is None:
        return None
    conversation = Conversation(id=entry["id"])
    for item in entry["exchanges"][:MAX_EXCHANGES]:
        if not isinstance(item, dict) or not _text(item.get("question")):
            continue
        resolved = _text(item.get("resolved")) or None
        exchange = Exchange(_text(item["question"]), resolved, _text(item.get("said")), text=_text(item.get("text")))
        conversation.exchanges.append(exchange)
        conversation.messages.append({"role": "user", "content": render_question(exchange.question)})
        conversation.messages.append({"role": "assistant", "content": render_restored(exchange.text)})
    return conversation, empty_sources()
