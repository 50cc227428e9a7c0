"""Hostile lifecycle: failed actions change nothing, secrets stay out of the store, one fleet per
config, `down` leaves nothing, exit codes are kept (issue 16, items 1, 4, 7, 8, 11).

Real tmux on throwaway sockets, real processes, real SQLite files. Each test reproduces a failure
seen on the landed main."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from helpers import gone, pane_of, pane_text, retry_until, rows, run_cli, shell_agent, up
from mission_control.adapters.store import Store

pytestmark = pytest.mark.tmux

TICKER = "while true; do echo tick; sleep 1; done"


def env_listing(cli, cfg: Path, agent: str) -> str:
    r = run_cli(cli, cfg, "env", agent)
    assert r.returncode == 0, r.stderr
    return r.stdout


# -- item 1: one failed inject changes nothing ------------------------------------------------


def test_a_megabyte_inject_never_makes_the_fleet_unstartable(cli, tmp_path: Path) -> None:
    """On main a 1 MB value failed (`E2BIG`) yet was kept: restart and up failed from then on."""
    cfg = up(cli, tmp_path, shell_agent("a1", 'echo "big=${#BIGVAL}"; ' + TICKER))
    big = "Q" * 1_000_000
    r = run_cli(cli, cfg, "inject", "a1", stdin=f"BIGVAL={big}\n")
    assert "Traceback" not in r.stderr and big[:1000] not in r.stdout + r.stderr
    listed = env_listing(cli, cfg, "a1")
    if r.returncode == 0:  # values of any size reach the agent...
        assert "BIGVAL=" in listed
        retry_until(lambda: "big=1000000" in pane_text(cli, "a1", joined=True))
    else:  # ...or the failed inject left nothing behind
        assert r.stderr.count("\n") == 1 and "nothing changed" in r.stderr
        assert "BIGVAL" not in listed and "no variables injected into a1" in listed
    # either way the fleet goes on: restart, down and up work
    r = run_cli(cli, cfg, "restart", "a1")
    assert r.returncode == 0, r.stderr
    assert run_cli(cli, cfg, "down").returncode == 0
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr


def test_a_failed_respawn_puts_the_overlay_and_dotenv_back(cli, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text("KEEP=1\n")
    os.chmod(work / ".env", 0o640)
    cfg = up(cli, tmp_path, shell_agent("a1", TICKER, f'cwd = "{work}"\n'))
    assert run_cli(cli, cfg, "inject", "a1", stdin="FIRST=one-value-kept\n").returncode == 0
    cli.tmux("kill-pane", "-t", pane_of(cli, "a1"))  # its respawn now fails: the pane is gone
    r = run_cli(cli, cfg, "inject", "a1", "--dotenv", stdin="FIRST=replaced\nSECOND=new-value\n")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "nothing changed" in r.stderr, r.stderr
    listed = env_listing(cli, cfg, "a1")
    assert listed.startswith("FIRST=") and "SECOND" not in listed
    assert json.loads((tmp_path / ".mission-control" / "agents" / "a1" / "env").read_text()) == {"FIRST": "one-value-kept"}
    assert (work / ".env").read_text() == "KEEP=1\n"
    assert stat.S_IMODE(os.stat(work / ".env").st_mode) == 0o640


def test_env_lists_masked_names_and_unsets_them(cli, tmp_path: Path) -> None:
    secret = "sk-live-0123456789abcdef"
    cfg = up(cli, tmp_path, shell_agent("a1", 'echo "token=$API_TOKEN"; ' + TICKER))
    assert run_cli(cli, cfg, "inject", "a1", stdin=f"API_TOKEN={secret}\nNOTE=x\n").returncode == 0
    retry_until(lambda: f"token={secret}" in pane_text(cli, "a1", joined=True))
    listed = env_listing(cli, cfg, "a1")
    assert [line.split("=")[0] for line in listed.splitlines()] == ["API_TOKEN", "NOTE"]
    assert secret not in listed and secret[4:] not in listed and "(24 chars)" in listed
    # a name that is not injected: one line, exit 1, nothing removed
    r = run_cli(cli, cfg, "env", "a1", "--unset", "NOTE", "--unset", "NOPE")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "NOPE is not injected into a1" in r.stderr
    r = run_cli(cli, cfg, "env", "a1", "--unset", "1BAD")
    assert r.returncode == 2 and "'1BAD' is not a valid environment variable name" in r.stderr  # usage: 2
    assert "NOTE" in env_listing(cli, cfg, "a1")
    escape = "\x1b]0;OWNED\x07\x1b[2J-and-more"
    assert run_cli(cli, cfg, "inject", "a1", stdin=f"ESC={escape}\n").returncode == 0
    shown = env_listing(cli, cfg, "a1") + run_cli(cli, cfg, "log").stdout
    assert "ESC=…(masked) (23 chars)" in shown and "\x1b" not in shown and "OWNED" not in shown
    assert run_cli(cli, cfg, "env", "a1", "--unset", "ESC").returncode == 0
    r = run_cli(cli, cfg, "env", "nobody")
    assert r.returncode == 1 and "no agent named 'nobody'" in r.stderr
    # with the fleet down, the variables can still be seen and removed
    assert run_cli(cli, cfg, "down").returncode == 0
    r = run_cli(cli, cfg, "env", "a1", "--unset", "API_TOKEN")
    assert r.returncode == 0 and "removed API_TOKEN" in r.stdout
    assert env_listing(cli, cfg, "a1").startswith("NOTE=")
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: "token=\n" in pane_text(cli, "a1", joined=True) + "\n")
    log = run_cli(cli, cfg, "log").stdout
    assert "unset env" in log and secret not in log


def test_concurrent_injects_into_one_agent_all_land(cli, tmp_path: Path) -> None:
    """Each inject changes the agent's variables and respawns it under the agent's env lock: none is
    lost to another's read-modify-write or undone by another's rollback, and the last run has all."""
    import subprocess

    cfg = up(cli, tmp_path, shell_agent("a1", 'echo "vars=$V1,$V2,$V3"; ' + TICKER))
    procs = [subprocess.Popen([sys.executable, "-m", "mission_control", "inject", "a1", "-c", str(cfg)],
                              cwd=tmp_path, env=cli.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for i, p in enumerate(procs, 1):
        p.stdin.write(f"V{i}=value-{i}\n")  # type: ignore[union-attr]
        p.stdin.close()  # type: ignore[union-attr]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0], [p.stderr.read() for p in procs]  # type: ignore[union-attr]
    assert sorted(line.split("=")[0] for line in env_listing(cli, cfg, "a1").splitlines()) == ["V1", "V2", "V3"]
    retry_until(lambda: "vars=value-1,value-2,value-3" in pane_text(cli, "a1", joined=True))


async def test_the_inject_dialog_lists_and_removes_injected_variables() -> None:
    from test_dashboard import RecordingActions, acting_app

    actions = RecordingActions()
    actions.injected = {"OLD_TOKEN": "abcd…(masked) (20 chars)", "NOTE": "…(masked) (3 chars)"}
    app = acting_app(actions)
    async with app.run_test(size=(170, 42)) as pilot:
        await pilot.pause()
        await pilot.press("n")  # the STUCK notifier: the dialog offers NOTIFICATION_KEY
        await pilot.press("e")
        await pilot.pause()
        text = "\n".join(str(w.render()) for w in app.screen.query("Checkbox"))
        assert "remove OLD_TOKEN=abcd…(masked) (20 chars)" in text
        await pilot.click("#unset-OLD_TOKEN")
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
    assert [c[:2] for c in actions.calls] == [("injected_env", ("notifier",)), ("unset_env", ("notifier", ["OLD_TOKEN"]))]


# -- item 4 (store part): no secret in the state store -------------------------------------------


def _store_bytes(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state.glob("state.db*")))


def test_injected_and_configured_values_never_reach_the_state_store(cli, tmp_path: Path) -> None:
    secret, configured = "s3cr3t-" + os.urandom(8).hex(), "c0nf-" + os.urandom(8).hex()
    got = tmp_path / "got"  # the agent does not print them: its screen is stored, as it should be
    cfg = up(cli, tmp_path, shell_agent("a1", f'printf %s "$SECRET:$CONFIGURED" > {got}; ' + TICKER,
                                           f'env = {{ CONFIGURED = "{configured}" }}\n'))
    assert run_cli(cli, cfg, "inject", "a1", stdin=f"SECRET={secret}\n").returncode == 0
    retry_until(lambda: got.exists() and got.read_text() == f"{secret}:{configured}")
    state = tmp_path / ".mission-control"
    retry_until(lambda: (state / "state.db-wal").exists())
    assert secret.encode() not in _store_bytes(state) and configured.encode() not in _store_bytes(state)
    for name in ("env", "spec-env"):
        path = state / "agents" / "a1" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "agents" / "a1").stat().st_mode) == 0o700
    assert not [p for p in (state / "agents" / "a1").iterdir() if p.name.endswith(".tmp")]
    # restarted, and brought back after a crash, it has both, still not from the store
    got.unlink()
    assert run_cli(cli, cfg, "restart", "a1").returncode == 0
    retry_until(lambda: got.exists() and got.read_text() == f"{secret}:{configured}")
    cli.tmux("kill-server")
    got.unlink()
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    retry_until(lambda: got.exists() and got.read_text() == f"{secret}:{configured}")
    assert secret.encode() not in _store_bytes(state) and configured.encode() not in _store_bytes(state)


def test_an_agent_printing_its_injected_value_leaves_it_masked_in_the_store(cli, tmp_path: Path) -> None:
    secret = "pr1nted-" + os.urandom(8).hex()
    cfg = up(cli, tmp_path, shell_agent("a1", 'echo "debug: key is $SECRET"; ' + TICKER))
    assert run_cli(cli, cfg, "inject", "a1", stdin=f"SECRET={secret}\n").returncode == 0
    retry_until(lambda: secret in pane_text(cli, "a1", joined=True))  # on its screen, where you see it
    state = tmp_path / ".mission-control"
    retry_until(lambda: "debug: key is pr1n…(masked)" in Store(state / "state.db").pane_tail("a1"))
    assert secret.encode() not in _store_bytes(state)


def test_an_old_store_has_its_injected_values_moved_out(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = Store(state / "state.db")
    store.record_agent("a", kind="shell", pane_id=None, window=None, launched_at=1.0, task=None)
    store.record_agent("b", kind="shell", pane_id=None, window=None, launched_at=1.0, task=None)
    store.close()
    secret, everyone = "old-secret-" + os.urandom(6).hex(), "fleet-wide-" + os.urandom(6).hex()
    configured = "configured-" + os.urandom(6).hex()
    conn = sqlite3.connect(state / "state.db")  # the store as versions before this one left it
    conn.executescript("""
        CREATE TABLE env_overlays (agent TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, at REAL NOT NULL,
                                   PRIMARY KEY (agent, key));
        UPDATE meta SET value = '2' WHERE key = 'schema_version';
    """)
    conn.execute("UPDATE agents SET spec=? WHERE name='b'", (json.dumps({"name": "b", "env": {"CONF": configured, "E": ""}}),))
    conn.executemany("INSERT INTO env_overlays VALUES (?, ?, ?, ?)",
                     [("a", "TOKEN", secret, 2.0), ("*", "SHARED", everyone, 1.0), ("*", "TOKEN", "loses", 1.0)])
    conn.commit()
    conn.close()
    assert secret.encode() in _store_bytes(state)

    store = Store(state / "state.db")
    assert store.env_overlay("a") == {"TOKEN": secret, "SHARED": everyone}
    assert store.env_overlay("b") == {"SHARED": everyone, "TOKEN": "loses"}
    assert [a.spec.env for a in store.agents()] == [{}, {"CONF": configured, "E": ""}]
    store.close()
    data = _store_bytes(state)
    assert secret.encode() not in data and everyone.encode() not in data and configured.encode() not in data
    assert Store(state / "state.db").env_overlay("a") == {"TOKEN": secret, "SHARED": everyone}  # opened again: same


# -- item 7: concurrent `up` leaves exactly one fleet ---------------------------------------------


def test_three_concurrent_ups_leave_exactly_one_fleet(cli, tmp_path: Path) -> None:
    """On main, in 2 of 4 three-way races no fleet was left (a loser's rollback killed the winner's
    session), and losers said "already running (0 agents)"."""
    import subprocess

    cfg = tmp_path / "agents.toml"
    cfg.write_text('[mission]\nsession = "race"\npoll_interval = 0.3\n'
                   + shell_agent("a1", TICKER) + shell_agent("a2", TICKER))
    for _round in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "mission_control", "up", "--no-attach", "-c", str(cfg)],
                                  cwd=tmp_path, env=cli.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        assert all(rc == 0 for rc, _, _ in results), results
        said = [out for _, out, _ in results]
        assert sum("fleet 'race' started: 2 agents" in out for out in said) == 1, said
        # the others say so truthfully: the fleet runs with its 2 agents (having waited for the
        # winner's `up`, or — on a loaded machine — starting after it had finished)
        assert sum("already running (2 agents)" in out for out in said) == 2, said
        assert cli.tmux("list-sessions", "-F", "#{session_name}").split() == ["race"]
        roles = cli.tmux("list-panes", "-a", "-F", "#{@mc_role}#{@mc_agent}:#{pane_dead}").split()
        assert sorted(roles) == ["a1:0", "a2:0", "dashboard:0", "supervisor:0"], roles
        rows = retry_until(lambda: len(r := cli.status("-c", str(cfg))) == 2 and r)
        assert {r["name"] for r in rows} == {"a1", "a2"}
        assert run_cli(cli, cfg, "down").returncode == 0


# -- item 8: `down` leaves nothing, escaped children included --------------------------------------


ESCAPER = ("setsid sleep 1002 & echo $! >> {pids}; "
           "(setsid sh -c 'sleep 1003 & echo $! >> {pids}' &); "  # a double fork: its parent is gone at once
           + TICKER)


def test_down_stops_children_that_escaped_with_setsid_and_a_double_fork(cli, tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    cfg = up(cli, tmp_path, shell_agent("a1", ESCAPER.format(pids=pids_file)))
    pids = retry_until(lambda: pids_file.exists() and len(p := pids_file.read_text().split()) == 2 and [int(x) for x in p])
    try:
        assert all(not gone(p) for p in pids)
        r = run_cli(cli, cfg, "down")
        assert r.returncode == 0, r.stderr
        assert [p for p in pids if not gone(p)] == []  # gone when `down` returns, not some time later
        assert not cli.server_running()
    finally:
        for pid in pids:
            if not gone(pid):
                os.kill(pid, 9)


def test_down_after_a_crash_stops_what_the_crashed_fleet_left(cli, tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    cfg = up(cli, tmp_path, shell_agent("a1", ESCAPER.format(pids=pids_file)))
    pids = retry_until(lambda: pids_file.exists() and len(p := pids_file.read_text().split()) == 2 and [int(x) for x in p])
    try:
        cli.tmux("kill-server")  # the crash: the escaped children live on
        assert all(not gone(p) for p in pids)
        r = run_cli(cli, cfg, "down")
        assert r.returncode == 0 and "no fleet running" in r.stdout and "left behind" in r.stdout, r.stdout + r.stderr
        assert [p for p in pids if not gone(p)] == []
    finally:
        for pid in pids:
            if not gone(pid):
                os.kill(pid, 9)


# -- item 11: exit codes kept; one state dir per config -------------------------------------------


def test_a_crash_looping_agent_keeps_its_exit_code(cli, tmp_path: Path) -> None:
    """On main `status --json` said `exit_code: null` for a crash-looping agent whose pane said `status 3`."""
    cfg = up(cli, tmp_path, shell_agent("crasher", "echo boom; exit 3"))
    row = retry_until(lambda: (r := rows(cli, cfg).get("crasher", {})).get("status") == "EXITED" and r)
    assert row["exit_code"] == 3
    for n in (2, 3):
        before = rows(cli, cfg)["crasher"]["since"]
        assert run_cli(cli, cfg, "restart", "crasher").returncode == 0
        if n == 2:
            retry_until(lambda: (s := rows(cli, cfg)["crasher"])["since"] != before and s["status"] == "EXITED")
    row = retry_until(lambda: (r := rows(cli, cfg)["crasher"]).get("status") == "STUCK" and r, message="crash loop")
    assert row["reason"].startswith("crash loop") and row["exit_code"] == 3  # tmux 3.3a may lose it: the launcher kept it


def test_configs_in_one_folder_keep_their_fleets_apart(cli, tmp_path: Path) -> None:
    """On main both configs shared `.mission-control`: after a crash, `up -c other.toml` revived
    agents.toml's agents."""
    main = up(cli, tmp_path, shell_agent("a1", TICKER))
    retry_until(lambda: [r["name"] for r in cli.status("-c", str(main))] == ["a1"])
    cli.tmux("kill-server")  # a crash: agents.toml's fleet would be recovered by its next `up`
    other = up(cli, tmp_path, shell_agent("b1", TICKER), name="other.toml")
    assert "a1" not in cli.tmux("list-panes", "-a", "-F", "#{@mc_agent}").split()
    rows = retry_until(lambda: cli.status("-c", str(other)))
    assert [r["name"] for r in rows] == ["b1"]
    assert (tmp_path / ".mission-control" / "other" / "state.db").exists()
    assert run_cli(cli, other, "down").returncode == 0
    # agents.toml keeps `.mission-control` itself, and its crash is still recovered
    r = run_cli(cli, main, "up", "--no-attach")
    assert r.returncode == 0 and "recovered after a crash" in r.stdout, r.stdout + r.stderr
    assert run_cli(cli, main, "down").returncode == 0
    # the same config reached through a symlinked folder is the same fleet
    (tmp_path / "link").symlink_to(tmp_path)
    r = run_cli(cli, tmp_path / "link" / "agents.toml", "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    assert run_cli(cli, main, "down").returncode == 0
    # a config told to share another's state dir is refused: one line naming both, nothing started
    shared = tmp_path / "shared.toml"
    shared.write_text('[mission]\nsession = "s"\nstate_dir = ".mission-control"\n' + shell_agent("c1", TICKER))
    for command in ("check", "up"):
        r = run_cli(cli, shared, command, "--no-attach") if command == "up" else run_cli(cli, shared, command)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "agents.toml; give this config a state_dir of its own" in r.stderr and str(shared) in r.stderr
    assert not cli.server_running()


def test_the_default_state_dir_is_keyed_by_the_config() -> None:
    from mission_control.core.config import load_text

    agent = shell_agent("a", "true")
    assert load_text(Path("/w/agents.toml"), agent, environ={}).state_dir == Path("/w/.mission-control")
    assert load_text(Path("/w/night.toml"), agent, environ={}).state_dir == Path("/w/.mission-control/night")
    assert load_text(Path("/w/fleet"), agent, environ={}).state_dir == Path("/w/.mission-control/fleet")
    given = '[mission]\nstate_dir = "state"\n' + agent
    assert load_text(Path("/w/night.toml"), given, environ={}).state_dir == Path("/w/state")


def test_copies_and_new_agents_inherit_injected_variables_and_hostile_names_write_nothing(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, shell_agent("a1", 'echo "key=$KEY"; ' + TICKER))
    assert run_cli(cli, cfg, "inject", "a1", stdin="KEY=inherited-value\n").returncode == 0
    assert run_cli(cli, cfg, "spawn", "a2", "--copy", "a1").returncode == 0
    retry_until(lambda: "key=inherited-value" in pane_text(cli, "a2", joined=True))
    assert env_listing(cli, cfg, "a2").startswith("KEY=")
    for hostile in ("../../escaped", "a b", ".hidden", "x" * 41):
        r = run_cli(cli, cfg, "spawn", hostile, "--copy", "a1")
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "is not allowed" in r.stderr, r.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / ".mission-control" / "escaped").exists()
    assert sorted(p.name for p in (tmp_path / ".mission-control" / "agents").iterdir()) == ["a1", "a2"]


def test_an_unreadable_env_file_is_one_line_and_the_fleet_goes_on(cli, tmp_path: Path) -> None:
    cfg = up(cli, tmp_path, shell_agent("a1", TICKER))
    assert run_cli(cli, cfg, "inject", "a1", stdin="KEY=value-one\n").returncode == 0
    env = tmp_path / ".mission-control" / "agents" / "a1" / "env"
    env.write_bytes(b"{not json\x00")
    for args in (("env", "a1"), ("restart", "a1")):
        r = run_cli(cli, cfg, *args)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert f"{env}: cannot read a1's injected variables" in r.stderr and "remove the file" in r.stderr
    before = Store(tmp_path / ".mission-control" / "state.db").latest_tick()
    retry_until(lambda: Store(tmp_path / ".mission-control" / "state.db").latest_tick() > before + 2,
                message="the supervisor goes on")
    env.unlink()
    assert run_cli(cli, cfg, "restart", "a1").returncode == 0
