"""Bindings and help rows built from an action table (`core/keys.py`): the fleet view's, the
Tasks view's and the diff view's keys are each written once, as data."""

from __future__ import annotations

from typing import Iterable

from textual.binding import Binding
from textual.widgets import Input, TextArea
from textual.dom import DOMNode

from mission_control.core.keys import KeyAction


def bindings_of(actions: Iterable[KeyAction]) -> list[Binding]:
    """A BINDINGS list: each action's key(s), shown in the footer where the table says so."""
    return [Binding(a.key, a.action, a.description, id=a.id, show=a.footer, tooltip=a.note, priority=a.opens_field)
            for a in actions]


def field_opener_allowed(node: DOMNode, action: str, actions: Iterable[KeyAction]) -> bool:
    """May a key that opens a text field (`KeyAction.opens_field`, a priority binding: seen before
    any widget) act now? Not while a text field has the focus (the key is text there) nor while
    another screen is on top (its keys are its own)."""
    if not any(a.opens_field and a.action == action for a in actions):
        return True
    return len(node.app.screen_stack) == 1 and not isinstance(node.app.focused, (Input, TextArea))


def help_rows(node: DOMNode, actions: Iterable[KeyAction], groups: Iterable[str]) -> list[tuple[str, str, str]]:
    """(help group, key as bound now, what it does) of each of `actions` bound on `node`, by group:
    the keys in force (`[keys]` applied), not the table's defaults."""
    keys: dict[str, list[str]] = {}
    for active in node.screen.active_bindings.values():
        if active.node is node and active.binding.id:
            keys.setdefault(active.binding.id, []).append(node.app.get_key_display(active.binding))
    actions = list(actions)
    return [(a.group, ", ".join(keys[a.id]), a.description + (f" ({a.note})" if a.note else ""))
            for group in groups for a in actions if a.group == group and a.id in keys]
