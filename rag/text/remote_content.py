"""Removing what would make a viewer fetch a remote URL from text a model wrote."""

from __future__ import annotations

import re

_MARKDOWN_IMAGE = re.compile(r"!\[[^\]\n]*\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
# A link definition ("[1]: http://...") would let a reference-style image load.
_LINK_DEFINITION = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*\S+.*$\n?", re.MULTILINE)
# Whole elements whose content is code or markup, then any tag that fetches a URL.
_HTML_BLOCK = re.compile(r"<(script|style|svg|iframe|object)\b.*?(?:</\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_HTML_REMOTE_TAG = re.compile(
    r"</?\s*(?:img|image|picture|source|video|audio|track|embed|object|iframe|link|meta|input|svg|script|style)"
    r"\b[^>]*(?:>|$)",
    re.IGNORECASE | re.MULTILINE,
)


def strip_remote_content(text: str) -> str:
    """Remove markdown images and HTML tags that would make a viewer fetch a remote URL.

    A hostile document can ask the model to emit such content (to track the
    reader or exfiltrate the question in a URL); the answer must never load it.
    """
    text = _MARKDOWN_IMAGE.sub("", text)
    text = _LINK_DEFINITION.sub("", text)
    text = _HTML_BLOCK.sub("", text)
    return _HTML_REMOTE_TAG.sub("", text)
