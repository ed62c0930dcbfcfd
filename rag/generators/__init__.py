"""Answer backends by name: a registry rather than an if-chain."""

from __future__ import annotations

from collections.abc import Callable

from rag.generators.base import Generator, GeneratorUnavailableError
from rag.registry import build, choose
from rag.settings import Settings


def _extractive(settings: Settings) -> Generator:
    from rag.generators.extractive import ExtractiveGenerator

    return ExtractiveGenerator()


def _openai(settings: Settings) -> Generator:
    from rag.generators.openai_compatible import OpenAICompatibleGenerator

    return OpenAICompatibleGenerator.from_settings(settings)


def _fake(settings: Settings) -> Generator:
    # No script in the settings: the default one echoes passage 1 (fake.echo_first_passage), for demos.
    from rag.generators.fake import ScriptedGenerator

    return ScriptedGenerator()


GENERATORS: dict[str, Callable[[Settings], Generator]] = {
    "extractive": _extractive,
    "openai": _openai,
    "fake": _fake,
}


def validate(settings: Settings) -> None:
    """Refuse, in one line, an answer backend that does not exist."""
    choose(GENERATORS, settings.generator, "generator")


def make_generator(settings: Settings) -> Generator:
    return build(GENERATORS, settings.generator, "generator", settings)


__all__ = ["GENERATORS", "Generator", "GeneratorUnavailableError", "make_generator", "validate"]
