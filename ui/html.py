"""The HTML pieces every part of the UI builds with: escaping, paragraphs, flags, where a passage is from.

Everything that comes from a document or a model goes through ``escape`` or
``safe_model_text`` here, once, at the last moment.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from rag.text.remote_content import strip_remote_content
from rag.types import Hit, Verification

FLAG_LABELS: dict[Verification, str] = {"weak": "weak support", "unsupported": "not supported"}


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def safe_model_text(text: str) -> str:
    """Model output as inert HTML: images and remote-loading tags removed, the rest escaped."""
    return escape(strip_remote_content(text))


def flag(verification: Verification) -> str:
    label = FLAG_LABELS.get(verification)
    return f' <span class="rag-flag rag-{verification}">{label}</span>' if label else ""


def paragraphs(escaped: str) -> str:
    """Blank lines become paragraph breaks and single newlines line breaks (markdown is off)."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", escaped.strip()) if block.strip()]
    return "".join(f"<p>{block.replace(chr(10), '<br>')}</p>" for block in blocks)


def where(hit: Hit) -> str:
    name = Path(hit.source).name
    page = f", page {hit.page}" if hit.page else ""
    return f'<span class="rag-file" title="{escape(hit.source)}">{escape(name)}</span>{escape(page)}'
