"""What is in the index, for ``rag sources``, the Documents tab and the MCP server."""

from __future__ import annotations

from rag.settings import Settings
from rag.store.backends import store_backend
from rag.store.docstore import DocumentInfo

__all__ = ["DocumentInfo", "list_documents"]


def list_documents(settings: Settings) -> list[DocumentInfo]:
    return store_backend(settings).list_documents()
