"""Bindings and help rows built from an action table (`core/keys.py`): the fleet view's, the
Tasks view's and the diff view's keys are each written once, as data."""

from __future__ import annotations

from typing import Iterable

from textual.binding import Binding
from textual.dom import DOMNode

from mission_control.core.keys import KeyAction


def bindings_of(actions: Iterable[KeyAction]) -> list[Binding]:
    """A BINDINGS list: each action's key(s), shown in the footer where the table says so."""
    return [Binding(a.key, a.action, a.description, id=a.id, show=a.footer, tooltip=a.note) for a in actions]


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
