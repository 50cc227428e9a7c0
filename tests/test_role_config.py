"""`[[role]]` in agents.toml (issue 19 point 3): validated like `[[agent]]` — typed, one line
naming the file, line, key and value, "did you mean" — and what the supervisor spawns from it
(the template given to `FleetActions.spawn`, the numbering, the backoff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mission_control.core.config import ConfigError, load_text
from mission_control.fleet.roles import backoff, lowest_free, member_number, template

REPO = '[mission]\nrepo = "/r"\n'
ROLE = '\n[[role]]\nname = "dev"\nkind = "shell"\ncommand = "x"\n'

BROKEN = [
    (REPO + ROLE + "max_instance = 2\n", ["role[0] (dev).max_instance", "did you mean 'max_instances'", ":8:"]),
    (REPO + ROLE + "max_instances = 0\n", ["role[0] (dev).max_instances = 0 is out of range", "greater than or equal to 1", ":8:"]),
    (REPO + ROLE + 'max_instances = "2"\n', ["max_instances must be a whole number, not str '2'"]),
    (REPO + ROLE + "retire_after = -1\n", ["retire_after = -1 is out of range", "greater than 0"]),
    (REPO + ROLE + "retire_after = 1e9\n", ["retire_after", "less than or equal to 604800"]),
    (REPO + ROLE + "pull = false\n", ["role[0] (dev).pull: not a key of a role", ":8:"]),
    (REPO + ROLE + 'task = "t"\n', ["role[0] (dev).task: not a key of a role"]),
    (REPO + ROLE + 'roles = ["x"]\n', ["role[0] (dev).roles: not a key of a role"]),
    (REPO + ROLE.replace('"shell"', '"shel"'), ["role[0] (dev).kind = 'shel' is not a known kind", "did you mean 'shell'", ":6:"]),
    (REPO + ROLE.replace('command = "x"\n', ""), ["role[0] (dev).command is required for kind 'shell'"]),
    (ROLE, ["role[0] (dev).worktree = true (the default for a role) needs mission.repo"]),
    (REPO + ROLE + 'cwd = "/tmp"\n', ["role[0] (dev): give either worktree = true or cwd, not both"]),
    (REPO + ROLE + ROLE, ["duplicate role name 'dev' (also role[0])", ":10:"]),
    (REPO + ROLE.replace('"dev"', '"a-very-long-role-name-that-fills-it-upxx"'), ["too long for its agents' names"]),
    (REPO + ROLE.replace('"dev"', '"dev ops"'), ["name 'dev ops' is not allowed"]),
    (REPO + ROLE + 'env = { "A B" = "x" }\n', ["'A B' is not a valid environment variable name"]),
    (REPO + ROLE + '\n[[agent]]\nname = "dev-2"\nkind = "shell"\ncommand = "x"\n', ["agent[0] (dev-2): the name is one of role 'dev'"]),
    (REPO + ROLE + '\n[[task]]\nid = "t"\nprompt = "p"\nrole = "deb"\n', ["role 'deb' is no agent's role", "did you mean 'dev'"]),
    (REPO + ROLE + 'command = "y"\n', ["invalid TOML"]),
    (REPO + ROLE + 'env = { A = "a\\u0000b" }\n', ["NUL byte"]),
]


@pytest.mark.parametrize("text,needles", BROKEN, ids=[f"broken{i}" for i in range(len(BROKEN))])
def test_a_broken_role_is_one_clear_line(text: str, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(Path("/cfg/agents.toml"), text, environ={})
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("/cfg/agents.toml")
    for needle in needles:
        assert needle in msg, msg


def test_a_role_is_a_template_its_agents_pull_with() -> None:
    config = load_text(Path("/cfg/agents.toml"), REPO + ROLE + 'max_instances = 3\nretire_after = 90\nenv = { K = "v; $(x)" }\n'
                       'budget_usd = 2\n[[task]]\nid = "t"\nprompt = "p"\nrole = "dev"\n', environ={})
    (role,) = config.roles
    assert (role.name, role.max_instances, role.retire_after, role.worktree) == ("dev", 3, 90.0, True)
    assert template(role) == {"kind": "shell", "command": "x", "worktree": True, "env": {"K": "v; $(x)"}, "budget_usd": 2.0,
                              "pull": True, "roles": ["dev"]}
    assert config.tasks[0].role == "dev"  # a role's name is a role tasks may name


def test_numbering_and_backoff() -> None:
    assert lowest_free("dev", set()) == "dev-1"
    assert lowest_free("dev", {"dev-1", "dev-3"}) == "dev-2"
    assert member_number("dev", "dev-12") == 12 and member_number("dev", "dev-0") is None
    assert member_number("dev", "devops-1") is None and member_number("d.v", "dxv-1") is None
    assert [backoff(n) for n in (1, 2, 3, 10)] == [5.0, 10.0, 20.0, 300.0]
