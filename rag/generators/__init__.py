"""Answer backends by name: a registry rather than an if-chain."""

from __future__ import annotations

from collections.abc import Callable

from rag.generators.base import Generator, GeneratorUnavailableError
from rag.settings import Settings, SettingsError


def _extractive(settings: Settings) -> Generator:
    from rag.generators.extractive import ExtractiveGenerator

    return ExtractiveGenerator()


def _openai(settings: Settings) -> Generator:
    from rag.generators.openai_compatible import OpenAICompatibleGenerator

    return OpenAICompatibleGenerator(
        settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_seconds
    )


GENERATORS: dict[str, Callable[[Settings], Generator]] = {"extractive": _extractive, "openai": _openai}


def make_generator(settings: Settings) -> Generator:
    try:
        factory = GENERATORS[settings.generator]
    except KeyError:
        raise SettingsError(
            f"Unknown answer backend {settings.generator!r}; choose one of {', '.join(GENERATORS)}."
        ) from None
    return factory(settings)


__all__ = ["GENERATORS", "Generator", "GeneratorUnavailableError", "make_generator"]
