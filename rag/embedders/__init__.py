"""Embedder backends by name: a registry rather than an if-chain."""

from __future__ import annotations

from collections.abc import Callable

from rag.embedders.base import Embedder, Vectors
from rag.registry import build
from rag.settings import Settings


def _sentence_transformers(settings: Settings) -> Embedder:
    from rag.embedders.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        settings.embedding_model,
        settings.embedding_batch_size,
        settings.embedding_languages,
        settings.embedding_precision,
    )


def _fake(settings: Settings) -> Embedder:
    from rag.embedders.fake import HashingEmbedder

    return HashingEmbedder()


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "sentence-transformers": _sentence_transformers,
    "fake": _fake,
}


def make_embedder(settings: Settings) -> Embedder:
    return build(EMBEDDERS, settings.embedding_backend, "embedding backend", settings)


def embedder_name(settings: Settings) -> str:
    """The name an embedder will report, known without loading its weights."""
    if settings.embedding_backend == "sentence-transformers":
        from rag.embedders.sentence_transformer import resolve_model

        return resolve_model(settings.embedding_model)[0]
    return make_embedder(settings).name


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
        if self._settings.embedding_backend == "sentence-transformers":
            from rag.embedders.sentence_transformer import guess_languages

            return guess_languages(self.name)
        return self.model.languages

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> Vectors:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.model.embed_query(text)


__all__ = ["EMBEDDERS", "Embedder", "LazyEmbedder", "Vectors", "embedder_name", "make_embedder"]
