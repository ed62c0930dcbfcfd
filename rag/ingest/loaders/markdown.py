"""Markdown: the text as a reader sees it, without the markup.

Passages, citations and answers quote the document's text, so "# Le phare"
or "**42 mètres**" would show their markup everywhere. Headings, emphasis,
links, images, inline code, quotes, rules and front matter are reduced to
their words; offsets then point into this plain text, which is what the
user is shown.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.ingest.decode import decode_text
from rag.ingest.errors import SkipFile
from rag.ingest.loaders.base import LoadedText
from rag.ingest.loaders.text import date_from_text, first_line_title, shorten_title
from rag.settings import Settings

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_FIELD = r"^{}\s*:\s*[\"']?(.+?)[\"']?\s*$"
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.MULTILINE)
_SETEXT_UNDERLINE = re.compile(r"^[ \t]{0,3}(?:=+|-+)[ \t]*$", re.MULTILINE)
_RULE = re.compile(r"^[ \t]{0,3}(?:[-*_][ \t]*){3,}$", re.MULTILINE)
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~).*$\n?", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_REFERENCE_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+.*$\n?", re.MULTILINE)
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>\n]*>")
# Emphasis markers around words; "snake_case" and "2 * 3" are left alone.
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_CODE = re.compile(r"`+([^`\n]+)`+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def load_markdown(path: Path, data: bytes, settings: Settings) -> LoadedText:
    source = decode_text(data)
    if not source.strip():
        raise SkipFile("empty file (only whitespace)")
    fields = ""
    if front := _FRONT_MATTER.match(source):
        fields, source = front.group(1), source[front.end() :]
    text = to_plain_text(source)
    return LoadedText(
        text=text,
        title=_field(fields, "title") or _first_heading(source) or _first_line(text),
        date=date_from_text(f"date: {found}" if (found := _field(fields, "date")) else text),
        format="md",
    )


def to_plain_text(markdown: str) -> str:
    text = _FENCE.sub("", markdown)
    text = _LINK_DEFINITION.sub("", text)
    text = _HEADING.sub(r"\1", text)
    text = _SETEXT_UNDERLINE.sub("", text)
    text = _RULE.sub("", text)
    text = _QUOTE.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _CODE.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\2", text)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


def _field(front_matter: str, name: str) -> str:
    found = re.search(_FRONT_FIELD.format(name), front_matter, re.MULTILINE | re.IGNORECASE)
    return found.group(1) if found else ""


def _first_heading(markdown: str) -> str:
    heading = _HEADING.search(_FENCE.sub("", markdown))
    return shorten_title(to_plain_text(heading.group(1))) if heading else ""


def _first_line(text: str) -> str:
    return next((first_line_title(line) for line in text.splitlines() if line.strip()), "")
