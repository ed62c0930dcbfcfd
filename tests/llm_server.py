"""A small scripted OpenAI-compatible server for tests, on 127.0.0.1 and a free port.

It speaks just enough of the API for ChatOpenAI and httpx: ``GET /v1/models``
and ``POST /v1/chat/completions``, non-streaming (one JSON body) or streaming
(real server-sent events, one ``data:`` line per token, flushed one by one).

    with FakeLLMServer(script="Paris is the capital [1].") as server:
        generator = OpenAICompatibleGenerator(server.url, "test-model")
        ...
        assert server.requests[0]["stream"] is True

``script`` decides the reply: a string (always that), a list of strings (one
per request, the last one repeating), or a callable taking the request's
messages (list of {"role", "content"} dicts) and returning the reply.
Attributes can be changed while the server runs; each request reads them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Messages = list[dict[str, Any]]
Script = str | list[str] | Callable[[Messages], str]


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
    ) -> None:
        self.script = script
        # A model outside this list gets Ollama's 404; empty accepts any name.
        self.models = models
        self.fail_status = fail_status
        self.fail_message = fail_message
        self.delay_seconds = delay_seconds
        self.chunk_delay_seconds = chunk_delay_seconds
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

    def reply_for(self, messages: Messages) -> str:
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
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "tests"} for m in self.fake.models]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        self.fake.paths.append(f"POST {self.path}")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.fake.requests.append(body)
        if self._failed():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        model = str(body.get("model", ""))
        if self.fake.models and model not in self.fake.models:
            message = f'model "{model}" not found, try pulling it first'
            self._send_json(404, {"error": {"message": message, "type": "api_error"}})
            return
        pieces = tokens(self.fake.reply_for(body.get("messages", [])))
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit:
            pieces = pieces[:limit]
        if body.get("stream"):
            self._stream(model, pieces, bool((body.get("stream_options") or {}).get("include_usage")))
        else:
            self._send_json(200, _completion(model, "".join(pieces), len(pieces)))

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

    def _stream(self, model: str, pieces: list[str], include_usage: bool) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for index, piece in enumerate(pieces):
                delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
                self._event(_chunk(model, delta, None))
                if self.fake.chunk_delay_seconds:
                    time.sleep(self.fake.chunk_delay_seconds)
            self._event(_chunk(model, {}, "stop"))
            if include_usage:
                usage_chunk = _chunk(model, {}, None) | {"choices": [], "usage": _usage(len(pieces))}
                self._event(usage_chunk)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}


def _completion(model: str, content: str, n_tokens: int) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
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
