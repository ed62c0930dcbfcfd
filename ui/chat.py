"""One chat turn: stream the answer as it is written, then show it cited, with its sources.

The conversation lives in server-side state (in memory), never read back
from the Chatbot: it only displays HTML that ``ui.render`` produced. A
conversation reopened from the browser's list comes back as plain text
(``ui.history``) and is escaped like any other input.
Regenerate, edit and stop work on the last exchange only, as in other chat apps.
"""

from __future__ import annotations

import logging
import uuid
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
    render_stopped,
    render_streaming,
)
from ui.render_copy import plain_answer, render_copy

log = logging.getLogger(__name__)

NO_INDEX = "No documents are indexed yet: add some in the Documents tab (or run `rag index PATH`)."
UNEXPECTED = "Something went wrong while answering; the details are in the server log."

Message = dict[str, str]


@dataclass
class Exchange:
    """One question and what became of it."""

    question: str  # as typed, for regenerate and edit
    #: The question as searched and what the answer says, once answered (follow-ups read them).
    resolved: str | None = None
    said: str = ""
    #: The text streamed so far, kept if the user stops the answer.
    partial: str = ""
    #: The answer as plain text with its sources (what Copy gives, and what the browser keeps).
    text: str = ""
    #: Set by Stop. The answer's generator runs in a worker thread that cancelling does not halt:
    #: it must neither change the stopped answer nor send the page another update.
    stopped: bool = False


@dataclass
class Conversation:
    #: Names the conversation in the browser's list of kept conversations.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: What the Chatbot shows, as safe HTML: a question and its answer for each exchange.
    messages: list[Message] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    #: Sources panel of each answer, by the answer's message index (clicking an answer shows them again).
    sources: dict[int, str] = field(default_factory=dict)
    #: The next question replaces the last exchange (set by "Edit last question").
    editing: bool = False

    def history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs of the answered exchanges, so that follow-up questions can be understood."""
        return [(e.resolved, e.said) for e in self.exchanges if e.resolved is not None]

    def drop_last(self) -> Exchange | None:
        """Take the last exchange (and its messages and sources) out of the conversation."""
        if not self.exchanges:
            return None
        del self.messages[-2:]
        self.sources.pop(len(self.messages) + 1, None)
        return self.exchanges.pop()


#: (chatbot messages, sources panel, question box, conversation state)
Update = tuple[list[Message], Any, Any, Conversation]


def chat_turn(assistant: Assistant, question: str, conversation: Conversation) -> Iterator[Update]:
    """Answer ``question``, yielding the whole chat each time it changes."""
    question = question.strip()
    if not question:
        yield list(conversation.messages), gr.skip(), gr.skip(), conversation
        return
    if conversation.editing:  # the edited question replaces the one it was taken from
        conversation.editing = False
        conversation.drop_last()
    history = conversation.history()
    exchange = Exchange(question)
    conversation.exchanges.append(exchange)
    turn = len(conversation.exchanges)
    messages = conversation.messages
    messages.append({"role": "user", "content": render_question(question)})
    messages.append({"role": "assistant", "content": render_status("Searching your documents…")})
    # The box is emptied once, at the start; later updates leave alone what the user types next.
    yield list(messages), gr.skip(), "", conversation
    answer: Answer | None = None
    try:
        for event in assistant.stream(question, history):
            if exchange.stopped:
                return
            if isinstance(event, Retrieved):
                searched = f" (searched as “{event.rewritten}”)" if event.rewritten else ""
                messages[-1]["content"] = render_status(f"Reading {len(event.passages)} passages{searched}…")
            elif isinstance(event, Token):
                exchange.partial += event.text
                messages[-1]["content"] = render_streaming(exchange.partial)
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
    if exchange.stopped:
        return
    if answer is None:
        yield list(messages), gr.skip(), gr.skip(), conversation
        return
    messages[-1]["content"] = render_answer(answer, turn) + render_copy(answer)
    panel = render_sources(answer, turn)
    # The resolved question, so that a follow-up to a follow-up still knows the topic.
    exchange.resolved, exchange.said = answer.rewritten_question or question, answer.said
    exchange.text = plain_answer(answer)
    conversation.sources[len(messages) - 1] = panel
    yield list(messages), panel, gr.skip(), conversation


def regenerate(assistant: Assistant, conversation: Conversation) -> Iterator[Update]:
    """Answer the last question again, in place of its answer."""
    conversation.editing = False
    last = conversation.drop_last()
    if last is None:
        yield list(conversation.messages), gr.skip(), gr.skip(), conversation
        return
    yield from chat_turn(assistant, last.question, conversation)


def edit_last(conversation: Conversation) -> tuple[Any, Conversation]:
    """Put the last question back in the box; sending it replaces the last exchange."""
    if not conversation.exchanges:
        return gr.skip(), conversation
    conversation.editing = True
    return conversation.exchanges[-1].question, conversation


def stopped(conversation: Conversation) -> tuple[list[Message], Conversation]:
    """After Stop: the unfinished answer keeps what was written, marked as stopped and unchecked."""
    last = conversation.exchanges[-1] if conversation.exchanges else None
    unfinished = conversation.messages and any(
        mark in conversation.messages[-1]["content"] for mark in ("rag-status", "rag-streaming")
    )
    if last is not None and last.resolved is None and unfinished:
        last.stopped = True
        conversation.messages[-1]["content"] = render_stopped(last.partial)
        last.text = f"{last.partial.strip()}\n\n(stopped)"
    return list(conversation.messages), conversation


def sources_of(conversation: Conversation, selected: gr.SelectData) -> Any:
    """The sources panel of the answer the user clicked (unchanged for a question)."""
    index = selected.index if isinstance(selected.index, int) else None
    if index is None or index not in conversation.sources:
        return gr.skip()
    return conversation.sources[index]


def new_conversation() -> tuple[list[Message], str, Conversation]:
    return [], empty_sources(), Conversation()
