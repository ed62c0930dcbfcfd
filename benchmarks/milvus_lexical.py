"""Which lexical search to run on Milvus: its own BM25 analysis, or ours sent as pre-analysed terms.

    python -m benchmarks.milvus_lexical [--set piaf]

Lexical retrieval only (no vectors, no fusion), over the same chunks of
``eval/<set>/corpus``, recall@k of the gold span on every answerable dev question,
halves A and B (``evaluation.half``) reported apart:

* ``files``: the file store's BM25 (``BM25Index``) over our analysed terms;
* ``milvus, our terms``: Milvus's BM25 function over the same terms, hex-encoded
  (``rag.store.milvus.terms``), as the Milvus store runs it;
* ``milvus, its analyzer``: Milvus's BM25 function over the raw text, with the
  analyzer Milvus Lite offers (``standard``: words, lower case, English stop
  words; no stemming, no accent folding: a server's ``stemmer`` filter is not in Lite).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from pymilvus import DataType, Function, FunctionType, MilvusClient

from benchmarks.quality import Passages, first_match, scores
from rag.embedders.fake import HashingEmbedder
from rag.evaluation import Question, half, read_questions
from rag.indexing.indexer import index_paths
from rag.settings import Settings
from rag.store.index import Index
from rag.store.milvus import terms as encoded
from rag.text.analysis import analyze, lexical_text

EVAL = Path(__file__).resolve().parent.parent / "eval"
DEPTH = 10


def _collection(client: MilvusClient, name: str, analyzer: dict[str, object]) -> None:
    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, analyzer_params=analyzer)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]
        )
    )
    params = client.prepare_index_params()
    bm25 = {"bm25_k1": 1.2, "bm25_b": 0.75}  # the file store's; Lite reads them from a nested "params" only
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={**bm25, "params": bm25})
    client.create_collection(name, schema=schema, index_params=params)


def _search(client: MilvusClient, name: str, text: str) -> list[int]:
    found = client.search(name, data=[text], anns_field="sparse", limit=DEPTH, output_fields=["key"])
    return [int(hit["key"]) for hit in found[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="piaf")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "milvus_lexical.json")
    args = parser.parse_args()
    folder = EVAL / args.set
    questions: list[Question] = [q for q in read_questions(folder / "dev.jsonl") if q.answerable]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", embedding_backend="fake")
        index_paths([folder / "corpus"], settings, HashingEmbedder())
        index = Index.open(settings.index_dir)
        documents = {d.id: d for d in index.docstore.documents()}
        rows = list(index.docstore.stored_chunks())
        where = {row: (documents[s.chunk.doc_id].path, s.chunk.start, s.chunk.end) for row, s in rows}
        client = MilvusClient(str(Path(tmp) / "lexical.db"))
        _collection(client, "ours", {"tokenizer": "standard"})
        _collection(client, "theirs", {"tokenizer": "standard"})
        client.insert("ours", [{"key": row, "text": encoded.encode(s.tokens)} for row, s in rows])
        theirs = []
        for row, s in rows:
            document = documents[s.chunk.doc_id]
            theirs.append({"key": row, "text": lexical_text(document.title, document.date, s.chunk.text)})
        client.insert("theirs", theirs)
        for name in ("ours", "theirs"):
            client.load_collection(name)
        language = next(iter(documents.values())).language

        def passages(found: list[int]) -> Passages:
            return [where[row] for row in found]

        searches = {
            "files": lambda q: passages([r for r, _ in index.lexical.search(analyze(q, language), DEPTH)]),
            "milvus, our terms": lambda q: passages(_search(client, "ours", encoded.encode(analyze(q, language)))),
            "milvus, its analyzer": lambda q: passages(_search(client, "theirs", q)),
        }
        report: dict[str, dict[str, dict[str, float]]] = {}
        for name, search in searches.items():
            ranks = {q.id: first_match(q, search(q.question)) for q in questions}
            report[name] = {
                part: scores([rank for qid, rank in ranks.items() if part == "all" or half(qid) == part])
                for part in ("all", "A", "B")
            }
            print(name, json.dumps({part: round(v["recall@5"], 3) for part, v in report[name].items()}))
        index.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"set": args.set, "questions": len(questions), "lexical": report}, indent=2) + "\n")


if __name__ == "__main__":
    main()
