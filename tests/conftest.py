"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm_server import FakeLLMServer


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A scripted OpenAI-compatible server; set .script, .fail_status, .delay_seconds as needed."""
    with FakeLLMServer() as server:
        yield server
