"""Comparison keys for text: what case, accents, apostrophes and spacing must not decide."""

from __future__ import annotations

import unicodedata


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.replace("’", "'").replace("\u202f", " ").replace("\xa0", " "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())
