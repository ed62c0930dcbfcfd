"""One backend per format, chosen by file extension."""

from __future__ import annotations

from rag.ingest.loaders.base import LoadedText, Loader
from rag.ingest.loaders.html import load_html
from rag.ingest.loaders.markdown import load_markdown
from rag.ingest.loaders.pdf import load_pdf
from rag.ingest.loaders.text import load_text

LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
}

__all__ = ["LOADERS", "LoadedText", "Loader"]
