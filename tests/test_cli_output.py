"""How `rag` prints: quotes not doubled, every option described (fast, no index)."""

from __future__ import annotations

import argparse

from rag.cli import _quoted, build_parser


def test_a_sentence_that_opens_with_its_own_quote_is_not_quoted_twice() -> None:
    assert (
        _quoted("Après un examen attentif, le laboratoire ferme.")
        == "« Après un examen attentif, le laboratoire ferme. »"
    )
    assert _quoted("« Après un examen attentif », a-t-il dit.") == "« Après un examen attentif », a-t-il dit."
    assert _quoted("“We are closing the lab,” he said.") == "“We are closing the lab,” he said."


def test_every_option_of_every_command_says_what_it_does() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                assert action.help, f"rag {name} {action.option_strings[0]} has no help"
