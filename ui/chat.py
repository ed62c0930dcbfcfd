"""One chat turn: stream the answer as it is written, then show it cited, with its sources.

The conversation lives in server-side state, never read back from the
browser: the Chatbot only displays HTML that ``ui.render`` produced.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from rag.answering.service import Assistant, Done, Retrieved, Token
from rag.errors import UserError
from rag.store.index import IndexNotFoundError
from rag.types import Answer
from ui.render import (
    empty_sources,
    render_answer,
    render_error,
    render_question,
    render_sources,
    render_status,
    render_streaming,
)

log = logging.getLogger(__name__)

NO_INDEX = "No documents are indexed yet: add some in the Documents tab (or run `rag index PATH`)."
UNEXPECTED = "Something went wrong while answering; the details are in the server log."

Message = dict[str, str]


@dataclass
class Conversation:
    #: What the Chatbot shows, as safe HTML.
    messages: list[Message] = field(default_factory=list)
    #: (question, answer text) pairs, so that follow-up questions can be understood.
    turns: list[tuple[str, str]] = field(default_factory=list)
    #: Sources panel of each answer, by the answer's message index (clicking an answer shows them again).
    sources: dict[int, str] = field(default_factory=dict)


#: (chatbot messages, sources panel, question box, conversation state)
Update = tuple[list[Message], Any, Any, Conversation]


def chat_turn(assistant: Assistant, question: str, conversation: Conversation) -> Iterator[Update]:
    """Answer ``question``, yielding the whole chat each time it changes."""
    question = question.strip()
    if not question:
        yield list(conversation.messages), gr.skip(), gr.skip(), conversation
        return
    turn = len(conversation.turns) + 1
    messages = conversation.messages
    messages.append({"role": "user", "content": render_question(question)})
    messages.append({"role": "assistant", "content": render_status("Searching your documents…")})
    # The box is emptied once, at the start; later updates leave alone what the user types next.
    yield list(messages), gr.skip(), "", conversation
    answer: Answer | None = None
    try:
        pieces: list[str] = []
        for event in assistant.stream(question, list(conversation.turns)):
            if isinstance(event, Retrieved):
                searched = f" (searched as “{event.rewritten}”)" if event.rewritten else ""
                messages[-1]["content"] = render_status(f"Reading {len(event.passages)} passages{searched}…")
            elif isinstance(event, Token):
                pieces.append(event.text)
                messages[-1]["content"] = render_streaming("".join(pieces))
            elif isinstance(event, Done):
                answer = event.answer
                continue
            yield list(messages), gr.skip(), gr.skip(), conversation
    except IndexNotFoundError:
        messages[-1]["content"] = render_error(NO_INDEX)
    except UserError as error:
        messages[-1]["content"] = render_error(str(error))
    except Exception:
        log.exception("answering %r failed", question)
        messages[-1]["content"] = render_error(UNEXPECTED)
    if answer is None:
        yield list(messages), gr.skip(), gr.skip(), conversation
        return
    messages[-1]["content"] = render_answer(answer, turn)
    panel = render_sources(answer, turn)
    # The resolved question, so that a follow-up to a follow-up still knows the topic.
    conversation.turns.append((answer.rewritten_question or question, answer.said))
    conversation.sources[len(messages) - 1] = panel
    yield list(messages), panel, gr.skip(), conversation


def sources_of(conversation: Conversation, selected: gr.SelectData) -> Any:
    """The sources panel of the answer the user clicked (unchanged for a question)."""
    index = selected.index if isinstance(selected.index, int) else None
    if index is None or index not in conversation.sources:
        return gr.skip()
    return conversation.sources[index]


def new_conversation() -> tuple[list[Message], str, Conversation]:
    return [], empty_sources(), Conversation()
