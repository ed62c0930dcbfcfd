"""What ``Assistant.stream`` yields: the passages found, the answer's text as it is written, the answer."""

from __future__ import annotations

from dataclasses import dataclass

from rag.types import Answer, Hit


@dataclass(frozen=True)
class Retrieved:
    passages: list[Hit]
    rewritten: str | None


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Token | Done
