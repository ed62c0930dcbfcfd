"""bfloat16 embedding: same vectors as float32 for retrieval, chosen only where the CPU has it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embedders import make_embedder
from rag.embedders.precision import PRECISIONS, native_bfloat16, use_bfloat16
from rag.errors import UserError
from rag.settings import Settings

TEXTS = [
    "Environ 30 personnes travaillaient dans le laboratoire quantique d’Alibaba, selon le groupe.",
    "The committee approved the budget for 2021 after a two-hour debate in the assembly.",
    "Le traité de Versailles, signé le 28 juin 1919, met officiellement fin à la Première Guerre mondiale. " * 6,
]


def test_auto_follows_the_cpu() -> None:
    assert use_bfloat16("auto") is native_bfloat16()
    assert use_bfloat16("bfloat16") is True
    assert use_bfloat16("float32") is False


def test_an_unknown_precision_says_which_ones_exist() -> None:
    with pytest.raises(UserError, match="float32"):
        use_bfloat16("int4")
    assert set(PRECISIONS) == {"auto", "float32", "bfloat16"}


@pytest.mark.slow
def test_bfloat16_vectors_match_float32_ones() -> None:
    exact = make_embedder(Settings(embedding_precision="float32"))
    fast = make_embedder(Settings(embedding_precision="bfloat16"))
    assert (exact.precision, fast.precision) == ("float32", "bfloat16")  # type: ignore[attr-defined]
    a, b = exact.embed_documents(TEXTS), fast.embed_documents(TEXTS)
    assert a.dtype == b.dtype == np.float32
    cosines = np.sum(a * b, axis=1)
    assert cosines.min() > 0.999
    # Neighbours are unchanged: each text is still closest to itself.
    assert list(np.argmax(a @ b.T, axis=1)) == [0, 1, 2]
    query = fast.embed_query("How many people worked in the lab?")
    assert query.shape == (exact.dimension,) and abs(float(np.linalg.norm(query)) - 1) < 1e-3


@pytest.mark.slow
def test_the_lean_loader_computes_what_sentence_transformers_computes() -> None:
    from sentence_transformers import SentenceTransformer

    from rag.embedders.mean_pooled import MeanPooledModel, plain_layout
    from rag.embedders.sentence_transformer import default_model_path

    folder = default_model_path()
    layout = plain_layout(folder)
    assert layout == {"max_seq_length": 256}
    lean = MeanPooledModel(folder, layout["max_seq_length"])
    reference = SentenceTransformer(str(folder), device="cpu")
    texts = [*TEXTS, "x " * 400]  # the last one is truncated to the window by both
    ours = lean.encode(texts, batch_size=2)
    theirs = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(ours - theirs).max() < 1e-5
    assert lean.max_seq_length == reference.max_seq_length and lean.dimension == 384
    french = "L’équipe a publié plus de 100 articles de recherche, créé la Deep Graph Library (DGL)… " * 3
    for text in [*TEXTS, french, "x " * 400, ""]:
        assert lean.count_tokens(text) == len(reference.tokenizer.encode(text, add_special_tokens=False))


@pytest.mark.slow
def test_a_query_is_embedded_without_importing_transformers_or_sentence_transformers() -> None:
    # Importing them costs about two seconds of the first English question.
    script = (
        "import sys; from rag.embedders.sentence_transformer import SentenceTransformerEmbedder; "
        "SentenceTransformerEmbedder().embed_query('How many people worked there?'); "
        "print(sorted(m for m in ('transformers', 'sentence_transformers', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_other_layouts_go_through_sentence_transformers(tmp_path: Path) -> None:
    from rag.embedders.mean_pooled import plain_layout

    assert plain_layout(tmp_path) is None  # no modules.json
    (tmp_path / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert plain_layout(tmp_path) is None  # CLS pooling
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert plain_layout(tmp_path) == {"max_seq_length": 128}
