"""Doors for other clients: a LangChain retriever, an MCP server, an OpenAI-compatible API.

Each is an entry point beside ``rag.cli`` and ``ui``: it parses what its client
sends, calls the one ``Assistant`` (``rag.answering.service``) and renders the
``Answer`` in its client's format, from ``Answer.to_json()``. None of them holds
answering logic of its own, so an answer is the same through every door.
"""
