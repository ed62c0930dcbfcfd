"""The answering pipeline: a question in, a cited Answer out (follow-ups, retrieval, generation, verification)."""
