"""A lean loader for the most common sentence-transformers layout.

Most sentence-transformers models, all-MiniLM-L6-v2 included, are a
transformer followed by mean pooling and, optionally, normalisation. Such a
folder is run here without sentence-transformers (and, through it,
scikit-learn): the same weights, the same tokenizer and the same arithmetic
as ``SentenceTransformer.encode``. The tokenizer is read with ``tokenizers``
and a BERT encoder runs in plain torch (``bert``), so the first English
question and a re-index do not import ``transformers`` either; another
architecture runs through ``transformers``. Any other layout (CLS pooling,
dense heads, a hub name) goes through sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedders.bert import BertEncoder

_PLAIN = (
    ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"],
    [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ],
)


def plain_layout(folder: Path) -> dict[str, Any] | None:
    """The transformer settings of a mean-pooled model folder, or None for any other layout."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if [m["type"] for m in modules] not in _PLAIN or modules[0].get("path", "") != "":
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    only_mean = pooling.get("pooling_mode_mean_tokens") and not any(
        value for key, value in pooling.items() if key.startswith("pooling_mode_") and key != "pooling_mode_mean_tokens"
    )
    if not only_mean or config.get("do_lower_case") or not (folder / "model.safetensors").exists():
        return None
    return {"max_seq_length": int(config.get("max_seq_length") or 256)}


class MeanPooledModel:
    """Transformer + mean pooling + normalisation, as sentence-transformers computes it."""

    def __init__(self, folder: Path, max_seq_length: int) -> None:
        self._tokenizer = _Tokenizer.load(folder, max_seq_length)
        self.max_seq_length = self._tokenizer.max_length
        # safetensors only: a folder holding nothing else cannot unpickle anything.
        self._encoder: Any = BertEncoder.load(folder) or _TransformersEncoder(folder)
        self.dimension = int(self._encoder.config.hidden_size)

    def count_tokens(self, text: str) -> int:
        return self._tokenizer.count(text)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        vectors = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                ids, mask = self._tokenizer.batch(texts[start : start + batch_size])
                tokens = self._encoder(ids, mask)
                weights = mask.unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled.float(), p=2, dim=1).numpy())
        return np.concatenate(vectors).astype(np.float32, copy=False)


class _Tokenizer:
    """The model's fast tokenizer (``tokenizer.json``), truncating and padding like ``transformers`` does."""

    def __init__(self, counting: Any, batching: Any, max_length: int) -> None:
        self._counting, self._batching, self.max_length = counting, batching, max_length

    @classmethod
    def load(cls, folder: Path, max_seq_length: int) -> Any:
        if not (folder / "tokenizer.json").exists():
            return _TransformersTokenizer(folder, max_seq_length)
        from tokenizers import Tokenizer

        settings = _read_json(folder / "tokenizer_config.json")
        max_length = min(max_seq_length, int(settings.get("model_max_length") or max_seq_length))
        counting = Tokenizer.from_file(str(folder / "tokenizer.json"))
        counting.no_truncation()
        counting.no_padding()
        batching = Tokenizer.from_file(str(folder / "tokenizer.json"))
        batching.enable_truncation(max_length)
        # Pad to the longest text of each batch, with the pad token the file declares.
        declared = batching.padding or {}
        pad = str(declared.get("pad_token") or _token_text(settings.get("pad_token")) or "[PAD]")
        batching.enable_padding(pad_id=int(declared.get("pad_id", batching.token_to_id(pad) or 0)), pad_token=pad)
        return cls(counting, batching, max_length)

    def count(self, text: str) -> int:
        return len(self._counting.encode(text, add_special_tokens=False).ids)

    def batch(self, texts: list[str]) -> tuple[Any, Any]:
        import torch

        encodings = self._batching.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
        return ids, mask


class _TransformersTokenizer:
    """A model folder without ``tokenizer.json``: the tokenizer ``transformers`` builds for it."""

    def __init__(self, folder: Path, max_seq_length: int) -> None:
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.max_length = min(max_seq_length, int(self._tokenizer.model_max_length or max_seq_length))

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def batch(self, texts: list[str]) -> tuple[Any, Any]:
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return batch["input_ids"], batch["attention_mask"]


class _TransformersEncoder:
    """Any architecture other than plain BERT, through ``transformers``."""

    def __init__(self, folder: Path) -> None:
        from transformers import AutoModel

        self._model = AutoModel.from_pretrained(str(folder), use_safetensors=True).eval()
        self.config = self._model.config

    def __call__(self, ids: Any, mask: Any) -> Any:
        return self._model(input_ids=ids, attention_mask=mask).last_hidden_state


def _token_text(token: Any) -> str:
    """A special token as tokenizer_config.json writes it: a string or {"content": ...}."""
    return str(token.get("content", "")) if isinstance(token, dict) else str(token or "")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
