"""HTML: the main text as trafilatura sees it, with lxml as the fallback.

The document text is the extracted text, not the markup: offsets refer to it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lxml.etree
import lxml.html

from rag.ingest.decode import decode_text
from rag.ingest.errors import SkipFile
from rag.ingest.loaders.base import LoadedText
from rag.ingest.loaders.text import shorten_title, title_from_text
from rag.settings import Settings

_DROPPED = ("script", "style", "nav", "noscript", "template", "header", "footer", "aside", "form")
_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
        "dl", "dt", "dd", "tr", "table", "blockquote", "pre", "br", "hr", "figure", "figcaption", "address",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
# Only dates the markup states (meta tags, <time>): guessing from the prose is too loose.
_DATE_PARAMS = {"extensive_search": False, "original_date": True}
# trafilatura's fallback for short pages keeps menus; navigation is never content.
_PRUNED = ["//nav", "//*[@role='navigation']"]


def load_html(path: Path, data: bytes, settings: Settings) -> LoadedText:
    markup = decode_text(data)
    try:
        extracted = _trafilatura(markup)
        tree = _parse(markup)
    except RecursionError:
        raise SkipFile("HTML is nested too deeply to parse") from None
    text = (extracted.text or "").strip() if extracted else ""
    if not text and tree is not None:
        text = _body_text(tree)
    if not text:
        raise SkipFile("HTML has no text content")
    title = (extracted.title or "").strip() if extracted else ""
    if not title and tree is not None:
        title = _markup_title(tree)
    return LoadedText(
        text=text,
        title=shorten_title(title) if title else title_from_text(text),
        date=(extracted.date or None) if extracted else None,
        format="html",
    )


def _trafilatura(markup: str) -> Any:
    # Imported here: it costs a quarter of a second, which every
    # ``import rag.ingest`` (the PDF worker included) would otherwise pay.
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            markup,
            include_comments=False,
            with_metadata=True,
            output_format="python",
            date_extraction_params=_DATE_PARAMS,
            prune_xpath=_PRUNED,
        )
    except (ValueError, TypeError, lxml.etree.LxmlError):
        return None


def _parse(markup: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(markup)
    except (ValueError, lxml.etree.LxmlError):
        # Empty or unparsable markup; trafilatura may still have found text.
        return None


def _markup_title(tree: lxml.html.HtmlElement) -> str:
    for xpath in ("//title", "//h1"):
        for element in tree.xpath(xpath):
            title = " ".join(element.text_content().split())
            if title:
                return title
    return ""


def _body_text(tree: lxml.html.HtmlElement) -> str:
    """Visible text of <body> without scripts, styles and navigation, one block per paragraph."""
    body = tree.find("body")
    if body is None:
        return ""
    for element in body.xpath(" | ".join(f".//{tag}" for tag in _DROPPED)):
        element.drop_tree()  # keeps the tail: text after the element is not inside it
    # Comments would hide their tail text from iterwalk; stripping merges it back.
    lxml.etree.strip_tags(body, lxml.etree.Comment, lxml.etree.ProcessingInstruction)
    parts: list[str] = []
    # iterwalk is iterative, so deep nesting cannot overflow Python's stack.
    for event, element in lxml.etree.iterwalk(body, events=("start", "end")):
        if event == "start":
            parts.append(element.text or "")
            continue
        if element.tag in _BLOCKS:
            parts.append("\n\n")
        if element is not body:
            parts.append(element.tail or "")
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
