"""The chat (Gradio, through gradio_client) and the OpenAI-compatible API on the Milvus store.

Each runs over a Milvus Lite index of the seeds (fake embedder) and must answer as the
file store does over the same files.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from openai import OpenAI

from rag.answering.service import Assistant
from rag.embedders.fake import HashingEmbedder
from rag.indexing.indexer import index_paths
from rag.integrations.passages import sources_json
from rag.settings import Settings
from tests.api_server import running_api
from tests.helpers import SEEDS
from tests.milvus_helpers import milvus_settings, read_corpus, release
from tests.ui_server import ALIBABA, running_app

LORIENT = "Le festival de Lorient a accueilli 850 000 visiteurs en 2024."


def seeds_index(root: Path, settings: Settings) -> Settings:
    corpus = root / "articles"
    shutil.copytree(SEEDS, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.md"), dirs_exist_ok=True)
    index_paths([corpus], settings, HashingEmbedder())
    return settings


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = seeds_index(tmp_path, milvus_settings(tmp_path / "index", data_dir=tmp_path / "data"))
    try:
        with running_app(settings, HashingEmbedder()) as url:
            yield url, settings
    finally:
        release(settings)


def test_the_chat_on_milvus_indexes_an_upload_and_cites_it(app: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = app
    article = tmp_path / "festival-lorient.md"
    article.write_text(f"# Festival interceltique de Lorient\n\n{LORIENT}\n", encoding="utf-8")
    results, table, *_ = Client(url, verbose=False).predict([handle_file(str(article))], api_name="/upload")
    assert "festival-lorient.md</span> — indexed" in results and "Festival interceltique de Lorient" in table
    chat, sources, _box = Client(url, verbose=False).predict(
        "Combien de visiteurs le festival de Lorient a-t-il accueillis en 2024 ?", api_name="/ask"
    )
    answer = re.sub(r"<[^>]+>", "", chat[-1]["content"][0]["text"])
    assert "850 000" in answer and "festival-lorient.md" in sources and "<mark" in sources
    titles = {Path(w.paths[0]).name for w in read_corpus(settings).values()}  # in the Milvus store itself
    assert "festival-lorient.md" in titles and len(titles) == 3


def test_the_api_on_milvus_answers_as_the_file_store(tmp_path: Path) -> None:
    files = seeds_index(tmp_path, Settings(index_dir=tmp_path / "files", embedding_backend="fake"))
    expected = Assistant(files, embedder=HashingEmbedder()).ask(ALIBABA)
    milvus = seeds_index(tmp_path, milvus_settings(tmp_path / "milvus"))
    release(milvus)
    with running_api(milvus.index_dir, RAG_STORE_BACKEND="milvus") as url:
        api = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        completion = api.chat.completions.create(model="rag", messages=[{"role": "user", "content": ALIBABA}])
        streamed = api.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": ALIBABA}], stream=True
        )
        chunks = list(streamed)
    message = completion.choices[0].message
    assert message.content == expected.text and "30 personnes" in expected.text
    assert (message.model_extra or {})["sources"] == sources_json(expected)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected.text
