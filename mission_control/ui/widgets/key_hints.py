"""The footer's key hints, fitted to the width: only whole hints, never one cut in the middle
(issue 14: readable on an 80x24 terminal's split). Where all do not fit, they are drawn tighter,
then with short descriptions, then the last ones are left out — `? Help` always stays, and
lists them all."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from mission_control.core.keys import ACTIONS, DIFF_ACTIONS, TASK_ACTIONS

SHORT = {a.action: a.short for a in (*ACTIONS, *TASK_ACTIONS, *DIFF_ACTIONS) if a.short}
"""Short descriptions for narrow footers, by action (from the action tables, `core/keys.py`)."""
KEEP = ("help",)
"""Actions never left out."""
PALETTE_WIDTH = 13
"""The command palette's hint (`^p palette` and its border), shown only when every other hint fits beside it untightened."""


@dataclass(frozen=True)
class Hint:
    id: str
    """The binding's action."""
    key: str
    """The key as shown (after the keymap)."""
    description: str


def hint_width(hint: Hint, compact: bool) -> int:
    """Cells a hint takes in the footer: ` k desc ` normally, `k desc` and a margin when compact."""
    return len(hint.key) + len(hint.description) + (2 if compact else 3)


def fit_hints(hints: list[Hint], width: int) -> tuple[bool, list[Hint]]:
    """(compact, the hints shown) for a footer `width` cells wide: all of them in the first style
    they fit in — normal, compact, compact with short descriptions — else the short ones with the
    last left out until they fit (those in KEEP stay)."""
    short = [Hint(h.id, h.key, SHORT.get(h.id, h.description)) for h in hints]
    for compact, shown in ((False, hints), (True, hints), (True, short)):
        if sum(hint_width(h, compact) for h in shown) <= width:
            return compact, shown
    shown = list(short)
    while shown and sum(hint_width(h, True) for h in shown) > width:
        drop = next((i for i in range(len(shown) - 1, -1, -1) if shown[i].id not in KEEP), None)
        if drop is None:
            break
        del shown[drop]
    return True, shown


class KeyHints(Footer):
    """Textual's footer, keeping of the keys it would show those that fit its width (composed
    again when the width changes)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._width = 0

    def compose(self) -> ComposeResult:
        self._width = width = self.size.width or self.app.size.width
        keys = [k for k in super().compose() if isinstance(k, FooterKey)]
        palette = [k for k in keys if k.has_class("-command-palette")]
        keys = [k for k in keys if k not in palette]
        compact, shown = fit_hints([Hint(k.action, k.key_display, k.description) for k in keys], width)
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        described = {h.id: h.description for h in shown}
        for key in keys:
            if key.action in described:
                key.description = described[key.action]
                key.compact = compact
                yield key
        if not compact and sum(hint_width(h, False) for h in shown) + PALETTE_WIDTH <= width:
            yield from palette

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
