"""Connecting to Milvus (Lite, a server or a cluster): one client per URI and process, errors in one line.

Every call to the engine goes through ``call``, which turns what the engine or the
network raises into a ``MilvusUnavailableError`` that says what to do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from rag.errors import UserError


class _WithoutLiteTimestampNoise(logging.Filter):
    """Milvus Lite cannot allocate server timestamps: every iterated query logs it, with a traceback, and goes on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "mvccTs" not in message and "Method not implemented" not in message


for _logger in ("pymilvus.client.iterator.query_iterator", "grpc._server"):
    logging.getLogger(_logger).addFilter(_WithoutLiteTimestampNoise())
# pymilvus logs every failed call, and a lost connection, with a traceback; ``call`` reports it in one line instead.
for _logger in ("pymilvus.decorators", "pymilvus.client.connection_manager"):
    logging.getLogger(_logger).setLevel(logging.CRITICAL)


class _LiteStartFailure(logging.Filter):
    """Milvus Lite logs why it cannot open its file, with a traceback, and pymilvus then says only
    "Open local milvus failed": keep the reason for ``connect``'s one line instead of the log."""

    reason = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            self.reason = " ".join(str(record.exc_info[1]).split())
            return False
        return True


_lite_start = _LiteStartFailure()
logging.getLogger("milvus_lite.server_manager").addFilter(_lite_start)


class MilvusUnavailableError(UserError):
    """Milvus cannot be reached, refused the token, or failed a request."""


T = TypeVar("T")


def call(what: str, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``action(*args, **kwargs)``, with any Milvus failure turned into a one-line error that says what to check."""
    try:
        return action(*args, **kwargs)
    except MilvusException as error:
        reason = " ".join(str(getattr(error, "message", "") or error).split())
        raise MilvusUnavailableError(
            f"Milvus failed to {what} ({reason}): check milvus_uri and milvus_token."
        ) from None


_clients: dict[tuple[str, str], MilvusClient] = {}
_clients_lock = threading.Lock()


def connect(uri: str, token: str) -> MilvusClient:
    """One client per URI and token in this process: Milvus Lite serves a file to one process only."""
    with _clients_lock:
        client = _clients.get((uri, token))
        if client is None:
            try:
                client = MilvusClient(uri=uri, token=token, timeout=30)
            except MilvusException as error:
                reason = _lite_start.reason or " ".join(str(getattr(error, "message", "") or error).split())
                _lite_start.reason = ""
                if "holds the lock" in reason:
                    raise MilvusUnavailableError(
                        f"Cannot open {uri}: another process (rag serve? rag index?) has it open, and Milvus Lite "
                        "serves a file to one process at a time. Stop it, or use a Milvus server (milvus_uri)."
                    ) from None
                hint = (
                    "check milvus_uri"
                    if uri.endswith(".db")
                    else "check milvus_uri and milvus_token, and that the server is running"
                )
                raise MilvusUnavailableError(f"Cannot open Milvus at {uri} ({reason}): {hint}.") from None
            _clients[(uri, token)] = client
        return client


def disconnect(uri: str, token: str) -> None:
    """Close this process's client of ``uri``; for Milvus Lite, stop serving its file so another process may open it."""
    with _clients_lock:
        client = _clients.pop((uri, token), None)
    if client is not None:
        client.close()
    if uri.endswith(".db"):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)
