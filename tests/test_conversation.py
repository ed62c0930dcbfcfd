"""The offline follow-up heuristic: which questions lean on the previous turn, and what they borrow."""

from __future__ import annotations

import pytest

from rag.answering.followups import needs_context, rewrite_followup

PREVIOUS = [("Quel laboratoire Alibaba a-t-il fermé ?", "Son laboratoire de calcul quantique [1].")]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Et combien de personnes y travaillaient ?", "fr"),
        ("Combien de personnes y travaillaient ?", "fr"),
        ("Qui a fondé ce laboratoire ?", "fr"),
        ("Quand a-t-il été fondé ?", "fr"),
        ("Pourquoi ?", "fr"),
        ("Who built it?", "en"),
        ("And how many people worked there?", "en"),
        ("What is its revenue?", "en"),
    ],
)
def test_a_question_that_refers_to_what_it_does_not_name_leans_on_the_previous_turn(
    question: str, language: str
) -> None:
    assert needs_context(question, language)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Qui dirige Alibaba ?", "fr"),
        ("qui dirige alibaba ?", "fr"),  # a name typed in lower case is still a name: rare in French
        ("Quelle est la capitale de la France ?", "fr"),
        ("Combien mesure le phare de Kerbrat ?", "fr"),
        ("Qui a inventé le téléphone ?", "fr"),
        ("Qu’est-ce que la photosynthèse ?", "fr"),
        ("Quel laboratoire Alibaba a-t-il fermé ?", "fr"),  # "a-t-il" is inversion, not a reference
        ("Why is Amazon closing its Shanghai lab?", "en"),  # "its" points inside the question
    ],
)
def test_a_question_that_names_its_own_topic_stands_alone(question: str, language: str) -> None:
    assert not needs_context(question, language)
    assert rewrite_followup(question, PREVIOUS, language) is None


def test_a_follow_up_borrows_the_words_it_lacks() -> None:
    rewritten = rewrite_followup("Et combien de personnes y travaillaient ?", PREVIOUS, "fr")
    assert rewritten == "Et combien de personnes y travaillaient ? laboratoire Alibaba fermé"


def test_without_history_nothing_is_rewritten() -> None:
    assert rewrite_followup("Et combien de personnes y travaillaient ?", [], "fr") is None


def test_a_follow_up_in_another_language_keeps_the_topic_and_drops_the_other_language_frame() -> None:
    history = [
        (
            "How many people worked in Alibaba's quantum lab?",
            "Environ 30 personnes travaillaient dans le laboratoire quantique d’Alibaba DAMO Academy. [1]",
        )
    ]
    rewritten = rewrite_followup("Et depuis quand ?", history, "fr")
    assert rewritten is not None and rewritten.startswith("Et depuis quand ?")
    carried = rewritten.removeprefix("Et depuis quand ?").split()
    # The topic, in the question's words and in the documents' (the answer quotes them)...
    assert {"quantum", "lab", "quantique"} <= set(carried), rewritten
    # ...but not the English question's frame, which would make it a "how many" question.
    assert not {"How", "many"} & set(carried), rewritten
