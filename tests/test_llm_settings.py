"""The settings that bound a local LLM: their defaults, their checks, and that they reach the backend."""

from __future__ import annotations

import pytest

from rag.errors import SettingsError
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.settings import Settings

BAD_VALUES = [
    ("RAG_LLM_MAX_TOKENS", "0", ["at least 1"]),
    ("RAG_LLM_MAX_TOKENS", "2.5", ["whole number"]),
    ("RAG_LLM_ANSWER_SECONDS", "0", ["more than 0"]),
    ("RAG_LLM_ANSWER_SECONDS", "inf", ["more than 0"]),
    ("RAG_LLM_CONTEXT_TOKENS", "512", ["more than llm_max_tokens (512)"]),
    ("RAG_LLM_CONTEXT_TOKENS", "-1", ["more than llm_max_tokens"]),
    ("RAG_LLM_FALLBACK", "offline", ["passages or extractive"]),
]


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_VALUES)
def test_a_bad_value_is_refused_on_load_in_one_line(variable: str, value: str, allowed: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(env={variable: value})
    message = str(caught.value)
    assert "\n" not in message and variable.removeprefix("RAG_").lower() in message and value in message, message
    for words in allowed:
        assert words in message, message


def test_the_defaults_bound_an_answer_and_show_the_passages_when_it_fails() -> None:
    settings = Settings.load(env={})
    assert (settings.llm_max_tokens, settings.llm_answer_seconds) == (512, 120.0)
    assert (settings.llm_context_tokens, settings.llm_fallback) == (4096, "passages")


def test_the_settings_reach_the_openai_compatible_backend() -> None:
    settings = Settings.load(
        env={
            "RAG_LLM_MAX_TOKENS": "300",
            "RAG_LLM_CONTEXT_TOKENS": "2048",
            "RAG_LLM_TIMEOUT_SECONDS": "7",
            "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
        }
    )
    generator = OpenAICompatibleGenerator.from_settings(settings)
    assert (generator.max_tokens, generator.context_tokens, generator.timeout) == (300, 2048, 7.0)
    assert generator.base_url == "http://127.0.0.1:1/v1"
