"""Backends are chosen by name from a table, not an if-chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rag.settings import Settings, SettingsError

T = TypeVar("T")


def build(table: dict[str, Callable[[Settings], T]], name: str, role: str, settings: Settings) -> T:
    try:
        factory = table[name]
    except KeyError:
        raise SettingsError(f"Unknown {role} {name!r}; choose one of {', '.join(table)}.") from None
    return factory(settings)
