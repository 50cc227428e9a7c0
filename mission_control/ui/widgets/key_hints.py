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

SHORT = {
    "next_attention": "Next",
    "pause": "Pause",
    "inject": "Env",
    "send": "Send",
    "reassign": "Move",
}
"""Short descriptions for narrow footers, by binding id."""
KEEP = ("help",)
"""Binding ids never left out."""
PALETTE_WIDTH = 13
"""The command palette's hint (`^p palette` and its border), shown only when every other hint fits beside it untightened."""


@dataclass(frozen=True)
class Hint:
    id: str
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
    """Textual's footer, showing the hints that fit its width (composed again when it changes)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(show_command_palette=False, **kwargs)  # type: ignore[arg-type]
        self._width = 0

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        self._width = width = self.size.width or self.app.size.width
        bindings = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in bindings:
                bindings[binding.action] = (binding, enabled, tooltip)
        hints = {b.action: Hint(b.id or b.action, self.app.get_key_display(b), b.description) for b, _, _ in bindings.values()}
        compact, shown = fit_hints(list(hints.values()), width)
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        described = {h.id: h.description for h in shown}
        for action, (binding, enabled, tooltip) in bindings.items():
            hint = hints[action]
            if hint.id in described:
                yield FooterKey(binding.key, hint.key, described[hint.id], binding.action, disabled=not enabled,
                                tooltip=tooltip).data_bind(compact=Footer.compact)
        used = sum(hint_width(h, compact) for h in shown)
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING) if self.app.ENABLE_COMMAND_PALETTE else None
        if palette is not None and not compact and used + PALETTE_WIDTH <= width:
            _, binding, enabled, tooltip = palette
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled, tooltip=binding.tooltip or binding.description)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width and self._bindings_ready:
            self.call_after_refresh(self.recompose)
