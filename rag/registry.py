"""Backends are chosen by name from a table, not an if-chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rag.settings import Settings, SettingsError

T = TypeVar("T")
Entry = TypeVar("Entry")


def choose(table: dict[str, Entry], name: str, role: str) -> Entry:
    """The table's entry for ``name``, or a one-line error listing what exists."""
    try:
        return table[name]
    except KeyError:
        raise SettingsError(f"Unknown {role} {name!r}; choose one of {', '.join(table)}.") from None


def build(table: dict[str, Callable[[Settings], T]], name: str, role: str, settings: Settings) -> T:
    return choose(table, name, role)(settings)
