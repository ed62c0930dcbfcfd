"""Word pieces and the article bonus, through the real index and retriever (fake embedder)."""

from __future__ import annotations

from pathlib import Path

from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import Settings
from rag.store.index import Index


def _retriever(tmp_path: Path, articles: dict[str, str]) -> HybridRetriever:
    corpus = tmp_path / "articles"
    corpus.mkdir()
    for name, text in articles.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(
        index_dir=tmp_path / "index", embedding_backend="fake", chunk_max_tokens=16, chunk_overlap_tokens=0
    )
    index_paths([corpus], settings, HashingEmbedder())
    # Lexical mode: the fake embedder's vote would blur what is being tested.
    return HybridRetriever(
        Index.open(settings.index_dir), HashingEmbedder(), mode="lexical", min_relevance=settings.min_relevance
    )


def test_a_form_the_stemmer_misses_is_found_through_word_pieces(tmp_path: Path) -> None:
    retriever = _retriever(
        tmp_path,
        {
            "a.txt": "Une autre montagne, plus loin, domine la vallée et le torrent qui la longe.",
            "b.txt": "La montagne recule.",
            "c.txt": "Les bergers appellent cette montagne le géant.",
        },
    )
    # The stemmer gives "appel" and "appellent"; as words only "montagne" matches,
    # and the shortest passage would win.
    retrieval = retriever.retrieve("Comment appelle-t-on la montagne ?", 3)
    assert retrieval.hits[0].source.endswith("c.txt")


def test_a_passage_whose_article_matches_the_question_ranks_higher(tmp_path: Path) -> None:
    # Both passages say "succession du roi" once, the first in fewer words (so
    # BM25 alone prefers it); only the second article also names Versailles.
    retriever = _retriever(
        tmp_path,
        {
            "a-other.txt": "La succession du roi fut contestée.\n\nLe marché aux poissons ouvre à l’aube sur le port.",
            "b-louis.txt": "La succession du roi fut contestée par ses frères. Les pêcheurs réparent leurs filets.\n\n"
            "Le château de Versailles devint la résidence de la cour.",
        },
    )
    hits = retriever.retrieve("Qui contesta la succession du roi de Versailles ?", 5).hits
    ranked = [h.source.rsplit("/", 1)[-1] for h in hits if "succession" in h.chunk.text]
    assert ranked[0] == "b-louis.txt"
