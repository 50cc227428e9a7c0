"""Any other program: its `command` is required, its task reaches it only as
`$MISSION_CONTROL_TASK`, its spend only through the agent's `tokens` regexes."""

from __future__ import annotations

from mission_control.core.kinds import KindSpec

SPEC = KindSpec("shell", None, "env")
