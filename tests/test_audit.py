"""Findings of the newcomer audit (issues 19-21 as the README shows them), each pinned by a test."""

from __future__ import annotations

import subprocess

from pathlib import Path

from mission_control.core.limits import MAX_ARG_BYTES, MAX_TASK_BYTES, env_problem, text_problem


def test_one_byte_over_a_limit_does_not_read_as_the_limit() -> None:
    """`task add -` with 1 MiB + 1 byte said 'the prompt is 1024 KiB; at most 1024 KiB'."""
    assert text_problem("the prompt", "x" * (MAX_TASK_BYTES + 1), MAX_TASK_BYTES) == \
        "the prompt is 1048577 bytes; at most 1024 KiB"
    assert text_problem("the prompt", "x" * (2 * MAX_TASK_BYTES), MAX_TASK_BYTES) == "the prompt is 2048 KiB; at most 1024 KiB"
    assert "is 131073 bytes; one environment variable can hold at most 131071 bytes" in env_problem("A", "x" * MAX_ARG_BYTES)


def test_the_merge_queue_merges_where_git_knows_no_identity(tmp_path, monkeypatch) -> None:
    """On a fresh machine (no user.email anywhere) the queue's scratch merge went in, the real one
    failed with git's 'Committer identity unknown', and the task waited in `merging` for ever."""
    from test_task_review import merge_setup, snap, states

    from helpers import git
    from mission_control.fleet.tasks import TaskBoard

    repo, config, store, recs = merge_setup(tmp_path, monkeypatch)
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    for i, (key, value) in enumerate((("user.useConfigOnly", "true"),)):  # no guessing from the host name either
        monkeypatch.setenv("GIT_CONFIG_COUNT", str(i + 1))
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{i}", key)
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{i}", value)
    assert subprocess.run(["git", "-C", str(repo), "var", "GIT_COMMITTER_IDENT"], capture_output=True).returncode != 0
    board = TaskBoard(config, store, actor="supervisor")
    board.tick(recs, [snap("w1")], 10.0)
    board.tick(recs, [snap("w1")], 11.0)
    assert states(store)["m"] == ("merged", "w1") and (repo / "a.txt").read_text() == "a\n"
    assert git(repo, "log", "-1", "--format=%cn <%ce>", "main").strip() == "mission-control <mission-control@localhost>"
    assert not [a for a in store.actions() if a["action"] == "merge-wait"]


def test_a_metrics_address_with_a_scheme_or_a_megabyte_is_one_short_clear_line() -> None:
    """`--metrics http://127.0.0.1:9464` said 'write an IPv6 address in brackets'; a 100 kB value was
    quoted whole in the one line."""
    import pytest

    from mission_control.core.listen_address import parse_listen_address

    for text in ("http://127.0.0.1:9464", "127.0.0.1:9464/metrics", "//x:1"):
        with pytest.raises(ValueError, match=r"is not an address \(no scheme, no path"):
            parse_listen_address(text)
    with pytest.raises(ValueError) as err:
        parse_listen_address("a" * 100_000 + ":1")
    assert len(str(err.value)) < 300 and "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"'a\\nb' is neither"):
        parse_listen_address("a\nb:1")
    assert str(parse_listen_address("[::1]:9464")) == "[::1]:9464"


def test_a_webhook_url_urllib_cannot_use_is_refused_by_check_and_never_said_with_its_password() -> None:
    """`check` passed `https://[::1/`, a port past 65535 and `http://user:password@host/`; the
    notifier then failed on each, the last one saying `nonnumeric port: 'password@host'` in the
    supervisor's window."""
    import pytest

    from mission_control.adapters.notify import post_json
    from mission_control.core.config import ConfigError, load_text

    agent = '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n'
    for url in ("https://[::1/", "http://127.0.0.1:99999/", "http://127.0.0.1:x/", "http://user:s3cret@127.0.0.1/h",
                "http://tok3n@127.0.0.1:8080/h", "http://:80/"):
        with pytest.raises(ConfigError) as err:
            load_text(Path("/tmp/agents.toml"), f'[notify]\nurl = "{url}"\n' + agent, environ={})
        assert "notify.url" in str(err.value) and "s3cret" not in str(err.value) and "tok3n" not in str(err.value)
    assert load_text(Path("/tmp/agents.toml"), '[notify]\nurl = "http://127.0.0.1:8080/h?token=$(id);x"\n' + agent, environ={}).notify.url
    for url in ("https://[::1/", "http://user:s3cret@127.0.0.1/h"):  # a URL that got past the config: one result, no raise
        result = post_json(url, {"a": 1}, 1.0, 2, retry_base=0.0)
        assert not result.ok and result.tries == 1 and "s3cret" not in result.detail


def test_a_webhook_answering_garbage_is_tried_again_and_given_up_on_in_one_result() -> None:
    """A receiver that answers no HTTP (BadStatusLine, not an OSError) escaped post_json's retries."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    seen = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            seen.append(1)
            conn.sendall(b"garbage\r\n\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    from mission_control.adapters.notify import post_json

    try:
        result = post_json(f"http://127.0.0.1:{server.getsockname()[1]}/h", {"a": 1}, 2.0, 2, retry_base=0.0)
    finally:
        server.close()
    assert not result.ok and result.tries == 3 and len(seen) == 3 and result.detail.startswith("no answer")


def test_web_host_in_brackets_is_an_ipv6_address_and_a_huge_host_is_one_short_line() -> None:
    """`web --host [::1]` (as a URL writes it, as `--metrics [::1]:9464` takes it) failed with 'not an
    address or a name this machine can resolve'; a 100 kB `--host` was quoted whole."""
    import pytest

    from mission_control.core.errors import UsageError
    from mission_control.web import bind_error, check_bind, listen_host

    assert listen_host("[::1]") == "::1" and listen_host("127.0.0.1") == "127.0.0.1" and listen_host("::") == "::"
    assert check_bind(listen_host("[::1]"), 0, False) is None
    with pytest.raises(UsageError) as err:
        check_bind("a" * 100_000, 0, False)
    assert len(str(err.value)) < 300
    assert len(str(bind_error("a\n" * 50_000, 0, UnicodeError("label too long")))) < 300


@__import__("pytest").mark.tmux
def test_attach_from_80x24_leaves_the_person_on_the_dashboard(cli, tmp_path) -> None:
    """`attach` from 80x24 moved the agents into agents-2... and left the person looking at the last
    window moved (tmux's move-window selects it), not at the dashboard."""
    from test_small_terminals import demo_like

    from mission_control.adapters.tmux import Tmux
    from mission_control.fleet.bringup import fit_windows
    from mission_control.fleet.locate import load_config

    cfg = demo_like(tmp_path)
    assert cli("up", "--no-attach", "-c", str(cfg)).returncode == 0
    config, tmux = load_config(cfg), Tmux(cli.socket)

    def active() -> str:
        return [line.split()[1] for line in cli.tmux("list-windows", "-t", "t", "-F", "#{window_active} #{window_name}").splitlines()
                if line.startswith("1 ")][0]

    assert active() == "fleet"
    for size in ((80, 24), (100, 30), (230, 61)):
        fit_windows(config, tmux, *size)
        assert active() == "fleet", size


def test_task_list_keeps_its_columns_with_ids_and_owners_of_forty_characters() -> None:
    """`task list` had fixed widths (ID 20, OWNER 14): a 40-character id pushed its row's columns
    out of line with the header and the other rows."""
    from mission_control.cli import task_table

    long_id, long_owner = "long-task-id-with-many-characters-abcdef", "agent-" + "x" * 34
    rows = [{"id": "t1", "priority": 0, "state": "queued", "owner": None, "created": "2026-11-30T20:00:00+00:00", "prompt": "a\nb"},
            {"id": long_id, "priority": 10, "state": "cancelled", "owner": long_owner,
             "created": "2026-11-30T20:00:00+00:00", "prompt": "p" * 100}]
    lines = task_table(rows, 1796068800.0 + 65)
    assert len(lines) == 3
    starts = [[line.index(word) for word in words] for line, words in
              zip(lines, (("PRIO", "STATE", "OWNER"), ("normal", "queued", "-"), ("high", "cancelled", long_owner)))]
    ends = [line.index(w) + len(w) for line, w in zip(lines, ("PRIO", "normal", "high"))]
    assert len(set(ends)) == 1 and starts[0][1:] == starts[1][1:] == starts[2][1:]
    assert lines[1].endswith("  a") and lines[2].endswith("p" * 60) and "1m05s" in lines[1]


def test_a_config_task_with_an_empty_prompt_and_an_array_of_strings_given_a_string_are_said_right() -> None:
    """`[[task]] prompt = ""` passed check (`task add ""` is refused: 'the prompt is empty'), and
    `after = "y"` (or an agent's `roles = "dev"`) was said to need 'an array of tables'."""
    import pytest

    from mission_control.core.config import ConfigError, load_text

    agent = '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\npull = true\nroles = ["dev"]\n'
    for body, said in (('[[task]]\nid = "x"\nprompt = " \\n "\n', "task[0] (x).prompt: the prompt is empty"),
                       ('[[task]]\nid = "x"\nprompt = "p"\nafter = "y"\n', "task[0] (x).after must be an array, not str 'y'"),
                       ('[[agent]]\nname = "b"\nkind = "shell"\ncommand = "x"\nroles = "dev"\n', ".roles must be an array, not str 'dev'"),
                       ('agent = "x"\n', "agent must be an array of tables, not str 'x'")):
        with pytest.raises(ConfigError) as err:
            load_text(Path("/tmp/agents.toml"), (body + agent) if not body.startswith("agent") else body, environ={})
        assert said in str(err.value)


def test_a_metrics_token_no_scrape_could_send_is_refused() -> None:
    """A 100 kB metrics_token passed check; every scrape, token included, got HTTP 431."""
    from mission_control.core.listen_address import token_problem

    assert token_problem("a" * 4096) is None
    problem = token_problem("a" * 100_000)
    assert problem and "at most 4096" in problem and "aaaa" not in problem


def test_the_readmes_board_and_notify_examples_are_valid_configs() -> None:
    """The task board's `board.toml` and the `[notify]` example, as the README shows them, pass what `check` runs."""
    import re

    from mission_control.core.config import load_text

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    board = readme.split("**Try it** with two simulated agents", 1)[1]
    block = re.search(r"```toml\n(.*?)```", board, re.S).group(1)
    config = load_text(Path("/tmp/board.toml"), block, environ={})
    assert [a.name for a in config.agents] == ["w1", "rev"] and [t.id for t in config.tasks] == ["parser", "docs"]
    notify = re.search(r"```toml\n(\[notify\]\n.*?)```", readme, re.S).group(1)
    agent = '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n'
    assert load_text(Path("/tmp/agents.toml"), notify + agent, environ={}).notify.min_interval == 30
