"""Backends are chosen by name from a table, not an if-chain; the table validates the name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rag.errors import SettingsError
from rag.settings import Settings

T = TypeVar("T")
Entry = TypeVar("Entry")


def choose(table: dict[str, Entry], name: str, setting: str, also: tuple[str, ...] = ()) -> Entry:
    """The table's entry for ``name``, or a one-line error naming the setting and what exists."""
    try:
        return table[name]
    except KeyError:
        allowed = ", ".join((*also, *table))
        raise SettingsError(f"Setting {setting} must be one of {allowed}, not {name!r}.") from None


def build(table: dict[str, Callable[[Settings], T]], name: str, setting: str, settings: Settings) -> T:
    return choose(table, name, setting)(settings)
