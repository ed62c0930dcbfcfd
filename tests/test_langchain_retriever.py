"""The LangChain retriever over a real index (fake hashing embedder), alone and inside LCEL chains."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel, ParrotFakeChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.errors import UserError
from rag.integrations.langchain import RagRetriever
from tests.helpers import index_seeds

QUESTION = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
OTHER = "Dans quelle ville se trouvait le laboratoire d’IA qu’Amazon vient de fermer ?"
METADATA = {
    "rank",
    "doc_id",
    "source",
    "title",
    "date",
    "page",
    "start",
    "end",
    "score",
    "relevance",
    "lexical_rank",
    "dense_rank",
}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    _, settings = index_seeds(tmp_path_factory.mktemp("langchain"))
    return Assistant(settings, embedder=HashingEmbedder())


@pytest.fixture
def retriever(assistant: Assistant) -> RagRetriever:
    return RagRetriever(assistant=assistant, k=3)


def test_documents_are_the_assistants_passages_with_their_offsets(assistant: Assistant, retriever: RagRetriever):
    documents = retriever.invoke(QUESTION)
    hits = assistant.retrieve(QUESTION, 3).hits
    assert len(documents) == 3
    docstore = assistant.snapshot().index.docstore
    for rank, (document, hit) in enumerate(zip(documents, hits, strict=True), 1):
        assert isinstance(document, Document)
        assert set(document.metadata) == METADATA
        meta = document.metadata
        assert (meta["rank"], meta["source"], meta["title"], meta["date"]) == (rank, hit.source, hit.title, hit.date)
        assert (meta["start"], meta["end"], meta["score"]) == (hit.chunk.start, hit.chunk.end, round(hit.score, 4))
        assert 0.0 <= meta["relevance"] <= 1.0
        assert meta["date"] == "2023-11" or meta["date"] is None
        source = docstore.document(meta["doc_id"])
        assert source is not None
        assert source.text[meta["start"] : meta["end"]] == document.page_content
        assert document.id == f"{meta['doc_id']}:{meta['start']}-{meta['end']}"
    assert "30 personnes" in documents[0].page_content
    assert Path(documents[0].metadata["source"]).name == "003_c00ce55952bfa148.txt"


def test_k_defaults_to_the_settings_top_k(assistant: Assistant):
    assert len(RagRetriever(assistant=assistant).invoke(QUESTION)) == assistant.settings.top_k


def test_batch_and_async_give_what_invoke_gives(retriever: RagRetriever):
    one, other = retriever.invoke(QUESTION), retriever.invoke(OTHER)
    assert one != other
    assert retriever.batch([QUESTION, OTHER]) == [one, other]

    async def both() -> tuple[list[Document], list[list[Document]]]:
        return await retriever.ainvoke(QUESTION), await retriever.abatch([OTHER, QUESTION])

    alone, batched = asyncio.run(both())
    assert alone == one
    assert batched == [other, one]


def test_only_relevant_returns_nothing_where_the_assistant_would_abstain(assistant: Assistant):
    nonsense = "xylophone zeppelin quokka"
    assert not assistant.retrieve(nonsense).relevant
    assert RagRetriever(assistant=assistant).invoke(nonsense)  # the closest passages, by default
    assert RagRetriever(assistant=assistant, only_relevant=True).invoke(nonsense) == []
    assert RagRetriever(assistant=assistant, only_relevant=True).invoke(QUESTION)


def test_an_empty_query_is_a_one_line_user_error(retriever: RagRetriever):
    with pytest.raises(UserError, match="The question is empty"):
        retriever.invoke("   ")


def _format(documents: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['rank']}] {d.metadata['title']}\n{d.page_content}" for d in documents)


class _Retrievals(BaseCallbackHandler):
    """Records what each retriever run returned, as LangChain's callbacks see it."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.results: list[list[Document]] = []

    def on_retriever_start(self, serialized: dict[str, Any], query: str, **kwargs: Any) -> None:
        self.queries.append(query)

    def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self.results.append(list(documents))


def test_the_passages_reach_the_chat_model_in_an_lcel_chain(retriever: RagRetriever):
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the passages, citing [n]."), ("human", "{context}\n\nQuestion: {question}")]
    )
    # The parrot answers with the prompt it was given: what the chain put in front of the model.
    chain = {"context": retriever | _format, "question": RunnablePassthrough()} | prompt | ParrotFakeChatModel()
    seen = _Retrievals()
    reply = (chain | StrOutputParser()).invoke(QUESTION, config={"callbacks": [seen]})
    documents = retriever.invoke(QUESTION)
    assert reply.endswith(f"Question: {QUESTION}")
    assert _format(documents) in reply
    assert seen.queries == [QUESTION]
    assert seen.results == [documents]


def test_a_streaming_chat_model_answers_after_the_retriever(retriever: RagRetriever):
    prompt = ChatPromptTemplate.from_messages([("human", "{context}\n\nQuestion: {question}")])
    model = GenericFakeChatModel(messages=iter(["Environ 30 personnes y travaillaient [1]."] * 2))
    chain = {"context": retriever | _format, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
    pieces = list(chain.stream(QUESTION))
    assert len(pieces) > 1  # streamed, not one block
    assert "".join(pieces) == "Environ 30 personnes y travaillaient [1]."
    assert asyncio.run(chain.ainvoke(QUESTION)) == "Environ 30 personnes y travaillaient [1]."
