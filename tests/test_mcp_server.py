"""``rag mcp`` end to end: the real process on stdio, driven by the MCP SDK's own client."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult, TextResourceContents

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.catalog import list_documents
from rag.settings import Settings
from tests.helpers import ROOT, index_seeds

QUESTION = "Combien de personnes travaillaient dans le laboratoire quantique d’Alibaba ?"
UNANSWERABLE = "xylophone zeppelin quokka"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return index_seeds(tmp_path_factory.mktemp("mcp"))[1]


@asynccontextmanager
async def _session(index_dir: Path) -> AsyncIterator[ClientSession]:
    """A client session with a freshly started ``rag mcp`` (fake embedder, the test's index)."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rag.cli", "mcp", "--index", str(index_dir)],
        # Merged over the SDK's short list of inherited variables (PATH, HOME...).
        env={"RAG_EMBEDDING_BACKEND": "fake", "PYTHONPATH": str(ROOT)},
        cwd=str(ROOT),
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _run(index_dir: Path, scenario: Callable[[ClientSession], Awaitable[None]]) -> None:
    async def main() -> None:
        with anyio.fail_after(60):
            async with _session(index_dir) as session:
                await scenario(session)

    anyio.run(main)


def _payload(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    # The same object as text, for clients that read only the text content.
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    return result.structured_content


def _without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


def test_tools_and_resources_over_stdio(settings: Settings):
    local = Assistant(settings, embedder=HashingEmbedder())
    expected_answer = local.ask(QUESTION)
    expected_hits = local.retrieve(QUESTION, 3).hits
    documents = list_documents(settings)

    async def scenario(session: ClientSession) -> None:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == {"search_documents", "ask", "list_documents"}
        assert set(tools["search_documents"].input_schema["properties"]) == {"query", "k"}
        assert tools["search_documents"].input_schema["required"] == ["query"]
        assert tools["ask"].input_schema["required"] == ["question"]

        found = _payload(await session.call_tool("search_documents", {"query": QUESTION, "k": 3}))
        assert found["relevant"] is True
        passages = found["passages"]
        assert [(p["rank"], p["source"], p["start"], p["end"]) for p in passages] == [
            (rank, h.source, h.chunk.start, h.chunk.end) for rank, h in enumerate(expected_hits, 1)
        ]
        assert [p["score"] for p in passages] == [round(h.score, 4) for h in expected_hits]
        assert [p["text"] for p in passages] == [h.chunk.text for h in expected_hits]
        assert {"title", "date", "page", "relevance", "lexical_rank", "dense_rank", "doc_id"} <= set(passages[0])

        answered = _payload(await session.call_tool("ask", {"question": QUESTION}))
        expected = expected_answer.to_json()
        assert _without_timings(answered) | {"citations": None, "closest": None} == _without_timings(expected) | {
            "citations": None,
            "closest": None,
        }
        assert "30 personnes" in answered["answer"] and "[1]" in answered["answer"]
        assert answered["closest"] == []
        for cited, citation in zip(answered["citations"], expected["citations"], strict=True):
            assert cited == {**citation, "date": "2023-11"}

        abstained = _payload(await session.call_tool("ask", {"question": UNANSWERABLE}))
        assert abstained["abstained"] is True and abstained["citations"] == []
        assert len(abstained["closest"]) == 3
        assert {"n", "source", "title", "start", "end", "text"} <= set(abstained["closest"][0])

        listed = _payload(await session.call_tool("list_documents", {}))["documents"]
        assert [(d["doc_id"], d["title"], d["path"], d["chunks"]) for d in listed] == [
            (d.doc_id, d.title, d.path, d.chunks) for d in documents
        ]

        resources = (await session.list_resources()).resources
        assert sorted(r.uri for r in resources) == sorted(d["uri"] for d in listed)
        assert {r.title for r in resources} == {d.title for d in documents}
        templates = (await session.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["rag://documents/{doc_id}"]

        # The resource's text is the one the offsets refer to.
        top = passages[0]
        contents = (await session.read_resource(f"rag://documents/{top['doc_id']}")).contents
        assert isinstance(contents[0], TextResourceContents)
        assert contents[0].text[top["start"] : top["end"]] == top["text"]
        citation = answered["citations"][0]
        source = next(d for d in listed if d["path"] == citation["source"] or citation["source"] in d["paths"])
        text = (await session.read_resource(source["uri"])).contents[0]
        assert isinstance(text, TextResourceContents)
        assert text.text[citation["start"] : citation["end"]] == citation["text"]

    _run(settings.index_dir, scenario)


def test_mistakes_get_one_line_errors_and_the_server_keeps_serving(settings: Settings):
    mistakes: list[tuple[str, dict[str, Any], str]] = [
        ("ask", {"question": "   "}, "The question is empty"),
        ("search_documents", {"query": ""}, "The question is empty"),
        ("search_documents", {"query": QUESTION, "k": 0}, "k: Input should be greater than or equal to 1"),
        ("search_documents", {"query": QUESTION, "k": 10_000}, "k: Input should be less than or equal to 50"),
        ("search_documents", {"query": 42}, "query: Input should be a valid string"),
        ("ask", {}, "question: Field required"),
        ("no_such_tool", {}, "Unknown tool"),
    ]

    async def scenario(session: ClientSession) -> None:
        for tool, arguments, said in mistakes:
            result = await session.call_tool(tool, arguments)
            assert result.is_error, (tool, arguments)
            message = result.content[0].text  # type: ignore[union-attr]
            assert said in message and "\n" not in message, message
        with pytest.raises(Exception, match="No indexed document"):
            await session.read_resource("rag://documents/0123456789abcdef0123456789abcdef")
        # Still serving after all of them.
        assert _payload(await session.call_tool("search_documents", {"query": QUESTION, "k": 1}))["passages"]

    _run(settings.index_dir, scenario)


def test_without_an_index_the_tools_say_so_in_one_line(tmp_path: Path):
    async def scenario(session: ClientSession) -> None:
        calls: list[tuple[str, dict[str, Any]]] = [("ask", {"question": QUESTION}), ("list_documents", {})]
        for tool, arguments in calls:
            result = await session.call_tool(tool, arguments)
            assert result.is_error
            message = result.content[0].text  # type: ignore[union-attr]
            assert "rag index" in message and "\n" not in message, message
        assert (await session.list_resources()).resources == []

    _run(tmp_path / "nothing-here", scenario)
