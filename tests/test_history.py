"""Conversations kept in the browser: what is stored, and that what comes back is treated as untrusted (fast)."""

from __future__ import annotations

import re

from ui.chat import Conversation, Exchange
from ui.history import MAX_CONVERSATIONS, choices, forget, remember, restore

HOSTILE = '<img src=x onerror="window.__xss=1"><script>alert(1)</script>'


def conversation(question: str = "Quel laboratoire ?", text: str = "Le laboratoire quantique [1].") -> Conversation:
    talk = Conversation()
    talk.exchanges.append(Exchange(question, "Quel laboratoire Alibaba ?", "Le laboratoire quantique.", text=text))
    return talk


def test_only_plain_text_is_kept_latest_first_and_empty_chats_are_not() -> None:
    first, second = conversation("Première ?"), conversation("Seconde ?")
    saved = remember(second, remember(first, []))
    assert [title for title, _ in choices(saved)] == ["Seconde ?", "Première ?"]
    assert set(saved[0]) == {"id", "title", "exchanges"}
    assert saved[0]["exchanges"][0] == {
        "question": "Seconde ?",
        "resolved": "Quel laboratoire Alibaba ?",
        "said": "Le laboratoire quantique.",
        "text": "Le laboratoire quantique [1].",
    }
    assert remember(Conversation(), saved) == saved
    assert [e["id"] for e in forget(first.id, saved)] == [second.id]
    many: list = []
    for n in range(MAX_CONVERSATIONS + 5):
        many = remember(conversation(f"Q{n} ?"), many)
    assert len(many) == MAX_CONVERSATIONS and many[0]["title"] == f"Q{MAX_CONVERSATIONS + 4} ?"


def test_a_reopened_conversation_is_escaped_text_and_follow_ups_know_its_history() -> None:
    saved = remember(conversation(HOSTILE, HOSTILE), [])
    found = restore(saved[0]["id"], saved)
    assert found is not None
    reopened, _panel = found
    assert reopened.id == saved[0]["id"] and reopened.history() == [
        ("Quel laboratoire Alibaba ?", "Le laboratoire quantique.")
    ]
    for message in reopened.messages:
        assert not re.search(r"<\s*(img|script)", message["content"], re.IGNORECASE)
    assert "&lt;script&gt;" in reopened.messages[1]["content"]


def test_whatever_the_browser_sends_back_is_reduced_to_well_formed_entries() -> None:
    assert choices("not a list") == [] and choices([1, None, {"id": 3}]) == []
    tampered = [{"id": "x", "title": 7, "exchanges": [5, {"question": ["no"]}, {"question": "Ok ?", "text": 9}]}]
    assert choices(tampered) == [("Untitled", "x")]
    found = restore("x", tampered)
    assert found is not None and [e.question for e in found[0].exchanges] == ["Ok ?"]
    assert restore("missing", tampered) is None
