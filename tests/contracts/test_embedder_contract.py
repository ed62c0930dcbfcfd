"""The embedder contract: what every Embedder promises the indexer, the retrievers and the verifier.

As in Haystack's document-store test mixins, the tests live in mixin classes that
run against an ``embedder`` fixture, and each implementation gets a concrete
``Test...`` class that provides it:

* ``EmbedderContract``, for every embedder: it describes itself (name, dimension,
  window, languages, calibration); ``embed_documents`` gives one float32 row per
  text, shape ``(n, dimension)``, unit-norm, ``(0, dimension)`` for no text;
  ``embed_query`` gives one vector of shape ``(dimension,)``, unit-norm; the same
  text always gets the same vector; any text (emoji, control characters, a text
  longer than the window) gets a finite vector; ``count_tokens`` is positive for
  text and grows with it.
* ``ModelContract``, for real models: a question is closer to a passage that
  answers it than to an unrelated one, in each language the model declares, and
  across French and English when it declares both.

Real models load their weights: their classes are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.embedders import Calibration, Embedder, LazyEmbedder
from rag.embedders.fake import HashingEmbedder
from rag.settings import Settings

TEXTS = [
    "Le port de Brest a accueilli 4 200 escales de navires en 2022.",
    "The committee approved the budget for 2021 after a two-hour debate.",
    "Alibaba cède son laboratoire quantique à l’Université de Zhejiang.",
]
# Text a user or a document can hold: emoji, other scripts, control characters, odd spaces, a very long text.
AWKWARD = [
    "Émojis 😀🎉🧑🏽‍🚀 et écritures : 北京欢迎你、東京タワー、한국어, ﬁ ligatures, ½ and Ⅻ",
    "contrôle\x01\x02\x7f tab\tnew\nline\r\n  spaces   here\u200b\u00a0nbsp\ufeff",
    "« Guillemets », l’apostrophe, l'autre — tirets – et… points",
    "Le créateur du protocole Zorglub est né à Chambéry en 1931. " * 170,  # ~10,000 characters
]
# (question, a passage that answers it, an unrelated passage), by language.
PAIRS = {
    "fr": (
        "Combien d’habitants compte la ville de Lyon ?",
        "Lyon compte environ 520 000 habitants : c’est la troisième ville de France par sa population.",
        "Pour réussir une tarte Tatin, caramélisez les pommes dans le beurre avant d’ajouter la pâte.",
    ),
    "en": (
        "How many people live in the city of Lyon?",
        "Lyon has about 520,000 inhabitants, which makes it the third largest city in France.",
        "For a good tarte Tatin, caramelise the apples in butter before adding the pastry.",
    ),
}


def unit_norms(vectors: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.atleast_2d(vectors).astype(np.float64), axis=1)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a.astype(np.float64), b.astype(np.float64)))


class EmbedderContract:
    """What every embedder promises. Concrete classes provide the ``embedder`` fixture."""

    @pytest.fixture
    def embedder(self) -> Embedder:
        raise NotImplementedError("a concrete test class provides the embedder")

    def test_implements_the_protocol(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)

    def test_describes_itself(self, embedder: Embedder) -> None:
        assert isinstance(embedder.name, str) and embedder.name.strip() == embedder.name != ""
        assert isinstance(embedder.dimension, int) and embedder.dimension > 0
        assert isinstance(embedder.max_tokens, int) and embedder.max_tokens > 0
        assert isinstance(embedder.languages, frozenset) and embedder.languages
        assert all(isinstance(code, str) and len(code) == 2 and code.islower() for code in embedder.languages)

    def test_calibration_is_none_or_reads_cosines_as_probabilities(self, embedder: Embedder) -> None:
        calibration = embedder.calibration
        if calibration is None:
            return
        assert isinstance(calibration, Calibration)
        assert calibration.supports >= calibration.weakly_supports
        readings = [calibration.relevance(c, 0.5, False) for c in (-1.0, 0.0, 0.5, 0.8, 0.9, 1.0)]
        assert all(0.0 <= r <= 1.0 for r in readings)
        assert readings == sorted(readings), "a higher cosine must never read as less relevant"

    def test_documents_are_unit_float32_rows(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents(TEXTS)
        assert isinstance(vectors, np.ndarray) and vectors.dtype == np.float32
        assert vectors.shape == (len(TEXTS), embedder.dimension)
        np.testing.assert_allclose(unit_norms(vectors), 1.0, atol=1e-4)

    def test_no_documents_give_an_empty_matrix(self, embedder: Embedder) -> None:
        vectors = embedder.embed_documents([])
        assert vectors.dtype == np.float32 and vectors.shape == (0, embedder.dimension)

    def test_many_documents_keep_their_order(self, embedder: Embedder) -> None:
        """More texts than a model batch, and more text than e5 gives its engine (it then runs the batch encoder)."""
        texts = [
            f"Article {n} : le conseil municipal de la commune {n} a voté {n * 7} délibérations." for n in range(100)
        ]
        assert sum(len(text) for text in texts) > 6000
        vectors = embedder.embed_documents(texts)
        assert vectors.dtype == np.float32 and vectors.shape == (len(texts), embedder.dimension)
        np.testing.assert_allclose(unit_norms(vectors), 1.0, atol=1e-4)
        alone = embedder.embed_documents([texts[37]])[0]
        assert cosine(vectors[37], alone) > 0.99, "a text's vector must not depend on its place in the batch"

    def test_query_is_one_unit_vector(self, embedder: Embedder) -> None:
        # The protocol only says ``Vectors``; every caller (Index.search_dense, similarities) takes one vector.
        vector = embedder.embed_query(PAIRS["fr"][0])
        assert isinstance(vector, np.ndarray) and vector.dtype == np.float32
        assert vector.shape == (embedder.dimension,)
        assert unit_norms(vector)[0] == pytest.approx(1.0, abs=1e-4)

    def test_same_text_same_vector(self, embedder: Embedder) -> None:
        np.testing.assert_allclose(embedder.embed_query(TEXTS[0]), embedder.embed_query(TEXTS[0]), atol=1e-6)
        np.testing.assert_allclose(embedder.embed_documents(TEXTS), embedder.embed_documents(TEXTS), atol=1e-6)

    def test_awkward_text_gets_a_finite_vector(self, embedder: Embedder) -> None:
        documents = embedder.embed_documents(AWKWARD)
        assert documents.shape == (len(AWKWARD), embedder.dimension)
        assert np.isfinite(documents).all()
        for text in AWKWARD:
            query = embedder.embed_query(text)
            assert query.shape == (embedder.dimension,) and np.isfinite(query).all()
        # Every one of them holds words: each must get a direction, not a zero vector.
        np.testing.assert_allclose(unit_norms(documents), 1.0, atol=1e-4)

    def test_token_counts_are_positive_and_grow_with_the_text(self, embedder: Embedder) -> None:
        one = embedder.count_tokens(TEXTS[0])
        assert isinstance(one, int) and one > 0
        assert embedder.count_tokens(TEXTS[0] + " " + TEXTS[1]) > one
        assert embedder.count_tokens(" ".join([TEXTS[0]] * 10)) > 5 * one
        assert embedder.count_tokens("") == 0


class ModelContract:
    """What a real model promises beyond the mechanics: it places texts by meaning."""

    @pytest.mark.parametrize("language", sorted(PAIRS))
    def test_a_question_is_closer_to_its_answer_than_to_an_unrelated_text(
        self, embedder: Embedder, language: str
    ) -> None:
        if language not in embedder.languages:
            pytest.skip(f"{embedder.name} does not declare {language!r}")
        question, answer, unrelated = PAIRS[language]
        query = embedder.embed_query(question)
        related, other = embedder.embed_documents([answer, unrelated])
        assert cosine(query, related) > cosine(query, other)

    def test_a_question_meets_its_answer_across_french_and_english(self, embedder: Embedder) -> None:
        if not {"fr", "en"} <= embedder.languages:
            pytest.skip(f"{embedder.name} does not declare both French and English")
        for asked, written in (("fr", "en"), ("en", "fr")):
            query = embedder.embed_query(PAIRS[asked][0])
            related, other = embedder.embed_documents([PAIRS[written][1], PAIRS[written][2]])
            assert cosine(query, related) > cosine(query, other), f"{asked} question over {written} passages"


# Implementations ------------------------------------------------------------------------------


class TestHashingEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Embedder:
        return HashingEmbedder()


class TestLazyEmbedderOverTheFake(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Embedder:
        return LazyEmbedder(Settings(embedding_backend="fake"))

    def test_reports_what_the_model_will_report_without_loading_it(self) -> None:
        lazy = LazyEmbedder(Settings(embedding_backend="fake"))
        described = (lazy.name, lazy.languages, lazy.calibration)
        assert lazy._loaded is None, "naming the model, its languages or its calibration must not load it"
        model = lazy.model
        assert described == (model.name, model.languages, model.calibration)
        assert (lazy.dimension, lazy.max_tokens) == (model.dimension, model.max_tokens)


@pytest.fixture(scope="module")
def e5() -> Embedder:
    from rag.embedders.e5 import E5Embedder

    return E5Embedder()


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    from rag.embedders.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.mark.slow
class TestE5Embedder(EmbedderContract, ModelContract):
    @pytest.fixture
    def embedder(self, e5: Embedder) -> Embedder:
        return e5


@pytest.mark.slow
class TestSentenceTransformerEmbedder(EmbedderContract, ModelContract):
    @pytest.fixture
    def embedder(self, minilm: Embedder) -> Embedder:
        return minilm
