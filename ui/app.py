"""The Gradio app: layout and wiring of the Chat, Documents and Settings tabs.

What the tabs do lives in ``ui.chat`` and ``ui.actions``, what they show in
``ui.render``; this module only places components and connects events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag.answering.service import Assistant
from rag.generators import GENERATORS
from rag.settings import Settings
from ui import actions, script, style
from ui.actions import MAX_TOP_K, AssistantHolder
from ui.chat import (
    Conversation,
    Update,
    chat_turn,
    edit_last,
    new_conversation,
    regenerate,
    sources_of,
    stopped,
)
from ui.documents_tab import documents_tab
from ui.history_panel import connect as connect_history
from ui.history_panel import history_panel
from ui.render import empty_sources

TITLE = "Research assistant"
HEADER = f"<h1>{TITLE}</h1><p>Answers from your own documents, each sentence cited. Offline by default.</p>"
#: How each answer backend of the registry is shown; one the table does not know shows its name.
BACKEND_LABELS = {
    "extractive": "Offline — extractive answers, no LLM",
    "openai": "OpenAI-compatible server (Ollama, llama.cpp, vLLM, LM Studio, OpenAI)",
    "fake": "Scripted (tests and demos): echoes the best-matching sentence",
}
BACKENDS = [(BACKEND_LABELS.get(name, name), name) for name in GENERATORS]
SETTINGS_NOTE = (
    '<div class="rag-section-title">Answers</div><p class="rag-note">The offline backend quotes the best '
    "sentences of your documents. A local LLM server writes fuller answers; every sentence is still checked "
    "against the passages it cites. Settings apply to everyone using this app, from the next question on.</p>"
)
# A long passage scrolls inside its card: bring its first highlighted span into view, from the
# start of its paragraph when that fits (cutting a line in half reads badly).
SCROLL_TO_MARK = """
watch('value', () => {
  for (const passage of element.querySelectorAll('.rag-passage')) {
    const mark = passage.querySelector('mark');
    if (!mark) continue;
    const paragraph = mark.closest('p') || mark;
    const fits = mark.offsetTop + mark.offsetHeight - paragraph.offsetTop <= passage.clientHeight;
    passage.scrollTop = fits ? paragraph.offsetTop : mark.offsetTop - 24;
  }
});
"""


class AssistantApp(gr.Blocks):
    """Blocks whose ``launch`` always applies the app's look and its privacy defaults.

    Gradio 6 takes theme and CSS in ``launch()``, not in the constructor, so
    they are defaults here; whoever launches (``rag serve``, a test) gets them.
    """

    def __init__(self, settings: Settings) -> None:
        # No telemetry; uploaded copies in Gradio's cache are deleted after an hour.
        super().__init__(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600))
        self.max_file_bytes = settings.max_file_bytes

    def launch(self, *args: Any, **kwargs: Any) -> Any:
        defaults: dict[str, Any] = {
            "theme": style.theme(),
            "css": style.CSS,
            "js": script.JS,
            "share": False,  # explicit: GRADIO_SHARE=true in the environment must not open a tunnel
            "max_file_size": self.max_file_bytes,  # refused by the upload route before it is stored
            "footer_links": ["api"],
            "run_history": False,  # Gradio's own log of runs; ui.history keeps conversations, as text only
            "enable_monitoring": False,
            "mcp_server": False,
            "show_error": False,
        }
        return super().launch(*args, **{**defaults, **kwargs})


def build_app(settings: Settings, assistant: Assistant | None = None) -> gr.Blocks:
    holder = AssistantHolder(assistant or Assistant(settings))
    with AssistantApp(settings) as demo:
        gr.HTML(HEADER, elem_id="rag-header", js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chatbot = _chat_tab(holder, demo)
            with gr.Tab("Documents", id="documents"):
                changed = documents_tab(holder, demo)
            with gr.Tab("Settings", id="settings"):
                _settings_tab(holder, demo)
        # The empty chat names what is indexed: it follows uploads and removals.
        for event in changed:
            event.then(
                lambda: actions.welcome(holder), None, [chatbot], api_visibility="private", show_progress="hidden"
            )
    demo.queue(default_concurrency_limit=2, max_size=settings.max_queue)
    return demo


def _chat_tab(holder: AssistantHolder, demo: gr.Blocks) -> gr.Chatbot:
    # Made at each page load (a copied default would give every page the same id, and a reloaded
    # page's first chat would overwrite the one kept under it).
    conversation = gr.State(lambda: Conversation())
    panel = history_panel()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            chatbot = gr.Chatbot(
                label="Conversation",
                show_label=False,
                elem_id="rag-chat",
                height=640,  # on a phone, the CSS makes it follow the viewport
                # The messages are HTML built by ui.render: no markdown (it would turn ![](url) into
                # an image) and no LaTeX; Gradio's sanitiser stays on as a second line of defence.
                render_markdown=False,
                latex_delimiters=[],
                sanitize_html=True,
                # Copy would copy the HTML source of the message, not its text.
                buttons=[],
                feedback_options=None,
                layout="panel",
                placeholder="<b>Ask a question about your documents.</b>",  # then what is indexed (welcome)
            )
            question = gr.Textbox(
                label="Question",  # its accessible name; not shown
                show_label=False,
                placeholder="Ask a question about your documents…",
                elem_id="rag-question",
                submit_btn="Ask",
                lines=1,
                max_lines=4,
                # Focused by script.JS on wide screens only: autofocus scrolls a phone's header away.
                autofocus=False,
            )
            with gr.Row(elem_id="rag-chat-controls"):
                new_button = gr.Button("New chat", size="sm", variant="secondary", elem_id="rag-new-chat")
                regenerate_button = gr.Button("Regenerate", size="sm", variant="secondary", elem_id="rag-regenerate")
                edit_button = gr.Button("Edit last question", size="sm", variant="secondary", elem_id="rag-edit")
        with gr.Column(scale=2, min_width=320):
            sources = gr.HTML(
                empty_sources(), label="Sources", elem_id="rag-sources", js_on_load=SCROLL_TO_MARK, max_height=760
            )

    def ask(text: str, state: Conversation) -> Iterator[Update]:
        # The assistant is looked up per question, so saved settings apply from the next one.
        yield from chat_turn(holder.current, text, state)

    def again(state: Conversation) -> Iterator[Update]:
        yield from regenerate(holder.current, state)

    outputs = [chatbot, sources, question, conversation]
    # Quick changes of the page itself, outside the queue. While an answer is written, Ask becomes Stop.
    instant: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}

    def example(selected: gr.SelectData) -> Any:
        return selected.value["text"] if isinstance(selected.value, dict) else gr.skip()

    asked = question.submit(_stop_button, None, [question], **instant).then(
        ask, [question, conversation], outputs, api_name="ask", **ANSWERING
    )
    redone = regenerate_button.click(_stop_button, None, [question], **instant).then(
        again, [conversation], outputs, api_name="regenerate", **ANSWERING
    )
    # An example question of the empty state is asked as if typed.
    picked = (
        chatbot.example_select(example, None, [question], **instant)
        .then(_stop_button, None, [question], **instant)
        .then(ask, [question, conversation], outputs, api_visibility="private", **ANSWERING)
    )
    finished = [event.then(_ask_button, None, [question], **instant) for event in (asked, redone, picked)]
    halted = question.stop(None, None, None, cancels=[asked, redone, picked], **instant).then(
        stopped, [conversation], [chatbot, conversation], **instant
    )
    edit_button.click(edit_last, [conversation], [question, conversation], **instant)
    chatbot.select(sources_of, [conversation], [sources], api_visibility="private", show_progress="hidden")
    # New chat and the Chatbot's own bin both start a new conversation: the server-side state follows.
    fresh = [
        new_button.click(new_conversation, None, [chatbot, sources, conversation], api_visibility="private"),
        chatbot.clear(new_conversation, None, [chatbot, sources, conversation], api_visibility="private"),
    ]
    # Each conversation is kept in the browser once an answer ends (or is stopped).
    connect_history(panel, demo, chatbot, sources, conversation, [*finished, halted], fresh)

    def welcome() -> Any:
        return actions.welcome(holder)

    demo.load(welcome, None, [chatbot], api_visibility="private", show_progress="hidden")
    return chatbot


#: How the answering events run: one queue for answers, no progress overlay (the chat shows its own).
ANSWERING: dict[str, Any] = {"concurrency_id": "answer", "show_progress": "hidden"}


def _stop_button() -> Any:
    return gr.Textbox(submit_btn=False, stop_btn="Stop")


def _ask_button() -> Any:
    return gr.Textbox(submit_btn="Ask", stop_btn=False)


def _settings_tab(holder: AssistantHolder, demo: gr.Blocks) -> None:
    gr.HTML(SETTINGS_NOTE, js_on_load=None)
    backend = gr.Radio(BACKENDS, label="Answer backend")
    with gr.Column(visible=False) as llm_fields:
        base_url = gr.Textbox(label="Server URL (the API root, ending in /v1)")
        model = gr.Textbox(label="Model")
        api_key = gr.Textbox(label="API key", type="password")
    top_k = gr.Slider(1, MAX_TOP_K, step=1, label="Passages given to the answer (top k)")
    save = gr.Button("Save and check", variant="primary")
    status = gr.HTML(label="Status", js_on_load=None, elem_id="rag-settings-status")
    window = gr.HTML(label="Context window", js_on_load=None, elem_id="rag-context-window")

    def show_llm_fields(choice: str) -> Any:
        return gr.update(visible=choice == "openai")

    def form() -> tuple[Any, ...]:
        return actions.settings_form(holder)

    def apply(choice: str, url: str, name: str, key: str, passages: float) -> str:
        return actions.save_settings(holder, choice, url, name, key, passages)

    def context_window() -> str:
        return actions.context_window_view(holder)

    backend.change(show_llm_fields, [backend], [llm_fields], api_visibility="private", show_progress="hidden")
    saved = save.click(apply, [backend, base_url, model, api_key, top_k], [status], api_name="save_settings")
    # The window is the saved backend's, asked of its server once (then remembered).
    saved.then(context_window, None, [window], api_name="context_window")
    demo.load(form, None, [backend, llm_fields, base_url, model, api_key, top_k], api_visibility="private")
    demo.load(context_window, None, [window], api_visibility="private")
