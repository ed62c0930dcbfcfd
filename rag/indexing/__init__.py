"""The indexing pipeline: paths in, a new published index version out (discover, scan, load, chunk, embed, write)."""
