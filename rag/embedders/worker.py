"""One embedding worker process (see ``parallel``): JSON lines of texts in, raw float32 rows out.

Its first line says the model's dimension (or why it could not load); then,
for each ``{"texts": [...]}`` line read, one ``{"rows": n}`` line followed by
``n * dimension`` float32 values. A line that also holds ``"spans"`` (each
text's ``[start, end]`` pairs) is answered ``{"rows": n, "spans": m}``, the
texts' rows followed by the ``m`` spans' rows in order, or ``"spans": null``
when the model does not pool spans. It ends when its input closes.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from rag.embedders.base import embed_with_spans


def main() -> int:
    out = sys.stdout.buffer
    try:
        # The parent sets OMP_NUM_THREADS, which PyTorch reads when a model backend imports it.
        from rag.embedders import make_embedder
        from rag.settings import Settings

        embedder = make_embedder(Settings.from_values(json.loads(sys.argv[1])))
        out.write(json.dumps({"dimension": embedder.dimension}).encode() + b"\n")
    except Exception as error:  # the parent shows it in one line
        out.write(json.dumps({"error": f"{type(error).__name__}: {error}"}).encode() + b"\n")
        return 1
    out.flush()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        texts = request["texts"]
        header: dict[str, int | None] = {}
        if "spans" in request:
            spans = [[(int(a), int(b)) for a, b in text_spans] for text_spans in request["spans"]]
            vectors, pooled = embed_with_spans(embedder, texts, spans)
            header["spans"] = None if pooled is None else sum(len(rows) for rows in pooled)
            if pooled:
                vectors = np.vstack([vectors, *pooled])
        else:
            vectors = embedder.embed_documents(texts)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        out.write(json.dumps({"rows": len(texts), **header}).encode() + b"\n")
        out.write(vectors.tobytes())
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
