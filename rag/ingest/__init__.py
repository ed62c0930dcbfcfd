"""Ingestion: files in, Documents and Chunks out."""

from __future__ import annotations

from rag.ingest.chunk import chunk_document
from rag.ingest.errors import SkipFile
from rag.ingest.load import SUPPORTED_EXTENSIONS, load_document, too_big_reason

__all__ = ["SUPPORTED_EXTENSIONS", "SkipFile", "chunk_document", "load_document", "too_big_reason"]
