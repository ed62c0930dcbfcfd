"""``rag serve``: the app on the configured host and port, private unless told otherwise."""

from __future__ import annotations

import sys

from rag.errors import UserError
from rag.settings import Settings
from rag.store.backends import store_backend
from ui.app import build_app

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def login(settings: Settings) -> tuple[str, str] | None:
    if settings.auth_username and settings.auth_password:
        return settings.auth_username, settings.auth_password
    return None


def startup_warnings(settings: Settings) -> list[str]:
    """What the user should know before the app starts, one line each."""
    warnings = []
    if bool(settings.auth_username) != bool(settings.auth_password):
        warnings.append(
            "warning: only one of auth_username and auth_password is set, so no login is required; set both."
        )
    if settings.host not in LOCAL_HOSTS and login(settings) is None:
        warnings.append(
            f"warning: serving on {settings.host}:{settings.port} without a login: anyone who can reach it can "
            "read and change your documents. Set auth_username and auth_password (RAG_AUTH_USERNAME, "
            "RAG_AUTH_PASSWORD), or serve on 127.0.0.1."
        )
    if store_backend(settings).published() is None:
        warnings.append(
            f"note: no index in {store_backend(settings).describe()} yet: add documents in the Documents tab, "
            "or run `rag index PATH`."
        )
    return warnings


def serve(settings: Settings) -> None:
    """Start the app and block until interrupted (Ctrl+C)."""
    for line in startup_warnings(settings):
        print(line, file=sys.stderr)
    demo = build_app(settings)
    try:
        # No allowed_paths: the app serves no file of its own, only what Gradio needs.
        # quiet: Gradio's banner suggests share=True, which this app never uses.
        demo.launch(
            server_name=settings.host,
            server_port=settings.port,
            auth=login(settings),
            share=False,
            quiet=True,
            prevent_thread_lock=True,
        )
    except OSError as error:
        raise UserError(
            f"Cannot listen on {settings.host}:{settings.port} ({error.strerror or 'address in use'}): "
            "stop the program using it or choose another port with --port."
        ) from None
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"Research assistant on http://{host}:{settings.port}/ (Ctrl+C to stop)", flush=True)
    demo.block_thread()
