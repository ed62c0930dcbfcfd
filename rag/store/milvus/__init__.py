"""The Milvus store: the same index as the version folders, in Milvus collections (docs/scale-out.md).

``collections`` connects and lays out the collections, ``generations`` makes
writes atomic, ``store`` reads one published generation (the ``Store`` role)
and ``writer`` writes the next one.
"""
