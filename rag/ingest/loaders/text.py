"""Plain text: the text is the file, title and date come from the top."""

from __future__ import annotations

import re
from datetime import date as Date
from pathlib import Path

from rag.ingest.decode import decode_text
from rag.ingest.errors import SkipFile
from rag.ingest.loaders.base import LoadedText
from rag.settings import Settings

_TITLE_CHARS = 100
_HEADLINE_CHARS = 200
_SENTENCE_END = re.compile(r"\.[\s\"'»”’)\]]*$")
# Scraped seeds open with "date 2023-11 <first paragraph>" on one line.
_MARKER = re.compile(r"\A\s*date\s*:?\s*(\d{4}-\d{2}(?:-\d{2})?)\b[ \t]*", re.IGNORECASE)

_MONTHS = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12, "january": 1, "february": 2, "march": 3, "april": 4,
    "may": 5, "june": 6, "july": 7, "august": 8, "september": 9, "october": 10,
    "november": 11, "december": 12,
}  # fmt: skip
_MONTH = "(?P<month>" + "|".join(_MONTHS) + ")"
_LEAD = r"(?:publié|publiée|mis à jour|modifié|published|updated|posted)\s*(?:le|on)?\s*:?\s*"
# Only explicit statements count: a date inside a photo caption is not the document's.
_DATE_FORMS = (
    re.compile(r"\bdate\s*:\s*(?P<iso>\d{4}-\d{2}(?:-\d{2})?)\b", re.IGNORECASE),
    # A line of its own: "date 2024-05" under a heading.
    re.compile(r"^\s*date\s+(?P<iso>\d{4}-\d{2}(?:-\d{2})?)\s*$", re.IGNORECASE),
    re.compile(_LEAD + r"(?P<day>\d{1,2})(?:er)?\s+" + _MONTH + r"\s+(?P<year>\d{4})\b", re.IGNORECASE),
    re.compile(_LEAD + _MONTH + r"\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\b", re.IGNORECASE),
    re.compile(_LEAD + r"(?P<day>\d{1,2})/(?P<mnum>\d{1,2})/(?P<year>\d{4})\b", re.IGNORECASE),
    re.compile(r"(?:^|[\s(,])(?P<iso>\d{4}-\d{2}-\d{2})(?=$|[\s),.])"),
)
_OPENING_LINES = 5
_OPENING_LINE_CHARS = 200


def load_text(path: Path, data: bytes, settings: Settings) -> LoadedText:
    text = decode_text(data)
    if not text.strip():
        raise SkipFile("empty file (only whitespace)")
    return LoadedText(text=text, title=title_from_text(text), date=date_from_text(text), format="txt")


def title_from_text(text: str) -> str:
    """The first non-empty line, without a leading date marker, cut to a title's length; "" if it is a paragraph."""
    marker = _MARKER.match(text)
    body = text[marker.end() :] if marker else text
    return next((first_line_title(line) for line in body.splitlines() if line.strip()), "")


def first_line_title(line: str) -> str:
    """A document's first line as its title, or "" when that line is the article's first paragraph.

    An untitled article (scraped text that starts with its lead) has no title rather than its first
    sentence cut short: the file name stands in for it (rag.ingest.load). A paragraph is longer than
    a title and ends with a full stop, or is longer than any headline (of OrangeSum's 5,000 titles,
    285 pass 100 characters, none ends with a full stop, the longest has 172).
    """
    line = " ".join(line.split())
    if len(line) > _TITLE_CHARS and (_SENTENCE_END.search(line) or len(line) > _HEADLINE_CHARS):
        return ""
    return shorten_title(line)


def shorten_title(line: str) -> str:
    """A long first line is a paragraph: keep its first sentence or ~100 characters."""
    line = " ".join(line.split())
    if len(line) <= _TITLE_CHARS:
        return line
    # At least 20 characters, so that "M. Wang" is not taken for a sentence.
    sentence = re.search(r"[.!?…](?=\s)", line[20 : _TITLE_CHARS + 20])
    if sentence:
        end = 20 + sentence.end()
        return line[: end - 1] if line[end - 1] == "." else line[:end]
    cut = line[: _TITLE_CHARS + 1].rsplit(" ", 1)[0] if " " in line[:_TITLE_CHARS] else line[:_TITLE_CHARS]
    return cut.rstrip(" ,;:-–—") + "…"


def date_from_text(text: str) -> str | None:
    """A date the opening lines state explicitly, as YYYY-MM or YYYY-MM-DD."""
    if marker := _MARKER.match(text):
        return _valid(marker.group(1))
    lines = [line for line in text[:2000].splitlines() if line.strip()][:_OPENING_LINES]
    for line in lines:
        if len(line) > _OPENING_LINE_CHARS:
            continue
        for form in _DATE_FORMS:
            if match := form.search(line):
                found = _from_match(match)
                if found:
                    return found
    return None


def _from_match(match: re.Match[str]) -> str | None:
    parts = match.groupdict()
    if parts.get("iso"):
        return _valid(parts["iso"])
    month = _MONTHS[parts["month"].lower()] if parts.get("month") else int(parts["mnum"])
    return _valid(f"{parts['year']}-{month:02d}-{int(parts['day']):02d}")


def _valid(value: str) -> str | None:
    numbers = [int(part) for part in value.split("-")]
    try:
        Date(numbers[0], numbers[1], numbers[2] if len(numbers) > 2 else 1)
    except ValueError:
        return None
    return value
