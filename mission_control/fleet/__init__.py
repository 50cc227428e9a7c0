"""The fleet services: what `up`, `down`, the supervisor and the actions do, built on the adapters.

One layer between the viewers (cli, ui) and the adapters: `bringup` (up), `panes` (starting an
agent's pane, for up, spawn, restart and inject alike), `supervisor` (the only poller), `actions`
(the human's hands), `teardown` (down), `status_report`, `diagnose`, `hooks`, `locate` (finding the
fleet a command is about) and `preflight` (what `check` and `up` verify before anything starts).
"""
