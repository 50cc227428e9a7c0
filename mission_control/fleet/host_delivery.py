"""Handing queued text to the agents of other hosts (issue 22 point 4): a task this fleet's board
gives to a pulling agent on another host, a change request sent back to one, is queued here like
any other (`deliveries`); the supervisor then hands it to that host's own fleet, whose supervisor
types it when the agent sits at its prompt (with its pane mark: never twice there).

The handover runs off the supervisor's tick (a slow or cut link must not stall it), one at a time
per agent, over the host's action channel (`run_on_host`); the text travels on ssh's stdin, under
a key made of this fleet's session and the delivery's id and time, so a handover repeated after a
cut link or a supervisor restart is queued there once (`send --queue-as`). Only when the host said
yes is it marked delivered here; a refusal is said once in the supervisor's window and tried again
later.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

from mission_control.core.config import FleetConfig
from mission_control.core.errors import MissionControlError

RETRY_AFTER = 10.0
"""Seconds before a handover the host refused (or could not be asked) is tried again."""


@dataclass(frozen=True)
class Handed:
    """A handover that ended: the delivery's row, and the host's word on it."""

    item: dict[str, Any]
    host: str
    ok: bool
    message: str


def handover_key(config: FleetConfig, item: dict[str, Any]) -> str:
    """The key a delivery is queued under on the other host: its purpose, this fleet and the row
    (its id and time: ids start again after `up --fresh`)."""
    return f"{item['purpose']}:{config.session}#{item['id']}.{int(float(item['created_at']) * 1000)}"


class HostDelivery:
    """The handovers in flight, and those that ended (read by the supervisor each tick)."""

    def __init__(self, config: FleetConfig, runner: Callable[..., Any] | None = None) -> None:
        self.config = config
        self._runner = runner
        self.in_flight: set[int] = set()
        """Delivery ids being handed over now."""
        self.not_before: dict[int, float] = {}
        """Delivery id -> when a refused handover may be tried again."""
        self.ended: queue.SimpleQueue[Handed] = queue.SimpleQueue()

    def busy(self, agent: str, pending: list[dict[str, Any]]) -> bool:
        """A text for `agent` is on its way (its texts are handed over in order, one at a time)."""
        return any(item["agent"] == agent and item["id"] in self.in_flight for item in pending)

    def hand_over(self, item: dict[str, Any], host_name: str, now: float) -> bool:
        """Start handing `item` to `host_name` (False: in flight, or refused a moment ago)."""
        if item["id"] in self.in_flight or now < self.not_before.get(item["id"], 0.0):
            return False
        self.in_flight.add(item["id"])
        threading.Thread(target=self._run, args=(item, host_name), name=f"handover-{item['id']}", daemon=True).start()
        return True

    def _run(self, item: dict[str, Any], host_name: str) -> None:
        from mission_control.fleet.remote_actions import host_named, run_on_host

        runner = self._runner or run_on_host
        try:
            host = host_named(self.config, host_name)
            r = runner(self.config, host, ["send", item["agent"], "--queue-as", handover_key(self.config, item)],
                       stdin=item["text"], actor="supervisor", log=False)  # the supervisor logs the handover itself
            lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
            said = lines[-1].removeprefix("mission-control: ") if lines else f"exit status {r.code}"
            self.ended.put(Handed(item, host_name, r.code == 0, said))
        except (MissionControlError, OSError, StopIteration) as exc:
            self.ended.put(Handed(item, host_name, False, str(exc) or type(exc).__name__))

    def finished(self, now: float) -> list[Handed]:
        """The handovers that ended since the last call (a refused one may be tried again after RETRY_AFTER)."""
        out = []
        while True:
            try:
                done = self.ended.get_nowait()
            except queue.Empty:
                return out
            self.in_flight.discard(done.item["id"])
            if not done.ok:
                self.not_before[done.item["id"]] = now + RETRY_AFTER
            else:
                self.not_before.pop(done.item["id"], None)
            out.append(done)
