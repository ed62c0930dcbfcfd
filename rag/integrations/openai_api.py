"""``rag api``: the cited-answer engine behind an OpenAI-compatible HTTP API.

``GET /v1/models`` lists ``rag`` (the assistant as configured: offline, or the
LLM in the settings) and ``rag-offline`` (always the offline extractive
answer). ``POST /v1/chat/completions`` takes the conversation from
``messages`` and answers its last question with ``Assistant.stream``, the
service the chat and ``rag ask`` call, streamed as server-sent events or not;
the wire format is in ``rag.integrations.openai_format``, the checks of a
request in ``rag.integrations.openai_request``.

A separate command rather than routes on the Gradio app: its own small
Starlette app owns every status code and error body (Gradio's routes and
middleware would answer some malformed requests in their own shape), it
runs without loading the UI, and it can listen on another address than the
chat.

With ``auth_password`` set, every route wants it as the API key
(``Authorization: Bearer ...``). Requests are admitted as in the chat (two
run, ``max_queue`` wait, the next gets HTTP 429), and whatever a client
sends, the answer is an HTTP status with an OpenAI error body, never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rag.answering.service import Assistant, Done
from rag.errors import UserError
from rag.integrations.admission import Admission
from rag.integrations.openai_format import (
    DONE,
    chunk,
    completion_body,
    error_body,
    event,
    final_chunks,
    model_body,
    models_body,
)
from rag.integrations.openai_request import MAX_BODY_BYTES, ChatRequest, RequestError, invalid, parse_body, read_chat
from rag.settings import Settings

log = logging.getLogger(__name__)

#: Beside the chat's 7860; clear of the LLM servers' usual ports (vLLM 8000, llama.cpp 8080, Ollama 11434).
DEFAULT_PORT = 7861
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

#: The models a client may name, and what each answers with.
MODELS = {
    "rag": "the assistant as configured (the generator setting: offline, or an LLM)",
    "rag-offline": "the offline extractive answer, whatever the settings",
}


class _Assistants:
    """The assistant behind each model; ``rag-offline`` shares the embedder, and is built only if asked for."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.main = assistant or Assistant(settings)
        self._offline: Assistant | None = None
        self._lock = threading.Lock()

    def for_model(self, model: str) -> Assistant:
        if model == "rag" or self.main.settings.generator == "extractive":
            return self.main
        with self._lock:
            if self._offline is None:
                offline = self.main.settings.replace(generator="extractive")
                self._offline = Assistant(offline, embedder=self.main.embedder)
            return self._offline


def build_app(settings: Settings, assistant: Assistant | None = None) -> Starlette:
    """The API over ``assistant`` (by default one built from ``settings``)."""
    assistants = _Assistants(settings, assistant)
    admission = Admission(settings.max_queue)
    created = int(time.time())
    key = settings.auth_password

    def refused(request: Request) -> Response | None:
        """401 unless the request carries the key, when one is set."""
        if not key:
            return None
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode()):
            return None
        said = "Incorrect API key provided." if given else "An API key is required: send Authorization: Bearer KEY."
        return _error(401, f"{said} It is the auth_password setting of this server.", code="invalid_api_key")

    async def list_models(request: Request) -> Response:
        return refused(request) or JSONResponse(models_body(MODELS, created))

    async def get_model(request: Request) -> Response:
        name = request.path_params["model"]
        if name not in MODELS:
            return refused(request) or _error(404, f"The model {name!r} does not exist.", "model", "model_not_found")
        return refused(request) or JSONResponse(model_body(name, created))

    async def chat_completions(request: Request) -> Response:
        denied = refused(request)
        if denied:
            return denied
        try:
            chat = read_chat(parse_body(await _body(request)), tuple(MODELS))
        except RequestError as error:
            return _error(error.status, error.message, error.param, error.code)
        except ClientDisconnect:
            return Response(status_code=400)
        if not admission.enter():
            return _error(
                429,
                f"The assistant is busy: {admission.capacity} requests are being answered or waiting "
                "(max_queue). Try again in a moment.",
                code="rate_limit_exceeded",
                headers={"Retry-After": "1"},
            )
        assistant = assistants.for_model(chat.model)
        if chat.stream:
            return await _streamed(admission, assistant, chat)
        try:
            answer = await admission.run(assistant.ask, chat.question, chat.history)
        except Exception as error:
            return _failure(error, chat)
        return JSONResponse(completion_body(_completion_id(), int(time.time()), chat.model, answer))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}.", code="method_not_allowed")
        return _error(404, f"No route {request.url.path}: the API serves /v1/models and /v1/chat/completions.")

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "The server failed on this request; the details are in its log.", code="server_error")

    app = Starlette(
        routes=[
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", get_model, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ],
        exception_handlers={404: not_found, 405: not_found, Exception: crashed},
    )
    app.state.admission = admission
    return app


async def _body(request: Request) -> bytes:
    """The request body, refused as soon as it is known to be over ``MAX_BODY_BYTES``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise invalid(f"The request body is larger than {MAX_BODY_BYTES} bytes.", code="request_too_large")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY_BYTES:
            raise invalid(f"The request body is larger than {MAX_BODY_BYTES} bytes.", code="request_too_large")
    return bytes(body)


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


_END = object()


async def _streamed(admission: Admission, assistant: Assistant, chat: ChatRequest) -> Response:
    """Stream the answer; a failure before anything is sent (no index) is still a plain HTTP error."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is closed: the server is stopping
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        events = assistant.stream(chat.question, chat.history)
        try:
            for item in events:
                put(item)
                if stop.is_set():  # the client left: stop the generation (and the LLM's stream) here
                    break
        except Exception as error:
            put(_Failed(error))
        finally:
            close = getattr(events, "close", None)  # a generator: closing it ends the LLM's stream too
            if close is not None:
                close()
            put(_END)

    admission.run(work)
    first = await queue.get()
    if isinstance(first, _Failed):
        return _failure(first.error, chat)
    if first is _END:  # the service always yields before it ends; if not, say so rather than hang
        return _failure(RuntimeError("the answer stream ended without an event"), chat)
    completion_id, created = _completion_id(), int(time.time())

    async def body() -> AsyncIterator[bytes]:
        try:
            yield event(chunk(completion_id, created, chat.model, {"role": "assistant", "content": ""}))
            for data in _rendered(first, completion_id, created, chat):
                yield data
            while (item := await queue.get()) is not _END:
                for data in _rendered(item, completion_id, created, chat):
                    yield data
        finally:
            stop.set()

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _rendered(item: object, completion_id: str, created: int, chat: ChatRequest) -> list[bytes]:
    """The events one item of ``Assistant.stream`` (or its failure) becomes."""
    if isinstance(item, Done):
        return [*(event(c) for c in final_chunks(completion_id, created, chat.model, item.answer)), DONE]
    if isinstance(item, _Failed):
        response = _failure(item.error, chat)
        return [b"data: " + bytes(response.body) + b"\n\n"]
    # Retrieved, and an LLM's tokens: nothing to send yet (see rag.integrations.openai_format).
    return []


def _failure(error: Exception, chat: ChatRequest) -> JSONResponse:
    """A user error (no index, an index built with another model) is the server's state: 503, one line."""
    if isinstance(error, UserError):
        return _error(503, str(error), code="assistant_unavailable")
    log.error("answering %r failed", chat.question[:200], exc_info=error)
    return _error(500, "Answering failed on the server; the details are in its log.", code="server_error")


def _error(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, param, code), status_code=status, headers=headers)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Listen on ``host``:``port`` (port 0: any free one, printed) until interrupted (Ctrl+C)."""
    import uvicorn  # here: the rest of the package never needs a server

    host = host or settings.host
    port = DEFAULT_PORT if port is None else port
    app = build_app(settings)  # a wrong backend name stops here, in one line
    listener = _listen(host, port)
    if host not in LOCAL_HOSTS and not settings.auth_password:
        print(
            f"warning: serving the API on {host} without a key: anyone who can reach it can read your documents "
            "through it. Set auth_password (RAG_AUTH_PASSWORD), or serve on 127.0.0.1.",
            file=sys.stderr,
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    bound = listener.getsockname()[1]
    print(f"OpenAI-compatible API on http://{shown}:{bound}/v1 (Ctrl+C to stop)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        app.state.admission.close()
        listener.close()


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now, so that a port in use is a one-line error rather than uvicorn's exit."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {port}.")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as error:
        raise UserError(
            f"Cannot listen on {host}:{port} ({error.strerror or error}): "
            "stop the program using it or choose another port with --port."
        ) from None
