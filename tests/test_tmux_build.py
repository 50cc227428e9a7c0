"""The cold tmux paths through libtmux (building, options, respawn, kill) on a throwaway socket:
argv only, every argument back from tmux byte for byte (a final `;` included), one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import retry_until
from mission_control.adapters.tmux import Tmux, TmuxError

pytestmark = pytest.mark.tmux

HOSTILE = ["ends;", "a\\;", "$(touch pwned) `id` 'q' \"d\"", "#{pane_id} #(touch pwned2)", "spaces  and\ttab"]


def _show(tmux: Tmux, pane: str) -> str:
    return tmux.cmd("capture-pane", "-p", "-J", "-t", pane)


def test_build_keeps_every_value_as_given(tmux_socket: str, tmp_path: Path) -> None:
    tmux = Tmux(tmux_socket)
    printer = [sys.executable, "-c", "import os, sys; print(repr([*sys.argv[1:], os.environ.get('V')])); "
                                     "import time; time.sleep(60)"]
    env = {"V": "v;"}
    first = tmux.new_session("s", "w;", [*printer, *HOSTILE], cwd=str(tmp_path), env=env, width=200, height=50)
    want = repr([*HOSTILE, "v;"])
    retry_until(lambda: want in _show(tmux, first))
    second = tmux.split(first, [*printer, "split;"], cwd=str(tmp_path), env={"V": "x;"})
    retry_until(lambda: repr(["split;", "x;"]) in _show(tmux, second))
    third = tmux.new_window("s", "win;", [*printer, "win;"], cwd=str(tmp_path), env={"V": "$(id);"})
    retry_until(lambda: repr(["win;", "$(id);"]) in _show(tmux, third))
    tmux.respawn(third, [*printer, "again;"], cwd=str(tmp_path), env={"V": "r;"})
    retry_until(lambda: repr(["again;", "r;"]) in _show(tmux, third))
    tmux.set_option(first, "@mc_agent", "name;", scope="-p")
    assert tmux.cmd("show-options", "-p", "-v", "-t", first, "@mc_agent").strip() == "name;"
    # several commands in one tmux process: only the bare `;` between them separates
    fourth = tmux.split(first, [*printer, "chained;"], cwd=str(tmp_path), env={"V": ";"}, relayout="tiled")
    retry_until(lambda: repr(["chained;", ";"]) in _show(tmux, fourth))
    tmux.build_chain(["set-option", "-p", "-t", fourth, "@a", ";"], ["set-option", "-p", "-t", fourth, "@b", "x; y;"])
    assert [tmux.cmd("show-options", "-p", "-v", "-t", fourth, o).strip() for o in ("@a", "@b")] == [";", "x; y;"]
    with pytest.raises(TmuxError) as err:
        tmux.build_chain(["set-option", "-p", "-t", "%999", "@a", "1"], ["set-option", "-p", "-t", fourth, "@a", "2"])
    assert "\n" not in str(err.value) and "set-option" in str(err.value)
    assert tmux.cmd("show-options", "-p", "-v", "-t", fourth, "@a").strip() == ";"  # stopped at the first failure
    tmux.kill_pane(fourth)
    assert [name for _, name, _ in tmux.windows("s")] == ["w;", "win;"]
    assert not list(tmp_path.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))

    tmux.kill_pane(second)
    assert second not in {p.pane_id for p in tmux.list_panes()}
    with pytest.raises(TmuxError) as err:
        tmux.kill_pane(second)
    assert "\n" not in str(err.value) and "kill-pane" in str(err.value)
    with pytest.raises(TmuxError):
        tmux.split("%999", ["true"], cwd=str(tmp_path), env={})
    tmux.kill_session("s")
    assert not tmux.has_session("s")
    tmux.kill_server()
    tmux.kill_server()  # a server that is not running: nothing to do, no error
    assert not tmux.server_running()


def test_cold_paths_work_where_stdout_has_no_encoding(tmux_socket: str) -> None:
    """In the dashboard, Textual replaces sys.stdout with a print capture that has no `encoding`;
    libtmux read it on import, so every action that respawned a pane (inject, restart) failed there."""
    code = (
        "import sys\n"
        "class Capture:\n"
        "    def write(self, text): return len(text)\n"
        "    def flush(self): pass\n"
        "sys.stdout = Capture()\n"
        "from mission_control.adapters.tmux import Tmux\n"
        f"tmux = Tmux({tmux_socket!r})\n"
        "pane = tmux.new_session('s', 'w', ['sleep', '600'], cwd='/', env={}, width=80, height=10)\n"
        "tmux.respawn(pane, ['sleep', '601'], cwd='/', env={})\n"
        "tmux.kill_pane(pane)\n"
        "sys.stderr.write('done ' + pane)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.startswith("done %"), r.stderr
