"""The driver of a dashboard in a browser tab (`mission-control web` names it in each tab's command).

Textual's `WebDriver` talks to textual-serve over the process's stdin and stdout; when the server
is gone without telling the tab to quit (killed with SIGKILL, crashed), stdin ends and the
WebDriver's input thread stops, but the app runs on, an orphan redrawing for nobody. This one
quits the app when its input ends, for whatever reason.
"""

from __future__ import annotations

from textual import messages
from textual.drivers.web_driver import WebDriver

__all__ = ["TabDriver"]


class TabDriver(WebDriver):
    """`WebDriver`, quitting the app once the server's input ends."""

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        finally:  # after a `quit` from the server the app is closing already: the message is dropped
            self._app.post_message(messages.ExitApp())
