"""Turn a text file's bytes into str without ever guessing silently.

Every decode is strict: a wrong guess raises instead of dropping characters,
so the next candidate is tried and offsets always match what the user wrote.
"""

from __future__ import annotations

import codecs
import re

from rag.ingest.errors import SkipFile

_BINARY = "binary file, not text"
_UNDECODABLE = "could not decode text (not UTF-8, UTF-16 or cp1252)"
# Tab, newline, vertical tab, form feed and carriage return occur in real text.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05
_SAMPLE = 4096


def decode_text(data: bytes) -> str:
    """Decode ``data`` exactly (only a BOM is dropped), or raise SkipFile."""
    if data.startswith(codecs.BOM_UTF8):
        text = _strict(data[len(codecs.BOM_UTF8) :], ("utf-8",))
    elif data.startswith(codecs.BOM_UTF16_LE):
        text = _strict(data[2:], ("utf-16-le",))
    elif data.startswith(codecs.BOM_UTF16_BE):
        text = _strict(data[2:], ("utf-16-be",))
    elif (guess := _bomless_utf16(data)) is not None:
        text = _strict(data, (guess,), on_failure=_BINARY)
    elif b"\x00" in data:
        raise SkipFile(_BINARY)
    else:
        # latin-1 maps every byte, so it is the last resort; the control
        # character check below catches binary data it lets through.
        text = _strict(data, ("utf-8", "cp1252", "latin-1"))
    if _looks_binary(text):
        raise SkipFile(_BINARY)
    return text


def _strict(data: bytes, encodings: tuple[str, ...], on_failure: str = _UNDECODABLE) -> str:
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SkipFile(on_failure)


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without BOM: mostly-Latin text has a NUL in every other byte."""
    sample = data[:_SAMPLE]
    if len(sample) < 4 or len(data) % 2:
        return None
    half = len(sample) // 2
    nul_even = sample[0::2].count(0) / half
    nul_odd = sample[1::2].count(0) / half
    if nul_odd > 0.4 and nul_even < 0.05:
        return "utf-16-le"
    if nul_even > 0.4 and nul_odd < 0.05:
        return "utf-16-be"
    return None


def _looks_binary(text: str) -> bool:
    sample = text[: _SAMPLE * 4]
    if not sample:
        return False
    return len(_CONTROL.findall(sample)) / len(sample) > _MAX_CONTROL_SHARE
