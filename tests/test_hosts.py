"""Agents on several hosts (issue 22): the `[[host]]` config, the host's part of it, the ssh
command lines, and a real sshd on loopback as a second host (`ssh_box`, tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mission_control.core.config import ConfigError, load_text
from mission_control.core.hosts import remote_dir, ssh_argv, version_major

HOST = '[[host]]\nname = "box"\nssh = "me@box"\n'
AGENT = '[[agent]]\nname = "{name}"\nkind = "shell"\ncommand = "bash"\n'


def _load(text: str):
    return load_text(Path("/work/fleet/agents.toml"), text, environ={})


@pytest.mark.parametrize("text,message", [
    (AGENT.format(name="a") + 'host = "bx"\n' + HOST, "agent[0] (a).host 'bx' names no [[host]] (did you mean 'box'?)"),
    (AGENT.format(name="a") + 'host = "box"\n', "names no [[host]]; no [[host]] is configured"),
    (HOST + HOST, "duplicate host name 'box' (also host[0])"),
    ('[[host]]\nname = "box"\nssh = "-oProxyCommand=touch pwned"\n', "is not an ssh destination"),
    ('[[host]]\nname = "box"\nssh = "me@box; rm -rf /"\n', "is not an ssh destination"),
    ('[[host]]\nname = "box"\nssh = "me@box"\nport = 0\n', "host[0] (box).port = 0 is out of range"),
    ('[[host]]\nname = "local"\nssh = "me@box"\n', "name 'local' is this machine's"),
    ('[[host]]\nname = "box"\nssh = "me@box"\nuser = "x"\n', "user"),
    ('[mission]\nrepo = "."\n' + HOST + AGENT.format(name="a") + 'host = "box"\nworktree = true\n',
     "worktree = true is not supported on another host yet"),
])
def test_bad_host_config_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(text)
    assert message in str(err.value) and "\n" not in str(err.value)


HOSTILE = "it's \"quoted\" $(touch pwned) `x`; \\ \t tab ünï ☃\nnew line"


def test_a_hosts_part_of_the_config_is_its_agents_byte_exact_and_nothing_of_the_laptops() -> None:
    text = ('[mission]\nsession = "s"\nrepo = "."\non_status = "notify-send x"\nstuck_after = 30\n' + HOST
            + AGENT.format(name="here") + AGENT.format(name="there") + 'host = "box"\ncwd = "~/work"\n'
            + f"task = {json.dumps(HOSTILE)}\n" + 'env = {SECRET = "s3cr3t"}\n')
    cfg = _load(text)
    assert [a.name for a in cfg.agents] == ["here"]
    (box,) = cfg.hosts
    assert box.name == "box" and box.agents == ("there",)
    remote = load_text(Path("/home/me/x/agents.toml"), box.config_text, environ={})
    (there,) = remote.agents
    assert there.task == HOSTILE and there.env == {"SECRET": "s3cr3t"} and there.host is None
    assert remote.session == "s" and remote.stuck_after == 30 and remote.on_status is None and remote.repo is None
    assert there.cwd == Path.home() / "work"  # `~` is the host's home there (expanded by the host's own load)


def test_ssh_command_lines_keep_every_value_one_argument() -> None:
    argv = ssh_argv("me@box", ["mission-control", "up", "-c", "a b;$(x)"], port=2222, identity="/k", ssh_config="/c",
                    control_path="/tmp/cm/%C")
    assert argv[:3] == ["ssh", "-F", "/c"] and "BatchMode=yes" in argv and "StrictHostKeyChecking=no" not in " ".join(argv)
    assert argv[-2:] == ["me@box", "mission-control up -c 'a b;$(x)'"]
    assert remote_dir(None, "s") == ".mission-control-hosts/s" and remote_dir("~/x y", "s") == "'x y'"
    assert version_major("mission-control 1.4.2\n") == "1" and version_major("bash: not found") is None
