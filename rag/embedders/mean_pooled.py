"""A lean loader for the most common sentence-transformers layout.

Most sentence-transformers models, all-MiniLM-L6-v2 included, are a
transformer followed by mean pooling and, optionally, normalisation. Such a
folder is run here with ``transformers`` alone: the same weights, the same
tokenizer and the same arithmetic as ``SentenceTransformer.encode``, without
importing sentence-transformers (and, through it, scikit-learn), which is
about half of the cold start of the first English question. Any other layout
(CLS pooling, dense heads, a hub name) goes through sentence-transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

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
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(folder))
        # safetensors only: a folder holding nothing else cannot unpickle anything.
        self._model: Any = AutoModel.from_pretrained(str(folder), use_safetensors=True).eval()
        self.max_seq_length = min(max_seq_length, int(self.tokenizer.model_max_length or max_seq_length))
        self.dimension = int(self._model.config.hidden_size)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        vectors = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                )
                tokens = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled.float(), p=2, dim=1).numpy())
        return np.concatenate(vectors).astype(np.float32, copy=False)
