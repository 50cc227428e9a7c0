"""Config validation: every broken config gives one line naming file, key and line; exit 2; nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT
from mission_control.core.config import ConfigError, load_text

GOOD = """
[mission]
session = "fleet"
state_dir = "state"

[[agent]]
name = "coder"
kind = "shell"
command = "sleep 100"
task = "do it"
env = { A = "1" }
"""

# (config text, what the one-line error must contain)
BROKEN = [
    ('[mission]\nsesion = "x"\n', ["mission.sesion", "did you mean 'session'", ":2:"]),
    ('[[agent]]\nname = "a"\nkind = "shell"\ncomand = "x"\n', ["comand", "did you mean 'command'", ":4:"]),
    ('[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "y"\n', ["duplicate agent name 'a'", ":6:"]),
    ('[[agent]]\nname = "a"\nkind = "shell"\ncommand = "   "\n', ["command is empty", ":4:"]),
    ('[[agent]]\nname = "a"\nkind = "cluade"\n', ["'cluade' is not a known kind", "did you mean 'claude'", ":3:"]),
    ('[[agent]]\nname = "a"\nkind = "shell"\n', ["command is required for kind 'shell'"]),
    ('[[agent]]\nname = "my agent"\nkind = "claude"\n', ["'my agent' is not allowed", ":2:"]),
    ('[[agent]]\nname = "a.b"\nkind = "claude"\n', ["'a.b' is not allowed"]),
    ('[[agent]]\nname = "a"\nkind = "claude"\nworktree = "yes"\n', ["worktree must be true or false", ":4:"]),
    ('[mission]\npoll_interval = "fast"\n', ["poll_interval", ":2:"]),
    ('[mission]\npoll_interval = 0\n', ["poll_interval", "greater than 0"]),
    ('[mission]\nsession = "a:b"\n', ["'a:b' is not allowed"]),
    ('[[agent]]\nname = "a"\nkind = "claude"\nenv = { "BAD-NAME" = "x" }\n', ["'BAD-NAME' is not a valid environment variable name"]),
    ('[[agent]]\nname = "a"\nkind = "claude"\nenv = { KEY = 3 }\n', ["env.KEY must be a string"]),
    ('[[agent]]\nname = "a"\nkind = "claude"\n[[task]]\nid = "t1"\nprompt = "p"\nassignee = "b"\n', ["assignee 'b' names no agent"]),
    ('[[agent]\nname = "a"\n', ["invalid TOML"]),
    ('[[agent]]\nkind = "claude"\n', ["missing required key 'agent[0].name'"]),
    ('agent = 3\n', ["agent must be an array of tables"]),
    ('[[agent]]\nname = "a"\nkind = "claude"\nbudget_usd = -1\n', ["budget_usd", "greater than or equal to 0"]),
    ('[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\ntokens = { cost = "Cost: ([0-9.]+" }\n', ["bad regex 'Cost: ([0-9.]+'", "tokens.cost"]),
    ('[[rule]]\nstate = "STUCK"\npattern = "[a-"\n', ["bad regex '[a-'", "pattern"]),
    ('[[rule]]\nstate = "STUCK"\npattern = ""\n', ["pattern is empty"]),
]


@pytest.mark.parametrize("text,needles", BROKEN, ids=[f"broken{i}" for i in range(len(BROKEN))])
def test_broken_config_is_one_clear_line(text: str, needles: list[str]) -> None:
    path = Path("/cfg/agents.toml")
    with pytest.raises(ConfigError) as err:
        load_text(path, text, environ={})
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("/cfg/agents.toml")
    for needle in needles:
        assert needle in msg, msg


def test_good_config_expands_defaults_and_paths() -> None:
    cfg = load_text(Path("/cfg/agents.toml"), GOOD, environ={})
    assert cfg.session == "fleet"
    assert cfg.socket == "mission-control"
    assert cfg.state_dir == Path("/cfg/state")
    (agent,) = cfg.agents
    assert agent.cwd == Path("/cfg")
    assert agent.env == {"A": "1"}
    assert agent.resume_prompt == "continue"


def test_kind_defaults_fill_command_and_resume() -> None:
    cfg = load_text(Path("/c/a.toml"), '[[agent]]\nname = "c"\nkind = "claude"\n', environ={})
    assert cfg.agents[0].command == "claude"
    assert cfg.agents[0].resume_command == "claude --continue"


def test_socket_env_overrides_config() -> None:
    cfg = load_text(Path("/c/a.toml"), '[mission]\nsocket = "mine"\n', environ={"MISSION_CONTROL_SOCKET": "other"})
    assert cfg.socket == "other"
    with pytest.raises(ConfigError, match="MISSION_CONTROL_SOCKET"):
        load_text(Path("/c/a.toml"), "", environ={"MISSION_CONTROL_SOCKET": "bad name"})


def test_task_queue_assigns_prompt() -> None:
    text = '[[agent]]\nname = "a"\nkind = "claude"\n[[task]]\nid = "t1"\nprompt = "fix bug"\nassignee = "a"\n'
    cfg = load_text(Path("/c/a.toml"), text, environ={})
    assert cfg.agents[0].task == "fix bug"


@pytest.mark.tmux
@pytest.mark.parametrize("text,needles", BROKEN[:12], ids=[f"cli{i}" for i in range(12)])
def test_cli_rejects_broken_config_and_starts_nothing(cli, fleet_config, text: str, needles: list[str]) -> None:
    path = fleet_config(text)
    r = cli("up", "--no-attach", "-c", str(path))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(path) in lines[0]
    assert "Traceback" not in r.stderr
    assert not cli.server_running()
    assert not (path.parent / ".mission-control").exists()


@pytest.mark.tmux
def test_unknown_layout_and_missing_repo_start_nothing(cli, fleet_config, tmp_path: Path) -> None:
    path = fleet_config('[mission]\nlayout = "splitt"\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 9"\n')
    r = cli("up", "--no-attach", "-c", str(path))
    assert r.returncode == 2 and "did you mean 'split'" in r.stderr, r.stderr
    path = fleet_config('[mission]\nrepo = "nope"\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 9"\n')
    r = cli("up", "--no-attach", "-c", str(path))
    assert r.returncode == 2 and "nope" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    (tmp_path / "plain").mkdir()
    path = fleet_config('[mission]\nrepo = "plain"\n[[agent]]\nname = "a"\nkind = "shell"\ncommand = "sleep 9"\n')
    r = cli("up", "--no-attach", "-c", str(path))
    assert r.returncode == 2 and "plain" in r.stderr, r.stderr
    assert not cli.server_running()


def test_missing_config_file_is_one_line(cli, tmp_path: Path) -> None:
    r = cli("up", "--no-attach", "-c", str(tmp_path / "none.toml"))
    assert r.returncode == 2
    assert "none.toml: no such config file" in r.stderr


@pytest.mark.parametrize("kind, tokens, logged", [
    ("shell", True, True),      # its spend is what it printed: logged for the regex meter
    ("shell", False, False),    # nothing reads it
    ("aider", False, True),     # token lines, its fallback when it keeps no chat history
    ("claude", True, False),    # spend from its transcripts: the regexes are not used, no log
    ("ollama", True, False),    # spend from its ledger
])
def test_output_is_logged_only_when_a_meter_reads_it(kind: str, tokens: bool, logged: bool) -> None:
    from mission_control.core.launch_plan import logs_output

    body = f'[[agent]]\nname = "a"\nkind = "{kind}"\ncommand = "x"\n' + ("tokens = { cost = 'Cost: \\\\$([0-9.]+)' }\n" if tokens else "")
    config = load_text(Path("/tmp/agents.toml"), body, environ={})
    assert logs_output(config.agents[0]) is logged


def test_the_readme_reference_tables_are_generated_from_the_field_docstrings() -> None:
    """The config model's field docstrings are the one source of the README's agents.toml tables:
    `python scripts/config_reference.py --write` puts them there, and they never drift."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "scripts" / "config_reference.py")
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    readme = (ROOT / "README.md").read_text()
    for heading, model in reference.TABLES.items():
        start, end = reference.readme_table(readme, heading)
        assert readme[start:end].rstrip("\n") == reference.table(model), (
            f"README's {heading} table differs from the docstrings: run python scripts/config_reference.py --write")
        for name, field in model.model_fields.items():
            assert field.description and field.description.strip(), f"{model.__name__}.{name} has no docstring"


def test_mission_settings_are_declared_once() -> None:
    """`FleetConfig` carries the `[mission]` settings resolved, not a second declaration of them."""
    from mission_control.core.config import FleetConfig, MissionSettings

    assert issubclass(FleetConfig, MissionSettings)
    own = set(FleetConfig.__annotations__)
    assert not own & set(MissionSettings.model_fields), own & set(MissionSettings.model_fields)


def test_whole_numbers_are_taken_for_seconds_budgets_and_prices() -> None:
    """TOML tells 1 from 1.0: a mission's seconds and budget, an agent's budget and a model's prices take
    either (as floats), and refuse true/false."""
    cfg = load_text(Path("/c/a.toml"), (
        '[mission]\npoll_interval = 1\nstuck_after = 60\nbudget_usd = 5\n'
        '[prices."local:7b"]\ninput_mtok = 3\noutput_mtok = 15\n'
        '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\nbudget_usd = 2\n'
    ), environ={})
    got = [cfg.poll_interval, cfg.stuck_after, cfg.budget_usd, cfg.agents[0].budget_usd,
           cfg.prices["local:7b"]["input_mtok"], cfg.prices["local:7b"]["output_mtok"]]
    assert got == [1.0, 60.0, 5.0, 2.0, 3.0, 15.0] and all(type(x) is float for x in got), got
    with pytest.raises(ConfigError, match="budget_usd"):
        load_text(Path("/c/a.toml"), '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\nbudget_usd = true\n', environ={})
