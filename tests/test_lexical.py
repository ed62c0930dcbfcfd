"""Lexical retrieval: text analysis and the BM25 index."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.store.bm25_index import BM25Index
from rag.text.analysis import analyze, char_grams, fold

# --- analysis ---------------------------------------------------------------


def test_elision_with_either_apostrophe() -> None:
    curly = analyze("l’intelligence d’un système qu’on jusqu’ici", "fr")
    straight = analyze("l'intelligence d'un système qu'on jusqu'ici", "fr")
    assert curly == straight
    assert curly[0] == analyze("intelligence", "fr")[0]
    assert not {"l", "d", "qu", "jusqu"} & set(curly)


def test_accents_are_folded_after_stemming() -> None:
    assert analyze("États-Unis", "fr") == analyze("etats unis", "fr")
    assert analyze("Le ministère de l'Économie", "fr") == analyze("le ministere de l'economie", "fr")
    assert fold("cœur Ça") == "coeur Ca"


def test_french_plural_matches_singular() -> None:
    assert analyze("laboratoires", "fr") == analyze("laboratoire", "fr")
    assert analyze("les élections régionales", "fr") == analyze("élection régionale", "fr")


def test_english_stemming() -> None:
    assert analyze("running", "en") == ["run"]
    assert analyze("studies", "en") == analyze("study", "en")


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("en 2017", "fr", "2017"),
        ("un taux de 29,3 %", "fr", "29,3"),
        ("version 3.5", "en", "3.5"),
        ("100 000 salariés", "fr", "100000"),
        ("100\u202f000 salariés", "fr", "100000"),
        ("100,000 employees", "en", "100000"),
    ],
)
def test_numbers_are_single_tokens(text: str, language: str, expected: str) -> None:
    assert expected in analyze(text, language)


def test_year_followed_by_a_count_is_not_joined() -> None:
    assert analyze("en 2017 200 morts", "fr")[:2] == ["2017", "200"]


def test_stop_words_and_single_letters_are_removed() -> None:
    assert analyze("Quel est le nom de la ville où il est né ?", "fr") == analyze("nom ville né", "fr")
    assert analyze("What is the name of the city where he was born?", "en") == analyze("name city born", "en")
    # Content words that look like function words survive.
    assert "won" in analyze("Who won the game?", "en")


def test_undetermined_language_folds_without_stemming() -> None:
    assert analyze("Les Laboratoires of the États", "und") == ["laboratoires", "etats"]
    assert analyze("", "und") == []
    assert analyze("x", "de") == []


# --- index -------------------------------------------------------------------

CORPUS = [
    ("fr", "Le Ministère des Sports estime à 100 000 le nombre de salariés du secteur sportif."),
    ("fr", "Les laboratoires de recherche en intelligence artificielle se multiplient en France."),
    ("fr", "Les États-Unis ont publié leur budget en 2017 ; la croissance atteint 29,3 %."),
    ("en", "The Denver Broncos defeated the Carolina Panthers to win Super Bowl 50."),
    ("en", "Running a marathon requires months of training and a careful diet."),
    ("en", ""),
    ("en", "The Rhine flows through Switzerland, Germany and the Netherlands."),
]


def _index() -> BM25Index:
    return BM25Index.build([analyze(text, lang) for lang, text in CORPUS])


@pytest.mark.parametrize(
    ("query", "language", "row"),
    [
        ("Combien de salariés dans le secteur du sport ?", "fr", 0),
        ("laboratoire d'intelligence artificielle", "fr", 1),
        ("croissance des etats unis", "fr", 2),
        ("Who won the Super Bowl?", "en", 3),
        ("how to train for marathons", "en", 4),
        ("which countries does the Rhine flow through", "en", 6),
    ],
)
def test_bm25_ranks_the_right_passage_first(query: str, language: str, row: int) -> None:
    hits = _index().search(analyze(query, language), k=3)
    assert hits[0][0] == row
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_search_edge_cases() -> None:
    index = _index()
    assert len(index) == len(CORPUS)
    assert index.search([], k=5) == []
    assert index.search(["absentword"], k=5) == []
    assert index.search(analyze("marathon", "en"), k=0) == []
    # k above the number of rows returns only the rows that match.
    assert [row for row, _ in index.search(analyze("marathon", "en"), k=100)] == [4]


def test_empty_indexes() -> None:
    assert BM25Index.build([]).search(["a"], k=3) == []
    only_empty_rows = BM25Index.build([[], []])
    assert len(only_empty_rows) == 2
    assert only_empty_rows.search(["a"], k=3) == []


@pytest.mark.parametrize("mmap", [False, True])
def test_save_load_round_trip_without_pickle(tmp_path: Path, mmap: bool) -> None:
    index = _index()
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path, mmap=mmap)
    queries = ["Super Bowl", "intelligence artificielle", "salariés 100 000", "zzz"]
    for query in queries:
        for language in ("fr", "en"):
            tokens = analyze(query, language)
            assert loaded.search(tokens, k=5) == index.search(tokens, k=5)
    assert len(loaded) == len(index)
    for path in tmp_path.iterdir():
        assert path.suffix in {".npy", ".json"}, path
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), f"{path} looks like a pickle"
        assert b"pickle" not in data.lower()


def test_save_load_of_an_empty_index(tmp_path: Path) -> None:
    BM25Index.build([[]]).save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    assert len(loaded) == 1
    assert loaded.search(["a"], k=1) == []


# --- sub-word pieces ---------------------------------------------------------


def test_word_pieces_join_forms_the_stemmer_keeps_apart() -> None:
    assert analyze("parvient", "fr") != analyze("parvint", "fr")
    shared = set(char_grams("parvient", "fr")) & set(char_grams("parvint", "fr"))
    assert {"#par", "parv", "arvi"} <= shared


def test_word_pieces_fold_accents_drop_stop_words_and_keep_numbers_whole() -> None:
    assert char_grams("Élu en 2017 à Paris", "fr") == char_grams("elu en 2017 a paris", "fr")
    pieces = char_grams("Élu en 2017 à Paris", "fr")
    assert "2017" in pieces and {"#elu", "elu#", "#par", "ris#"} <= set(pieces)
    assert char_grams("IA", "fr") == ["#ia#"]  # a short word stays one piece
    assert not any(piece.startswith("#en") for piece in pieces)  # "en" is a stop word
    assert char_grams("", "fr") == []


def test_the_vectorised_build_gives_bm25s_own_scores() -> None:
    import random

    import bm25s

    rng = random.Random(7)
    vocabulary = [f"t{n}" for n in range(300)]
    corpus = [[rng.choice(vocabulary[: rng.randint(5, 300)]) for _ in range(rng.randint(0, 80))] for _ in range(400)]
    ours = BM25Index.build(corpus)
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index(corpus, create_empty_token=False, show_progress=False)
    for query in (["t1"], ["t3", "t250", "t3"], vocabulary[:40], ["absent"]):
        ids = [reference.vocab_dict[t] for t in query if t in reference.vocab_dict]
        expected = reference.get_scores_from_ids(ids) if ids else [0.0] * len(corpus)
        assert ours.scores(query) == pytest.approx(expected, rel=1e-5, abs=1e-6)
