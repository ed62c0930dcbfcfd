"""A wrong setting is refused in one line naming it, its value and what is allowed.

Values the settings can judge alone are refused when they are loaded; backend
names, modes and precisions by the registry that owns them, when the service
(or the indexer's embedder) is built, before anything loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.service import Assistant
from rag.embedders import LazyEmbedder
from rag.embedders.fake import HashingEmbedder
from rag.embedders.sentence_transformer import SentenceTransformerEmbedder
from rag.errors import SettingsError
from rag.generators import make_generator
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.retrieval.hybrid import MODES, HybridRetriever
from rag.settings import Settings
from rag.store.index import Index
from tests.helpers import index_seeds, run_cli

# (environment variable, bad value, words the message must hold besides the setting's name and the value)
BACKEND_VALUES = [
    ("RAG_RETRIEVAL_MODE", "fuzzy", ["hybrid", "lexical", "dense"]),
    ("RAG_GENERATOR", "gpt", ["extractive", "openai"]),
    ("RAG_EMBEDDING_PRECISION", "half", ["auto", "float32", "bfloat16"]),
    ("RAG_EMBEDDING_BACKEND", "onnx", ["auto", "e5", "sentence-transformers"]),
]
BAD_VALUES = [
    ("RAG_TOP_K", "0", ["at least 1"]),
    ("RAG_TOP_K", "-3", ["at least 1"]),
    ("RAG_EMBEDDING_BATCH_SIZE", "0", ["at least 1"]),
    ("RAG_CHUNK_MAX_TOKENS", "0", ["at least 1"]),
    ("RAG_CHUNK_OVERLAP_TOKENS", "-1", ["at least 0"]),
    ("RAG_CHUNK_OVERLAP_TOKENS", "250", ["less than chunk_max_tokens (250)"]),
    ("RAG_MAX_FILE_BYTES", "0", ["at least 1"]),
    ("RAG_MAX_QUEUE", "0", ["at least 1"]),
    ("RAG_PDF_TIMEOUT_SECONDS", "0", ["more than 0"]),
    ("RAG_LLM_TIMEOUT_SECONDS", "-5", ["more than 0"]),
    ("RAG_LLM_TIMEOUT_SECONDS", "nan", ["more than 0"]),
    ("RAG_MIN_RELEVANCE", "1.5", ["between 0 and 1"]),
    ("RAG_MIN_RELEVANCE", "-0.1", ["between 0 and 1"]),
    ("RAG_PORT", "70000", ["between 1 and 65535"]),
    ("RAG_EMBEDDING_MODEL", " ", ["model"]),
]


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_VALUES)
def test_a_bad_value_is_refused_on_load_in_one_line(variable: str, value: str, allowed: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(env={variable: value})
    message = str(caught.value)
    name = variable.removeprefix("RAG_").lower()
    assert "\n" not in message and name in message and repr(value.strip() or value)[1:-1] in message, message
    for word in allowed:
        assert word in message, message


def _one_line_naming(error: SettingsError, variable: str, value: str, allowed: list[str]) -> None:
    message = str(error)
    name = variable.removeprefix("RAG_").lower()
    assert "\n" not in message and name in message and repr(value)[1:-1] in message, message
    for word in allowed:
        assert word in message, message


@pytest.mark.parametrize(("variable", "value", "allowed"), BACKEND_VALUES)
def test_a_bad_backend_name_is_refused_when_the_service_starts(
    tmp_path: Path, variable: str, value: str, allowed: list[str]
) -> None:
    settings = Settings.load(env={variable: value, "RAG_INDEX_DIR": str(tmp_path / "index")})
    with pytest.raises(SettingsError) as caught:
        Assistant(settings)
    _one_line_naming(caught.value, variable, value, allowed)
    if variable.startswith("RAG_EMBEDDING"):  # `rag index` builds no service, only an embedder
        with pytest.raises(SettingsError) as caught:
            LazyEmbedder(settings)
        _one_line_naming(caught.value, variable, value, allowed)


def test_the_toml_file_is_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "rag.toml"
    config.write_text('top_k = 0\nretrieval_mode = "hybrid"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="top_k must be at least 1, not 0"):
        Settings.load(env={}, config_file=config)


def test_a_whole_number_setting_refuses_a_fraction(tmp_path: Path) -> None:
    config = tmp_path / "rag.toml"
    config.write_text("top_k = 2.5\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"top_k must be a whole number, not 2\.5"):
        Settings.load(env={}, config_file=config)


def test_changing_a_setting_in_code_is_checked_too() -> None:
    with pytest.raises(SettingsError, match="top_k"):
        Settings().replace(top_k=-1)


def test_defaults_and_edge_values_are_accepted() -> None:
    Settings.load(env={})
    edges = {"RAG_MIN_RELEVANCE": "0", "RAG_TOP_K": "1", "RAG_CHUNK_OVERLAP_TOKENS": "0", "RAG_PORT": "65535"}
    loaded = Settings.load(env=edges)
    assert (loaded.min_relevance, loaded.top_k, loaded.chunk_overlap_tokens, loaded.port) == (0.0, 1, 0, 65535)
    for mode in MODES:
        assert Settings.load(env={"RAG_RETRIEVAL_MODE": mode}).retrieval_mode == mode


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    _, settings = index_seeds(tmp_path)
    done = run_cli("ask", "Bonjour ?", "--index", str(settings.index_dir), prefix=["env", "RAG_RETRIEVAL_MODE=fuzzy"])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "retrieval_mode" in done.stderr and "'fuzzy'" in done.stderr


def test_the_retriever_refuses_an_unknown_mode(tmp_path: Path) -> None:
    _, settings = index_seeds(tmp_path)
    index = Index.open(settings.index_dir)
    try:
        with pytest.raises(SettingsError, match="retrieval_mode"):
            HybridRetriever(index, HashingEmbedder(), mode="fuzzy", min_relevance=0.3)
    finally:
        index.close()


def test_the_embedder_refuses_a_batch_size_below_one_before_loading_anything() -> None:
    with pytest.raises(SettingsError, match="embedding_batch_size must be at least 1, not 0"):
        SentenceTransformerEmbedder("/nonexistent/model", batch_size=0)


def test_the_llm_backend_built_from_settings_gets_every_llm_setting() -> None:
    generator = make_generator(Settings(generator="openai", llm_max_tokens=100, llm_context_tokens=2048))
    assert isinstance(generator, OpenAICompatibleGenerator)
    assert (generator.max_tokens, generator.context_tokens) == (100, 2048)
