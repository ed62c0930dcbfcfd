"""Degenerate output is told from an answer on the text so far: both sides, fed as a model streams it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.generators.degenerate import TEMPLATE_TOKENS, Degeneration, DegenerationDetector
from rag.generators.prompt import NOT_FOUND, build_messages, instruction_lines
from rag.types import Chunk, Hit
from tests.llm_server import tokens

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
PASSAGE = (
    "Alibaba a fermé son laboratoire de calcul quantique. Environ 30 personnes travaillaient depuis 2017 dans ce "
    "laboratoire. Ses équipements ont été donnés à l’université du Zhejiang."
)
HIT = Hit(Chunk("d", 0, len(PASSAGE), PASSAGE), 1.0, "/x/a.txt", "Alibaba renonce au quantique", "2023-11")
MESSAGES = build_messages(QUESTION, [HIT], "fr")


def detect(text: str, question: str = QUESTION) -> tuple[Degeneration | None, DegenerationDetector]:
    """Feed ``text`` token by token, as a model streams it; the first degeneration found, if any."""
    detector = DegenerationDetector(instruction_lines(MESSAGES), question)
    for piece in tokens(text):
        found = detector.feed(piece)
        if found:
            return found, detector
    return detector.finish(), detector


GOOD_ANSWERS = {
    "a quote of one passage sentence": "Environ 30 personnes travaillaient depuis 2017 dans ce laboratoire [1].",
    "the question's words in an answer": (
        "Environ 30 personnes travaillaient dans le laboratoire quantique d’Alibaba, fermé en 2023 [1]."
    ),
    "the sentence asked for when nothing answers": NOT_FOUND["fr"],
    "the English one": NOT_FOUND["en"],
    "a list of parallel facts": (
        "Le laboratoire de Shanghai a fermé en 2023 [1].\n"
        "Le laboratoire de Hangzhou a fermé en 2023 [2].\n"
        "Le laboratoire de Pékin a fermé en 2022 [3].\n"
        "Le laboratoire de Shenzhen a fermé en 2021 [4]."
    ),
    "a sentence said twice": "Environ 30 personnes y travaillaient [1]. Environ 30 personnes y travaillaient [1].",
    "a long multi-passage answer": " ".join(
        f"{sentence} [{n % 3 + 1}]." for n, sentence in enumerate(PASSAGE.replace(".", "").split(". "))
    )
    + " Ses équipements ont été donnés à l’université du Zhejiang, selon l’annonce faite en novembre [1].",
    "a not-found sentence after a partial answer": (
        "Le laboratoire a fermé [1]. Les passages ne disent pas combien il a coûté."
    ),
    "markers in every shape": "Environ 30 personnes [1][2] y travaillaient 【1】 depuis 2017 [Source 2].",
}


@pytest.mark.parametrize("text", GOOD_ANSWERS.values(), ids=GOOD_ANSWERS.keys())
def test_a_good_answer_is_never_cut(text: str) -> None:
    found, detector = detect(text)
    assert found is None, found
    assert detector.safe_length() <= len(detector.text)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "seeds").glob("*.txt")) + sorted((ROOT / "eval/xquad-en/corpus").glob("*.txt"))[:12]
)
def test_whole_articles_of_plain_prose_are_never_cut(path: Path) -> None:
    # Longer than any answer, with their own repeated names and phrases: still no loop, no echo.
    found, _ = detect(path.read_text(encoding="utf-8"))
    assert found is None, found


BAD_ANSWERS = {
    "the same sentence three times": (
        "Environ 30 personnes y travaillaient [1]. " * 3,
        "repetition",
    ),
    "a loop of words without a period": ("le laboratoire a fermé ses portes et " * 12, "repetition"),
    "one word over and over": ("laboratoire " * 40, "repetition"),
    "an instruction line of the prompt": ("Answer in French, citing the passages as [n].", "echo"),
    "eight words of a longer instruction": (
        "Bien sûr. You answer questions using ONLY the numbered passages supplied by the user.",
        "echo",
    ),
    "the passages' fences": ("<passage 1>\nEnviron 30 personnes travaillaient. </passage 1>", "echo"),
    "a passage header": ("[1] Title: Alibaba renonce au quantique | Date: 2023-11 Environ 30 personnes.", "echo"),
    "the whole question": (f"Question : {QUESTION} Réponse : environ 30 [1].", "echo"),
    "a chat template before any answer": ("<|im_start|>assistant\nEnviron 30 personnes [1].", "template"),
    "Llama 2's system marker": ("<<SYS>> You are a careful research assistant. <</SYS>> [INST]", "template"),
    "an unknown <|token|> of the same shape": ("<|assistant_turn|> Environ 30 personnes [1].", "template"),
}


@pytest.mark.parametrize(("text", "kind"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_degenerate_output_is_found_as_it_streams(text: str, kind: str) -> None:
    found, detector = detect(text)
    assert found is not None and found.kind == kind, found
    # Found as soon as it shows: the stream is not read to its end first.
    assert len(detector.text) <= len(text)


@pytest.mark.parametrize("token", TEMPLATE_TOKENS)
def test_every_known_template_token_is_found_where_it_starts(token: str) -> None:
    answer = "Environ 30 personnes y travaillaient [1]. "
    found, _ = detect(answer + token + "\nuser\nEt ensuite ?")
    assert found is not None and found.kind == "template" and found.start == len(answer)


def test_an_echo_is_held_back_until_it_is_found_so_none_of_it_was_shown() -> None:
    answer = "Environ 30 personnes y travaillaient [1]. "
    echo = "Answer ONLY from the passages; do not use outside knowledge."
    detector = DegenerationDetector(instruction_lines(MESSAGES), QUESTION)
    shown = 0
    for piece in tokens(answer + echo):
        found = detector.feed(piece)
        if found:
            break
        shown = max(shown, detector.safe_length())
    assert found is not None and found.kind == "echo"
    assert shown <= found.start == len(answer)
    assert detector.text[:shown].strip() == answer.strip()


def test_text_that_cannot_begin_an_echo_is_shown_at_once() -> None:
    detector = DegenerationDetector(instruction_lines(MESSAGES), QUESTION)
    for piece in tokens("Environ 30 personnes y travaillaient "):
        assert detector.feed(piece) is None
    assert detector.safe_length() == len("Environ 30 personnes y travaillaient ")


def test_the_first_characters_of_a_template_token_are_held_back() -> None:
    detector = DegenerationDetector(instruction_lines(MESSAGES), QUESTION)
    assert detector.feed("Environ 30 personnes [1]. <|im") is None
    assert detector.safe_length() == len("Environ 30 personnes [1]. ")
