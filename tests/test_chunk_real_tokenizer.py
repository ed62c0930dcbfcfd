"""No chunk exceeds the real model's window, counted by its own tokenizer."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.ingest import chunk_document, load_document
from rag.settings import Settings
from rag.types import Document

pytestmark = pytest.mark.slow

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))

# Encyclopedic French in the style of PIAF (French Wikipedia question answering):
# numbers, abbreviations, quotes, elisions and one run-on enumeration.
SENTENCES = [
    "La tour Eiffel, construite par Gustave Eiffel pour l’Exposition universelle de 1889, mesure 330 mètres.",
    "En 52 av. J.-C., Vercingétorix capitule à Alésia après un siège de plusieurs semaines.",
    "M. Dupont, maire de la commune depuis 2008, a inauguré la médiathèque le 3 mars 2015.",
    "Le PIB de la région a progressé de 2,4 % en 2019, soit 29,3 milliards d’euros selon l’INSEE.",
    "« L’homme est condamné à être libre », écrit Jean-Paul Sartre dans L’existentialisme est un humanisme.",
    "Le Rhône prend sa source dans le glacier du Rhône, en Suisse, et se jette dans la Méditerranée.",
    "Marie Curie reçoit le prix Nobel de physique en 1903, puis celui de chimie en 1911.",
    "La population de la ville était estimée à 3.5 millions d’habitants lors du recensement de 2020.",
    "Le traité de Versailles, signé le 28 juin 1919, met officiellement fin à la Première Guerre mondiale.",
    "Pourquoi la Loire est-elle surnommée « le dernier fleuve sauvage d’Europe » ? Son cours reste peu aménagé.",
    "Les Mme. et M. Martin ont fondé l’entreprise en 1987 ; elle emploie aujourd’hui 1 200 salariés.",
    "Le Dr. Laennec invente le stéthoscope en 1816 à l’hôpital Necker, à Paris.",
    "L’Académie française, fondée en 1635 par le cardinal de Richelieu, compte quarante membres.",
    "Le massif du Mont-Blanc culmine à 4 805,59 mètres d’altitude selon la mesure de 2021…",
]
RUN_ON = (
    "Le musée conserve des peintures, des sculptures, des dessins, des estampes, des photographies, "
    + ", ".join(f"des objets d’art de la collection numéro {n} léguée par les Montmorency-Laval" for n in range(40))
    + " et bien d’autres pièces encore."
)


def piaf_paragraphs(count: int = 20) -> str:
    chooser = random.Random(20240305)
    paragraphs = [" ".join(chooser.sample(SENTENCES, chooser.randint(3, 9))) for _ in range(count)]
    paragraphs[7] = f"{paragraphs[7]} {RUN_ON}"
    return "\n\n".join(paragraphs)


@pytest.fixture(scope="module")
def count_tokens() -> Callable[[str], int]:
    from rag.embedders.sentence_transformer import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    assert embedder.max_tokens == 254
    return embedder.count_tokens


def documents() -> list[Document]:
    docs = [load_document(seed, Settings()) for seed in SEEDS]
    docs.append(Document(id="piaf", path="piaf.txt", text=piaf_paragraphs(), title="PIAF"))
    return docs


@pytest.mark.parametrize(("max_tokens", "overlap"), [(254, 40), (200, 40), (64, 16)])
def test_no_chunk_exceeds_the_window(count_tokens: Callable[[str], int], max_tokens: int, overlap: int) -> None:
    for doc in documents():
        chunks = chunk_document(doc, count_tokens, max_tokens, overlap)
        assert chunks
        if doc.id == "piaf":
            assert count_tokens(RUN_ON) > 254  # the run-on sentence had to be cut
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text == chunk.text.strip()
            assert count_tokens(chunk.text) <= max_tokens, chunk.text[:80]
