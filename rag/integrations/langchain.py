"""A LangChain retriever over the assistant's own hybrid retrieval, for pipelines written in LangChain.

``RagRetriever`` is a ``BaseRetriever``: ``invoke``, ``batch``, ``ainvoke``,
``abatch`` and LCEL composition (``retriever | format_docs``) come from
LangChain's Runnable machinery, and callbacks see each retrieval through the
run manager. Each passage becomes a ``Document`` whose ``page_content`` is the
chunk's text and whose metadata says where it is (``source``, ``start``,
``end``: ``document_text[start:end] == page_content``), what it is (``title``,
``date``, ``page``) and how it ranked (``score``, ``relevance``, ranks), the
same fields as the MCP ``search_documents`` tool.

LangChain objects appear only in this module; the retrieval itself is
``Assistant.retrieve``, the one the chat and ``rag ask`` use.

    from rag.integrations.langchain import RagRetriever
    retriever = RagRetriever.from_settings(index_dir="vectorstore", k=4)
    docs = retriever.invoke("Pourquoi Amazon ferme-t-il son laboratoire de Shanghai ?")
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from rag.answering.service import Assistant
from rag.integrations.passages import passage_json
from rag.settings import Settings


class RagRetriever(BaseRetriever):
    """Passages from the index, ranked by the assistant's hybrid retrieval (BM25 and embeddings)."""

    assistant: Assistant
    #: Passages per query; None means the settings' ``top_k``.
    k: int | None = Field(default=None, ge=1)
    #: When no passage reaches ``min_relevance`` (where the assistant would abstain), return none
    #: rather than the closest ones: a chain then gets no context instead of unrelated context.
    only_relevant: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, index_dir: str | Path | None = None, **fields: Any
    ) -> RagRetriever:
        """A retriever with its own ``Assistant``, from ``settings`` or the usual rag.toml and environment."""
        settings = settings or Settings.load(index_dir=Path(index_dir) if index_dir is not None else None)
        return cls(assistant=Assistant(settings), **fields)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        retrieval = self.assistant.retrieve(query, self.k)
        if self.only_relevant and not retrieval.relevant:
            return []
        return [_document(passage_json(rank, hit)) for rank, hit in enumerate(retrieval.hits, 1)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        # Retrieval is CPU-bound and thread-safe (the chat runs it in worker threads): off the event loop.
        return await asyncio.to_thread(self._get_relevant_documents, query, run_manager=run_manager.get_sync())


def _document(passage: dict[str, Any]) -> Document:
    text = passage.pop("text")
    # One id per passage, stable across calls on the same index version (LangChain uses it to deduplicate).
    return Document(page_content=text, id=f"{passage['doc_id']}:{passage['start']}-{passage['end']}", metadata=passage)
