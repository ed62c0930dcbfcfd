"""Find boilerplate lines (credits, bylines, "read also", share and cookie prompts).

The text is never changed: spans are returned so offsets stay true, and the
chunker keeps them out of every chunk. Patterns are deliberately narrow and
only match short lines, so a paragraph of real prose is never dropped.
"""

from __future__ import annotations

import re

_MAX_LINE = 250
# Scrapers prepend "date 2023-11" to the first line: metadata, not prose.
_DATE_MARKER = re.compile(r"\A\s*(date\s*:?\s*\d{4}-\d{2}(?:-\d{2})?)(?=\s)", re.IGNORECASE)
_LINE = re.compile(r"[^\n]+")
_SOCIAL = r"(?:facebook|twitter|x|linkedin|whatsapp|bluesky|mastodon|threads|e-?mail|courriel|messenger)"

_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # Photo and image credits.
        r"(?:photos?|images?|illustrations?|vid[ée]os?|cr[ée]dits?(?:\s+photos?)?|credits?|sources?\s+photos?)"
        r"\s*:\s*\S.*",
        r"\(?(?:photos?|images?)\s+(?:by|credit|courtesy(?:\s+of)?)\b.*",
        r"cr[ée]dits?\s+(?:photos?|images?)\b.*",
        r"(?:©|copyright\s*(?:©|\(c\)|\d{4}|:)|\(c\)\s*\d{4}).*",
        r".{0,120}\bvia getty images\)?\.?",
        # Author footers and bylines.
        r"(?:journaliste|reporter|correspondante?|r[ée]dactrice|r[ée]dacteur|staff writer)\.?",
        r"(?:par|by)\s+[^.,;:!?]{2,60},\s*(?:journaliste|correspondante?|r[ée]dact\w*|envoy[ée]e?\s+sp[ée]ciale?"
        r"|reporter|staff writer|editor|contributor)\b.{0,80}",
        r"(?:tous les |les )?articles?\s+(?:actuels|r[ée]cents)?\s*(?:de l[’']auteur|de l[’']autrice|de cet auteur)\.?",
        r"(?:voir|tous) les articles de .{1,60}",
        r"(?:more|other|latest|recent) (?:articles|stories|posts) (?:by|from) .{1,60}",
        r"(?:à propos de l[’']auteur|about the author)\.?",
        # Links to other articles.
        r"(?:[àa] )?lire (?:aussi|également|la suite)\b.*",
        r"(?:read|see) (?:also|more)\b.*",
        r"(?:sur le même sujet|related(?: articles| stories)?|(?:à )?voir aussi)\s*(?::.*)?",
        # Share and subscribe prompts.
        r"(?:partager|partagez|share)(?:\s+(?:cet article|this (?:article|story|page)))?\s*(?:sur|on|via)?\s*:?"
        r"(?:[\s,|/]*" + _SOCIAL + r")*\s*",
        r"(?:abonnez-vous|inscrivez-vous|subscribe|sign up|s[’']abonner|newsletter)\b.*",
        # Cookie banners.
        r"(?:nous utilisons|ce site utilise|ce site web utilise|we use|this (?:web)?site uses).{0,80}\bcookies?\b.*",
        r"(?:accepter|accept|refuser|reject|g[ée]rer|manage)\s+(?:tous\s+|all\s+)?(?:les\s+)?cookies?\.?",
        r"(?:cookies?\s+(?:settings|preferences|policy)|param[èe]tres des cookies"
        r"|politique (?:de |des |relative aux )cookies)\.?",
    )
)


_PHOTO_CREDIT = re.compile(r"\(?(?:photos?|images?|cr[ée]dits?\s+photos?)\b", re.IGNORECASE)


def find_boilerplate(text: str) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each boilerplate line, surrounding whitespace left out."""
    spans: list[tuple[int, int]] = []
    if marker := _DATE_MARKER.match(text):
        spans.append(marker.span(1))
    previous: tuple[int, int] | None = None  # the last non-empty line, if not the title
    seen_title = False
    for line in _LINE.finditer(text):
        content = line.group()
        stripped = content.strip()
        if not stripped:
            continue
        start = line.start() + (len(content) - len(content.lstrip()))
        span = (start, start + len(stripped))
        if len(stripped) <= _MAX_LINE and any(pattern.fullmatch(stripped) for pattern in _PATTERNS):
            spans.append(span)
            # The line just above a photo credit is the photo's caption, not the article.
            if previous and _PHOTO_CREDIT.match(stripped) and previous not in spans:
                spans.append(previous)
        previous = span if seen_title else None
        seen_title = True
    return tuple(sorted(spans))
