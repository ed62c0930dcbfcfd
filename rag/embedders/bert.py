"""A BERT encoder in plain torch, for mean-pooled sentence models such as all-MiniLM-L6-v2 and e5.

Importing ``transformers`` and building its model classes takes about two
seconds on two cores, longer than the six layers it runs for a question. The
arithmetic of a BERT encoder fits on a page: embeddings, then per layer
self-attention and a GELU feed-forward, each followed by a residual layer
norm. It reads the same safetensors weights and gives the same vectors
(checked against ``SentenceTransformer.encode`` in the tests). XLM-RoBERTa
(multilingual-e5) is the same encoder with position ids counted from the
padding id + 1. Any other architecture keeps going through ``transformers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int
    heads: int
    layers: int
    layer_norm_eps: float
    max_positions: int
    #: Row of the first position: 0 in BERT; XLM-R and RoBERTa count from the padding id + 1.
    position_offset: int = 0

    @classmethod
    def read(cls, folder: Path) -> BertConfig | None:
        """The settings of a plain BERT encoder, or None for anything this module does not implement."""
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            roberta = config.get("model_type") in ("xlm-roberta", "roberta")
            plain = (
                (config.get("model_type") == "bert" or roberta)
                and config.get("hidden_act", "gelu") == "gelu"
                and config.get("position_embedding_type", "absolute") == "absolute"
            )
            if not plain or int(config["hidden_size"]) % int(config["num_attention_heads"]):
                return None
            return cls(
                hidden_size=int(config["hidden_size"]),
                heads=int(config["num_attention_heads"]),
                layers=int(config["num_hidden_layers"]),
                layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
                max_positions=int(config.get("max_position_embeddings", 512)),
                position_offset=int(config.get("pad_token_id", 1)) + 1 if roberta else 0,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class BertEncoder:
    """``last_hidden_state`` of a BertModel, inference only."""

    def __init__(self, config: BertConfig, weights: dict[str, Any]) -> None:
        self.config = config
        # Checkpoints saved from BertForX / XLMRobertaForX prefix every name with the architecture's.
        self._w = {name.removeprefix("bert.").removeprefix("roberta."): tensor for name, tensor in weights.items()}

    @classmethod
    def load(cls, folder: Path) -> BertEncoder | None:
        config = BertConfig.read(folder)
        if config is None:
            return None
        from safetensors.torch import load_file

        encoder = cls(config, load_file(str(folder / "model.safetensors")))
        return encoder if encoder._complete() else None

    def _complete(self) -> bool:
        needed = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight"]
        needed += [f"encoder.layer.{i}.output.LayerNorm.weight" for i in range(self.config.layers)]
        return all(name in self._w for name in needed)

    def __call__(self, ids: Any, mask: Any) -> Any:
        import torch

        w = self._w
        # Texts are padded at the end, so position ids simply count from the first row.
        positions = torch.arange(ids.shape[1]) + self.config.position_offset
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
        if "embeddings.token_type_embeddings.weight" in w:  # single texts: type 0 throughout (XLM-R has only one)
            x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self._norm(x, "embeddings.LayerNorm")
        attend = mask.bool()[:, None, None, :]  # padded positions are never attended to
        for i in range(self.config.layers):
            x = self._layer(x, attend, f"encoder.layer.{i}.")
        return x

    def _layer(self, x: Any, attend: Any, layer: str) -> Any:
        from torch.nn import functional

        batch, length, hidden = x.shape

        def heads(name: str) -> Any:
            projected = self._linear(x, f"{layer}attention.self.{name}")
            return projected.view(batch, length, self.config.heads, -1).transpose(1, 2)

        # Divided by the square root of the head size, as BERT does.
        context = functional.scaled_dot_product_attention(
            heads("query"), heads("key"), heads("value"), attn_mask=attend
        )
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        x = self._norm(
            x + self._linear(context, f"{layer}attention.output.dense"), f"{layer}attention.output.LayerNorm"
        )
        inner = functional.gelu(self._linear(x, f"{layer}intermediate.dense"))
        return self._norm(x + self._linear(inner, f"{layer}output.dense"), f"{layer}output.LayerNorm")

    def _linear(self, x: Any, name: str) -> Any:
        from torch.nn import functional

        return functional.linear(x, self._w[name + ".weight"], self._w[name + ".bias"])

    def _norm(self, x: Any, name: str) -> Any:
        from torch.nn import functional

        return functional.layer_norm(
            x,
            (self.config.hidden_size,),
            self._w[name + ".weight"],
            self._w[name + ".bias"],
            self.config.layer_norm_eps,
        )
