"""`mission-control task ...` on a real store and a real fleet (issue 19): hostile prompts pass
byte-exact or are refused in one line; bad input is one line, a non-zero exit, and nothing changed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from helpers import PROMPTER, Cli, fleet, retry_until, shell_agent, write_scripts

from mission_control.adapters.store import SCHEMA_VERSION, Store
from mission_control.core.tasks import Task, check_new

HOSTILE = [
    "it's \"quoted\" $(touch pwned) `touch pwned2`; rm -rf nothing && echo $HOME",
    "two\nlines\r\nand a tab\there",
    "escape \x1b[31mred\x1b[0m bell \x07 and ünïcødé ☃ 🚀",
    "--looks-like-an-option",
    "%s %n {0} \\x00 \\\\ ' \"",
]


# ------------------------------------------------------------------ the store


def test_an_older_store_gets_the_task_tables_and_readers_see_new_tasks(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE tasks; DROP TABLE task_events; UPDATE meta SET value='4' WHERE key='schema_version';")
    conn.close()
    writer, reader = Store(path), Store(path)
    assert writer.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert reader.tasks() == []
    writer.add_task(lambda board: Task("a", "p", created_at=1.0))
    assert [t.id for t in reader.tasks()] == ["a"]  # its cached copy is read again: the table changed
    with pytest.raises(Exception, match="already exists"):
        writer.add_task(lambda board: (check_new(Task("a", "q"), board, None), Task("a", "q"))[1])
    assert [(t.id, t.prompt) for t in reader.tasks()] == [("a", "p")]


# ------------------------------------------------------------------ a running fleet, shared by the tests below


@pytest.fixture(scope="module")
def board_fleet(tmp_path_factory: pytest.TempPathFactory):
    """One fleet for the module: `typist` (not pulling) writes each line typed at its prompt to
    a file; `inside` adds a task from its own pane, found through MISSION_CONTROL_FLEET alone."""
    folder = tmp_path_factory.mktemp("board")
    socket = f"mct-{uuid.uuid4().hex[:10]}"
    cli = Cli(socket, folder)
    scripts = write_scripts(folder, prompter=PROMPTER)
    typed = folder / "typed.txt"
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    inside = ("env -u MISSION_CONTROL_SOCKET mission-control task add 'split off by an agent' --id from-inside"
              " > inside.out 2>&1; echo $? >> inside.out; mission-control task assign from-inside inside >> inside.out 2>&1;"
              " mission-control task done >> inside.out 2>&1; echo $? >> inside.out; sleep 1000")
    cfg = fleet(folder, shell_agent("typist", f"{sys.executable} {scripts['prompter']} {typed}", 'roles = ["dev"]')
                + shell_agent("inside", inside, f'cwd = "{elsewhere}"'))
    r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 0, r.stderr
    yield cli, cfg, typed, elsewhere
    run_cli(cli, cfg, "down")
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def run_cli(cli: Cli, cfg: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mission-control ARGS` with `-c CFG` after the (sub)command's name, so that a `--` in ARGS
    ends the options (a prompt that looks like one)."""
    at = 2 if args[0] == "task" else 1
    return subprocess.run([sys.executable, "-m", "mission_control", *args[:at], "-c", str(cfg), *args[at:]],
                          cwd=cli.cwd, env=cli.env(), capture_output=True, text=True, input=stdin, timeout=60)


def tasks_json(cli: Cli, cfg: Path) -> list[dict]:
    """`task list --json`, without the time in each state (it grows while we look)."""
    r = run_cli(cli, cfg, "task", "list", "--json")
    assert r.returncode == 0, r.stderr
    return [{k: v for k, v in t.items() if k != "seconds_in"} for t in json.loads(r.stdout)]


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.stdout == "" and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (r.stdout, r.stderr)
    return r.stderr


@pytest.mark.tmux
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_prompts_are_kept_byte_exact(board_fleet, text: str) -> None:
    cli, cfg, _, _ = board_fleet
    r = run_cli(cli, cfg, "task", "add", "-q", "--", text)
    assert r.returncode == 0, r.stderr
    task_id = r.stdout.strip()
    r = run_cli(cli, cfg, "task", "show", task_id, "--json")
    assert json.loads(r.stdout)["prompt"] == text
    shown = run_cli(cli, cfg, "task", "show", task_id)
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout  # shown inert, never obeyed
    assert not (cfg.parent / "pwned").exists()


@pytest.mark.tmux
def test_prompts_from_stdin_up_to_a_mebibyte_or_refused_in_one_line(board_fleet) -> None:
    cli, cfg, _, _ = board_fleet
    big = ("x" * 1023 + "\n") * 1024  # exactly 1 MiB
    r = run_cli(cli, cfg, "task", "add", "-q", "-", stdin=big)
    assert r.returncode == 0, r.stderr
    assert json.loads(run_cli(cli, cfg, "task", "show", r.stdout.strip(), "--json").stdout)["prompt"] == big
    before = tasks_json(cli, cfg)
    for data, message in ((big + "y", "the prompt is 1048577 bytes; at most 1024 KiB"), ("a\x00b", "NUL byte"),
                          ("   \n", "the prompt is empty")):
        r = run_cli(cli, cfg, "task", "add", "-", stdin=data)
        assert r.returncode == 2 and message in one_line(r)
    r = subprocess.run([sys.executable, "-m", "mission_control", "task", "add", "-", "-c", str(cfg)], input=b"caf\xe9",
                       capture_output=True, env=cli.env(), cwd=cli.cwd)
    assert r.returncode == 2 and b"not UTF-8" in r.stderr and r.stderr.count(b"\n") == 1
    assert tasks_json(cli, cfg) == before


@pytest.mark.tmux
@pytest.mark.parametrize("args,code,message", [
    (("task", "cancel", "nope"), 1, "no task with id 'nope'"),
    (("task", "priority", "nope", "high"), 1, "no task with id 'nope'"),
    (("task", "done", "nope"), 1, "no task with id 'nope'"),
    (("task", "show", "nope"), 1, "no task with id 'nope'"),
    (("task", "add", "x", "--after", "nope"), 2, "after 'nope' names no task"),
    (("task", "add", "x", "--id", "me", "--after", "me"), 2, "task 'me' cannot come after itself"),
    (("task", "add", "x", "--role", "deb"), 2, "role 'deb' is no agent's role (did you mean 'dev'?)"),
    (("task", "add", "x", "--priority", "urgent"), 2, "priority 'urgent' is not a priority"),
    (("task", "add", "x", "--id", "bad id"), 2, "task id 'bad id' is not allowed"),
    (("task", "add", "x", "--id", "fixed"), 2, "a task with id 'fixed' already exists"),
    (("task", "assign", "fixed", "nobody"), 1, "no agent named 'nobody'"),
    (("task", "priority", "fixed", "1.5"), 2, "priority '1.5' is not a priority"),
])
def test_bad_input_is_one_line_and_changes_nothing(board_fleet, args, code: int, message: str) -> None:
    cli, cfg, _, _ = board_fleet
    if not any(t["id"] == "fixed" for t in tasks_json(cli, cfg)):
        assert run_cli(cli, cfg, "task", "add", "held back", "--id", "fixed", "--after", "never").returncode == 2
        assert run_cli(cli, cfg, "task", "add", "never done", "--id", "never", "--priority", "-5").returncode == 0
        assert run_cli(cli, cfg, "task", "add", "held back", "--id", "fixed", "--after", "never").returncode == 0
    before = tasks_json(cli, cfg)
    r = run_cli(cli, cfg, *args)
    assert r.returncode == code and message in one_line(r), r.stderr
    assert tasks_json(cli, cfg) == before


@pytest.mark.tmux
def test_assign_types_the_prompt_at_the_agents_prompt_and_done_releases_it(board_fleet) -> None:
    cli, cfg, typed, _ = board_fleet
    text = HOSTILE[0] + " ünï"
    # done by hand below: `word`, so that the typist's answer (a turn on it: `idle`) does not finish it first
    assert run_cli(cli, cfg, "task", "add", "--id", "given", "--done-when", "word", "--", text).returncode == 0
    r = run_cli(cli, cfg, "task", "assign", "given", "typist")
    assert r.returncode == 0 and "given to typist" in r.stdout, r.stderr
    retry_until(lambda: typed.exists() and text in typed.read_text().splitlines(), message="the prompt typed byte-exact")
    shown = json.loads(run_cli(cli, cfg, "task", "show", "given", "--json").stdout)
    assert (shown["state"], shown["owner"]) == ("working", "typist") and shown["started"]
    r = run_cli(cli, cfg, "task", "assign", "fixed", "typist")  # blocked, and typist is busy with `given`
    assert r.returncode == 1 and "typist holds task given already" in one_line(r)
    status = {a["name"]: a for a in json.loads(run_cli(cli, cfg, "status", "--json").stdout)}
    retry_until(lambda: {a["name"]: a for a in json.loads(run_cli(cli, cfg, "status", "--json").stdout)}["typist"]["task_id"] == "given",
                message="status shows the agent's task id")
    del status
    assert run_cli(cli, cfg, "task", "done", "given").returncode == 0
    shown = json.loads(run_cli(cli, cfg, "task", "show", "given", "--json").stdout)
    assert shown["state"] == "done" and shown["finished"] and [h["agent"] for h in shown["held_by"]] == ["typist"]
    assert [e["event"] for e in shown["history"] if e["event"] != "worked"] == ["add", "take", "done"]  # its answer: worked
    text = run_cli(cli, cfg, "task", "show", "given")  # its history in words: who did what, each said once (was `cli by cli`)
    assert text.returncode == 0, text.stderr
    history = [line.split(None, 1)[1] for line in text.stdout.splitlines() if line[2:3].isdigit()]
    assert [" ".join(line.split()) for line in history if not line.startswith("worked")] == [
        "add -> queued by cli", "take -> working typist assigned by cli", "done -> done typist by cli"], text.stdout
    r = run_cli(cli, cfg, "task", "cancel", "given")
    assert r.returncode == 1 and "task 'given' is done already" in one_line(r)


@pytest.mark.tmux
def test_an_agent_adds_a_task_from_inside_its_pane(board_fleet) -> None:
    cli, cfg, _, elsewhere = board_fleet
    out = elsewhere / "inside.out"
    retry_until(lambda: out.exists() and out.read_text().count("\n0\n") == 2, message="the agent's task commands ran")
    (task,) = [t for t in tasks_json(cli, cfg) if t["id"] == "from-inside"]
    assert task["created_by"] == "inside" and task["prompt"] == "split off by an agent"
    # it took the task it made, and `task done` without an id finished the one it holds
    assert (task["state"], task["owner"]) == ("done", "inside") and "task from-inside is done" in out.read_text()


@pytest.mark.tmux
def test_task_add_with_no_fleet_is_one_line_and_leaves_no_store(tmp_path: Path, tmux_socket: str) -> None:
    cli = Cli(tmux_socket, tmp_path)
    cfg = fleet(tmp_path, shell_agent("a", "sleep 1000"))
    r = run_cli(cli, cfg, "task", "add", "something")
    assert r.returncode == 1 and "no fleet running (session 't'" in one_line(r)
    assert not (tmp_path / ".mission-control").exists()
    r = run_cli(cli, cfg, "task", "list", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = subprocess.run([sys.executable, "-m", "mission_control", "task", "add", "x"], cwd=tmp_path / "..",
                       env=cli.env(), capture_output=True, text=True)
    assert r.returncode != 0 and r.stderr.count("\n") == 1


@pytest.mark.tmux
def test_a_stuck_agents_task_shows_the_reason_and_reassign_hands_it_over(cli: Cli, tmp_path: Path) -> None:
    scripts = write_scripts(tmp_path, prompter=PROMPTER)
    typed_b = tmp_path / "typed-b"
    cfg = fleet(tmp_path, shell_agent("a", f"{sys.executable} {scripts['prompter']} {tmp_path / 'typed-a'}", 'env = { SAY_STUCK = "1" }')
                + shell_agent("b", f"{sys.executable} {scripts['prompter']} {typed_b}"))
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0
    assert run_cli(cli, cfg, "task", "add", "--id", "notify", "Make the notifier send a test message").returncode == 0
    r = run_cli(cli, cfg, "task", "assign", "notify", "a")
    assert r.returncode == 0, r.stderr

    def stuck_event():
        shown = json.loads(run_cli(cli, cfg, "task", "show", "notify", "--json").stdout)
        return shown if shown["stuck"] else None

    shown = retry_until(stuck_event, message="the task shows its agent's STUCK reason")
    assert "the build server refuses me" in shown["stuck"][0] and shown["owner"] == "a"
    retry_until(lambda: json.loads(run_cli(cli, cfg, "status", "--json").stdout)[1]["status"] == "IDLE", message="b is idle")
    r = run_cli(cli, cfg, "reassign", "a", "--to", "b")
    assert r.returncode == 0 and "task notify moved from a" in r.stdout, r.stdout + r.stderr
    retry_until(lambda: typed_b.exists() and "Make the notifier send a test message" in typed_b.read_text(), message="handoff typed")
    shown = json.loads(run_cli(cli, cfg, "task", "show", "notify", "--json").stdout)
    assert (shown["state"], shown["owner"], shown["reassignments"]) == ("working", "b", 1)
    assert [h["agent"] for h in shown["held_by"]] == ["a", "b"]
    assert run_cli(cli, cfg, "down").returncode == 0


@pytest.mark.tmux
@pytest.mark.parametrize("mark", ["nonsense", "a/b/c", "bad socket/s", "s/bad session", "/s", "s/", "s/ok\n",
                                  "\x1b[31mred/x", "x" * 5000 + "/s"], ids=lambda mark: repr(mark)[:24])
def test_a_fleet_mark_that_does_not_parse_is_one_line_and_exit_2(board_fleet, mark: str) -> None:
    """The audit: MISSION_CONTROL_FLEET that does not parse was ignored and the command went on
    with the fleet of the default socket (here the test's running fleet: another fleet than meant)."""
    cli, cfg, _, _ = board_fleet
    r = cli("task", "list", cwd=cfg.parent, MISSION_CONTROL_FLEET=mark)
    assert r.returncode == 2, (r.returncode, r.stdout[:200])
    line = one_line(r)
    assert line.startswith("mission-control: MISSION_CONTROL_FLEET=") and "is not SOCKET/SESSION" in line
    assert len(line) < 400 and "\x1b" not in line
    # with -c the variable is not asked, and an empty one is unset: both find the fleet as before
    assert run_cli(cli, cfg, "task", "list").returncode == 0
    assert cli("task", "list", cwd=cfg.parent, MISSION_CONTROL_FLEET="").returncode == 0
