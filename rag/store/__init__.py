"""The on-disk index: versions, manifest, docstore, vectors."""
