"""The offline extractive answer: which sentences it picks, in what order, and when it says nothing."""

from __future__ import annotations

from rag.generators.extractive import ExtractiveGenerator, asks_quantity
from rag.text.answer_types import expected_type
from rag.types import Chunk, Claim, Hit


def _passages(*texts: str) -> list[Hit]:
    return [
        Hit(Chunk(f"doc{n}", 0, len(text), text), score=1.0 / n, source=f"doc{n}.txt", title="", language="fr")
        for n, text in enumerate(texts, 1)
    ]


def _claims(question: str, passages: list[Hit]) -> list[Claim]:
    produced = list(ExtractiveGenerator().generate(question, passages, "fr"))
    claims = [p for p in produced if isinstance(p, Claim)]
    assert claims == produced, "an extractive answer is quoted sentences only"
    for claim in claims:
        chunk = passages[claim.passages[0] - 1].chunk
        start, end = claim.span or (0, 0)
        assert chunk.text[start - chunk.start : end - chunk.start] == claim.text, "the span is the quote"
    return claims


def _answer(question: str, *texts: str) -> str:
    return " ".join(f"{c.text} [{c.passages[0]}]" for c in _claims(question, _passages(*texts)))


NVIDIA = (
    "Le fabricant de puces américain Nvidia a annoncé avoir obtenu une licence pour vendre ses processeurs H20 "
    "aux entreprises chinoises. Alibaba veut aujourd’hui réorienter ses efforts de recherche vers l’IA."
)


def test_a_question_asking_how_much_is_not_answered_by_a_sentence_stating_no_figure() -> None:
    # The articles name Nvidia but never its share price; "H20" names a chip, it counts nothing.
    assert _answer("Combien vaut l’action Nvidia aujourd’hui ?", NVIDIA) == ""


def test_a_chip_name_is_not_a_figure() -> None:
    nvidia = "Nvidia a obtenu une licence pour vendre ses processeurs H20 aux entreprises chinoises."
    assert _answer("Combien vaut l’action Nvidia ?", nvidia) == ""


def test_the_same_passage_answers_a_question_it_does_hold_the_figure_for() -> None:
    text = NVIDIA + " L’action Nvidia vaut aujourd’hui 180 dollars."
    assert "180 dollars" in _answer("Combien vaut l’action Nvidia aujourd’hui ?", text)


def test_a_duration_may_be_told_without_a_figure() -> None:
    assert not asks_quantity("Depuis combien de temps le laboratoire existait-il ?")
    assert asks_quantity("Combien de personnes travaillaient dans le laboratoire ?")
    assert asks_quantity("How many papers did the team publish?")


def test_the_sentence_holding_the_figure_leads_the_answer() -> None:
    text = (
        "AWS a publié en mai ses résultats trimestriels et son chiffre d’affaires a déçu. "
        "Malgré une hausse de 17 %, il atteint 29,3 milliards de dollars."
    )
    answer = _answer("Quel chiffre d’affaires AWS a-t-il réalisé ?", text)
    assert answer.startswith("Malgré une hausse de 17 %"), answer
    assert "chiffre d’affaires a déçu" in answer


def test_word_pieces_match_a_shortened_word() -> None:
    # "labo" and "laboratoire" share no stem; their 4-letter pieces do.
    answer = _answer(
        "Combien de personnes travaillaient au labo ?",
        "Environ 40 personnes travaillaient dans cette usine. Environ 30 personnes travaillaient dans ce laboratoire.",
    )
    assert answer.startswith("Environ 30 personnes"), answer


def test_the_words_that_frame_the_question_are_not_matched() -> None:
    # "Depuis" in "depuis combien de temps" asks for a duration; a sentence opening with "Depuis" is not the answer.
    answer = _answer(
        "Le laboratoire existait depuis combien de temps ?",
        "Depuis 2019, les négociations ont repris à Genève.",
        "Le laboratoire avait été fondé il y a sept ans.",
    )
    assert answer.startswith("Le laboratoire avait été fondé il y a sept ans"), answer


def test_a_how_long_question_is_answered_by_a_time_span() -> None:
    answer = _answer(
        "Depuis combien de temps le laboratoire fonctionne-t-il ?",
        "Le laboratoire comptait 30 chercheurs. Le laboratoire a ouvert il y a sept ans.",
    )
    assert answer.startswith("Le laboratoire a ouvert il y a sept ans"), answer


def test_a_title_is_not_an_answer_but_lends_its_words_to_the_next_sentence() -> None:
    text = "Le phare de Kerbrat\n\nIl a été construit en 1887 par l’ingénieur Louis Morvan."
    hit = Hit(
        Chunk("doc", 0, len(text), text), score=1.0, source="phare.md", title="Le phare de Kerbrat", language="fr"
    )
    answer = " ".join(c.text for c in _claims("Que sait-on du phare de Kerbrat ?", [hit]))
    assert answer.startswith("Il a été construit en 1887 par l’ingénieur Louis Morvan."), answer


def test_between_equals_a_sentence_that_says_it_all_itself_beats_one_leaning_on_its_context() -> None:
    text = (
        "Face aux interdictions, Alibaba revoit les ambitions de son laboratoire. "
        "Les décisions de fermer l’accès aux technologies pèsent sur le cloud. "
        "Alibaba annonce la fermeture de son laboratoire de calcul quantique."
    )
    answer = _answer("Quel laboratoire Alibaba a-t-il fermé ?", text)
    assert answer.startswith("Alibaba annonce la fermeture de son laboratoire de calcul quantique."), answer


def test_a_one_line_note_answers_with_its_only_line_although_it_is_its_title() -> None:
    text = "Le créateur du protocole Zorglub est né à Chambéry en 1931."
    note = Hit(Chunk("note", 0, len(text), text), score=1.0, source="note.txt", title=text, language="fr")
    assert [c.text for c in _claims("Où est né le créateur du protocole Zorglub ?", [note])] == [text]


def test_a_cost_question_wants_an_amount_of_money_not_a_count() -> None:
    answer = _answer(
        "Combien a coûté l’observatoire ?",
        "L’observatoire compte 40 capteurs répartis sur le toit. L’observatoire a coûté 2,5 millions d’euros.",
    )
    assert answer.startswith("L’observatoire a coûté 2,5 millions d’euros"), answer
    # Figures that are no money do not answer what something cost.
    assert _answer("Combien a coûté l’observatoire ?", "L’observatoire compte 40 capteurs répartis sur le toit.") == ""


def test_a_why_question_is_answered_by_the_sentence_giving_the_reason() -> None:
    answer = _answer(
        "Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?",
        "Amazon ferme son laboratoire de Shanghai, qui employait des chercheurs. "
        "Amazon a attribué la fermeture du laboratoire à des ajustements stratégiques.",
    )
    assert answer.startswith("Amazon a attribué la fermeture"), answer


def test_since_when_wants_a_date_and_an_age_question_an_age() -> None:
    since = _answer(
        "Depuis quand le laboratoire quantique d’Alibaba existe-t-il ?",
        "Le laboratoire quantique d’Alibaba employait une trentaine de chercheurs. "
        "Le laboratoire quantique d’Alibaba existait depuis 2017.",
    )
    assert since.startswith("Le laboratoire quantique d’Alibaba existait depuis 2017"), since
    age = _answer(
        "Quel âge avait le footballeur Patrick Ekeng ?",
        "Le footballeur Patrick Ekeng jouait au Dinamo Bucarest depuis janvier. "
        "Le footballeur Patrick Ekeng, 26 ans, est mort sur le terrain.",
    )
    assert age.startswith("Le footballeur Patrick Ekeng, 26 ans"), age


def test_a_count_prefers_the_figure_of_what_is_counted() -> None:
    answer = _answer(
        "Combien de personnes travaillaient dans le laboratoire ?",
        "Le laboratoire, ouvert en 2017, travaillait sur le calcul quantique. Le laboratoire employait 30 personnes.",
    )
    assert answer.startswith("Le laboratoire employait 30 personnes"), answer


def test_amounts_with_a_currency_symbol_are_money() -> None:
    for text in ("Le billet a coûté 30 €.", "Le billet a coûté 30 € par personne.", "Le billet a coûté 3 M€."):
        assert _answer("Combien a coûté le billet ?", text).startswith(text), text
    assert _answer("How much did the ticket cost?", "The ticket cost 5 $.").startswith("The ticket cost 5 $.")


def test_the_kind_asked_is_read_from_the_words_that_ask_it() -> None:
    kinds = {
        "Combien la France a-t-elle gagné de médailles ?": "number",  # "gagné" alone is no money
        "Combien de temps a duré le financement ?": "duration",
        "How much time did they spend on it?": "duration",
        "Quel est le prix du billet ?": "money",
        "What was the price of the ticket?": "money",
        "Combien de degrés l’Arctique a-t-il gagnés ?": "number",
        "Pourquoi Amazon ferme-t-il son laboratoire ?": "cause",
        "Depuis quand le laboratoire existe-t-il ?": "date",
        "How old was Peyton Manning?": "age",
    }
    assert {question: expected_type(question) for question in kinds} == kinds


def test_a_year_does_not_swallow_the_figure_after_it() -> None:
    assert "12 000 visiteurs" in _answer(
        "Combien de visiteurs le musée a-t-il reçus en 2019 ?", "Le musée a reçu en 2019 12 000 visiteurs."
    )
