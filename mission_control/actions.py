"""What a person can do to agents, from a key or a command: each action goes
straight to tmux and the processes, and into the action log.
"""

from __future__ import annotations

import os
from pathlib import Path

from mission_control.adapters.store import Store
from mission_control.adapters.tmux import Tmux, TmuxError
from mission_control.core.config import FleetConfig
from mission_control.core.model import AgentSnapshot


class ActionError(Exception):
    """The action could not be done; `str()` says why in one line."""


class FleetActions:
    def __init__(self, config: FleetConfig, actor: str = "cli") -> None:
        self.config = config
        self.actor = actor
        self.tmux = Tmux(config.socket)
        self.store = Store(config.store_path)

    def _log(self, action: str, agent: str | None, detail: str, outcome: str) -> str:
        self.store.log_action(self.actor, action, agent, detail, outcome)
        return outcome

    def inside_fleet_tmux(self) -> bool:
        """Is this process running in a pane of the fleet's own tmux server?"""
        value = os.environ.get("TMUX", "")
        return bool(value) and Path(value.split(",")[0]).name == self.config.socket

    def needs_terminal(self) -> bool:
        return not self.inside_fleet_tmux()

    def zoom(self, agent: AgentSnapshot) -> str:
        """Show the agent's pane: zoom it in place inside the fleet, else attach to it."""
        if not agent.pane_id:
            raise ActionError(f"{agent.name} has no pane")
        try:
            self.tmux.select_pane(agent.pane_id, zoom=self.inside_fleet_tmux())
            if not self.inside_fleet_tmux():
                from mission_control.adapters.run import interactive

                interactive(self.tmux.attach_argv(self.config.session))
        except TmuxError as exc:
            return self._log("zoom", agent.name, "", f"failed: {exc}")
        return self._log("zoom", agent.name, "", f"zoomed to {agent.name} ({agent.pane_id}); prefix+z unzooms")
