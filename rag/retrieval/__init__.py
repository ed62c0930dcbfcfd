"""Retrievers: lexical (BM25), dense (FAISS) and their fusion."""
