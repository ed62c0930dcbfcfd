"""BM25 over pre-analysed token lists, stored as plain .npy arrays and JSON.

bm25s computes every (term, passage) score at build time into a sparse
matrix, so a query only sums a few columns. We hand it our own terms (see
``analysis``) and keep row numbers in build order, so callers map rows back
to their chunks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

_MANIFEST = "lexical.json"
_FORMAT = 1


class _VectorisedBM25(bm25s.BM25):
    """bm25s with its index built by whole-array numpy operations.

    bm25s builds the score matrix document by document in Python; an index is
    rebuilt at every publish (IDF changes with the corpus), and for the
    word-piece index that loop was most of re-indexing one changed article.
    The matrix is the same (Lucene BM25, a CSC matrix of documents x terms),
    which a test checks against bm25s's own build.
    """

    def build_index_from_tokens(
        self, corpus_tokens: list[list[str]], show_progress: bool = True, leave_progress: bool = False
    ) -> tuple[dict[str, Any], dict[str, int]]:
        if self.method != "lucene":
            return super().build_index_from_tokens(corpus_tokens, show_progress, leave_progress)
        # Term frequencies document by document: the arrays then hold one entry per
        # distinct (document, term) pair, not one per occurrence. The word-piece index of
        # 5,000 articles has 14 million occurrences, and int64 arrays of that length,
        # several at once, were most of the indexing process's peak memory.
        vocab_dict: dict[str, int] = {}
        terms, counts = [], []
        lengths = np.zeros(len(corpus_tokens), dtype=np.int64)
        for row, tokens in enumerate(corpus_tokens):
            ids = np.fromiter((vocab_dict.setdefault(t, len(vocab_dict)) for t in tokens), np.int32, len(tokens))
            distinct, tf = np.unique(ids, return_counts=True)
            terms.append(distinct)
            counts.append(tf.astype(np.int32))
            lengths[row] = len(tokens)
        return self._lucene_matrix(terms, counts, lengths, len(vocab_dict)), vocab_dict

    def _lucene_matrix(
        self, terms_by_doc: list[np.ndarray], tf_by_doc: list[np.ndarray], lengths: np.ndarray, n_vocab: int
    ) -> dict[str, Any]:
        """The documents x terms CSC score matrix from each document's distinct terms and their counts."""
        self.nonoccurrence_array = None  # Lucene BM25 has no non-occurrence term
        n_docs = len(lengths)
        terms = np.concatenate(terms_by_doc) if terms_by_doc else np.zeros(0, dtype=np.int32)
        tf = np.concatenate(tf_by_doc) if tf_by_doc else np.zeros(0, dtype=np.int32)
        docs = np.repeat(np.arange(n_docs, dtype=np.int32), [len(t) for t in terms_by_doc])
        df = np.bincount(terms, minlength=n_vocab)
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(self.dtype)
        length_norm = self.k1 * ((1 - self.b) + self.b * lengths[docs] / lengths.mean())
        scores = (idf[terms] * (tf / (length_norm + tf))).astype(self.dtype)
        # Columns by term, rows ascending within each: documents are already in order, so a stable sort suffices.
        order = np.argsort(terms, kind="stable")
        indptr = np.zeros(n_vocab + 1, dtype=self.int_dtype)
        np.cumsum(df, out=indptr[1:])
        return {
            "data": scores[order],
            "indices": docs[order].astype(self.int_dtype),
            "indptr": indptr,
            "num_docs": n_docs,
        }


class BM25Index:
    """A BM25 index whose rows are the token lists it was built from, in order."""

    def __init__(self, model: bm25s.BM25 | None, num_docs: int, params: dict[str, Any]) -> None:
        # ``model`` is None when no row has a single term: bm25s cannot build
        # an index over an empty vocabulary, and nothing could match anyway.
        self._model = model
        self._num_docs = num_docs
        self.params = params

    @classmethod
    def build(
        cls,
        token_lists: list[list[str]],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        method: str = "lucene",
    ) -> BM25Index:
        """Index ``token_lists``; row ``i`` is ``token_lists[i]`` (which may be empty).

        Defaults are Lucene's (k1=1.2, b=0.75), which are well tested on
        passages of a few hundred words like our chunks.
        """
        params = {"k1": k1, "b": b, "method": method}
        if not any(token_lists):
            return cls(None, len(token_lists), params)
        model = _VectorisedBM25(k1=k1, b=b, method=method)
        # No empty-string token: bm25s adds it to the vocabulary but not to
        # the matrix, so a query containing "" would index past the end.
        model.index(token_lists, create_empty_token=False, show_progress=False)
        return cls(model, len(token_lists), params)

    def __len__(self) -> int:
        return self._num_docs

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(row, score)`` pairs with score > 0, best first.

        A repeated query term counts as many times as it appears, as in
        Lucene. Ties are broken by row so results are deterministic.
        """
        if k <= 0:
            return []
        scores = self.scores(query_tokens)
        rows = np.flatnonzero(scores > 0)
        if len(rows) > k:
            # Keep every row tied with the k-th score so the row tie-break holds.
            kth = -np.partition(-scores[rows], k - 1)[k - 1]
            rows = rows[scores[rows] >= kth]
        order = np.lexsort((rows, -scores[rows]))[:k]
        return [(int(row), float(scores[row])) for row in rows[order]]

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """The BM25 score of every row (zeros where no query term occurs)."""
        vocab = self._model.vocab_dict if self._model is not None else {}
        ids = [vocab[token] for token in query_tokens if token in vocab]
        if self._model is None or not ids:
            return np.zeros(self._num_docs, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids))

    def holds(self, token: str) -> bool:
        """Whether any row holds ``token``."""
        return self._model is not None and token in self._model.vocab_dict

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """Inverse document frequency of each token; a token no row holds gets the highest."""
        n = self._num_docs
        result = {}
        for token in tokens:
            df = 0
            if self._model is not None and token in self._model.vocab_dict:
                column = self._model.vocab_dict[token]
                indptr = self._model.scores["indptr"]
                df = int(indptr[column + 1] - indptr[column])
            result[token] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return result

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` as .npy arrays and JSON, never pickle."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._model is not None:
            # bm25s writes data/indices/indptr with np.save and vocab/params
            # as JSON; no corpus is attached, so no corpus.jsonl either.
            self._model.save(str(folder), allow_pickle=False, show_progress=False)
        manifest = {
            "format": _FORMAT,
            "num_docs": self._num_docs,
            "empty": self._model is None,
            **self.params,
        }
        (folder / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> BM25Index:
        """Read an index written by ``save``; ``mmap`` maps the arrays read-only."""
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"{folder}: unsupported lexical index format {manifest.get('format')}")
        num_docs = int(manifest["num_docs"])
        params = {key: manifest[key] for key in ("k1", "b", "method")}
        if manifest["empty"]:
            return cls(None, num_docs, params)
        model = bm25s.BM25.load(str(folder), mmap=mmap, allow_pickle=False, show_progress=False)
        if model.scores["num_docs"] != num_docs:
            raise ValueError(f"{folder}: bm25s arrays hold {model.scores['num_docs']} rows, manifest says {num_docs}")
        return cls(model, num_docs, params)
