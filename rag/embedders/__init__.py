"""Embedder backends by name: a registry rather than an if-chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.embedders.base import Embedder, Vectors
from rag.registry import choose
from rag.settings import Settings


@dataclass(frozen=True)
class EmbedderBackend:
    """How to load one backend, and what it will report, known without loading it.

    The name and languages are needed before anything is embedded (to check an
    index's manifest, to weigh a French question's dense vote at zero), and a
    run that embeds nothing must not pay for loading the model.
    """

    load: Callable[[Settings], Embedder]
    #: The name the loaded embedder will report.
    name: Callable[[Settings], str]
    #: The languages the loaded embedder will report, from its name, unless the settings list them.
    languages: Callable[[str], frozenset[str]]


def _load_sentence_transformers(settings: Settings) -> Embedder:
    from rag.embedders.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        settings.embedding_model,
        settings.embedding_batch_size,
        settings.embedding_languages,
        settings.embedding_precision,
    )


def _sentence_transformers_name(settings: Settings) -> str:
    from rag.embedders.sentence_transformer import resolve_model

    return resolve_model(settings.embedding_model)[0]


def _sentence_transformers_languages(name: str) -> frozenset[str]:
    from rag.embedders.sentence_transformer import guess_languages

    return guess_languages(name)


def _load_fake(settings: Settings) -> Embedder:
    from rag.embedders.fake import HashingEmbedder

    return HashingEmbedder()


def _fake_name(settings: Settings) -> str:
    # The fake has no weights: building one costs nothing.
    return _load_fake(settings).name


def _fake_languages(name: str) -> frozenset[str]:
    from rag.embedders.fake import HashingEmbedder

    return HashingEmbedder.languages


EMBEDDERS: dict[str, EmbedderBackend] = {
    "sentence-transformers": EmbedderBackend(
        _load_sentence_transformers, _sentence_transformers_name, _sentence_transformers_languages
    ),
    "fake": EmbedderBackend(_load_fake, _fake_name, _fake_languages),
}


def _backend(settings: Settings) -> EmbedderBackend:
    return choose(EMBEDDERS, settings.embedding_backend, "embedding backend")


def make_embedder(settings: Settings) -> Embedder:
    return _backend(settings).load(settings)


def embedder_name(settings: Settings) -> str:
    """The name an embedder will report, known without loading its weights."""
    return _backend(settings).name(settings)


class LazyEmbedder:
    """Loads the model on first real use, so runs with nothing to embed stay fast."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loaded: Embedder | None = None
        self.name = embedder_name(settings)

    @property
    def model(self) -> Embedder:
        if self._loaded is None:
            self._loaded = make_embedder(self._settings)
        return self._loaded

    @property
    def dimension(self) -> int:
        return self.model.dimension

    @property
    def max_tokens(self) -> int:
        return self.model.max_tokens

    @property
    def languages(self) -> frozenset[str]:
        # Known without loading: a French question then never loads the model
        # (its dense vote is zero), which keeps `rag ask` cold starts short.
        if self._settings.embedding_languages:
            return frozenset(self._settings.embedding_languages)
        return _backend(self._settings).languages(self.name)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> Vectors:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.model.embed_query(text)


__all__ = [
    "EMBEDDERS",
    "Embedder",
    "EmbedderBackend",
    "LazyEmbedder",
    "Vectors",
    "embedder_name",
    "make_embedder",
]
