"""The config keys of issue 21's loop: `auto_resume`, `auto_resume_margin`, `restart`,
`restart_delay`, `max_restarts` (fleet-wide in `[mission]`, per agent in `[[agent]]`) and the
`[notify]` table — typed, one line naming the file, line and key, "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from mission_control.core.config import ConfigError, load_text

AGENT = '[[agent]]\nname = "a"\nkind = "shell"\ncommand = "x"\n'


def load(text: str):
    return load_text(Path("/tmp/loop/agents.toml"), text, environ={})


def test_defaults_and_an_agent_overriding_the_fleet() -> None:
    config = load('[mission]\nrestart = "on-failure"\nrestart_delay = 2\n' + AGENT
                  + AGENT.replace('"a"', '"b"') + 'restart = "never"\nauto_resume = false\nmax_restarts = 7\n')
    a, b = config.agents
    assert config.loop_settings(a) == (True, "on-failure", 2.0, 3)
    assert config.loop_settings(b) == (False, "never", 2.0, 7)
    assert config.auto_resume_margin == 30 and config.notify.url is None and config.notify.desktop is True
    assert (config.notify.timeout, config.notify.retries, config.notify.min_interval) == (5.0, 3, 60.0)


@pytest.mark.parametrize("text, message", [
    ('[mission]\nrestart = "on_failure"\n', "agents.toml:2: mission.restart = 'on_failure' is not allowed (did you mean 'on-failure'?)"),
    (AGENT + 'restrat = "always"\n', "agents.toml:5: unknown key 'agent[0] (a).restrat' (did you mean 'restart'?)"),
    ('[mission]\nmax_restarts = 1.5\n', "agents.toml:2: mission.max_restarts must be a whole number, not float 1.5"),
    ('[mission]\nrestart_delay = 0\n', "agents.toml:2: mission.restart_delay = 0 is out of range: it must be greater than 0"),
    ('[mission]\nauto_resume = "no"\n', "agents.toml:2: mission.auto_resume must be true or false, not str 'no'"),
    ('\n[notify]\nurll = "http://x"\n', "agents.toml:3: unknown key 'notify.urll' (did you mean 'url'?)"),
    ('[notify]\nurl = "ftp://host/x"\n', "agents.toml:2: notify.url: must be an http:// or https:// URL"),
    ('[notify]\nurl = "http://host/a b"\n', "agents.toml:2: notify.url: must be an http:// or https:// URL"),
    ('[notify]\nurl = "http://host/\\n"\n', "agents.toml:2: notify.url: must be an http:// or https:// URL"),
    ('[notify]\nretries = 99\n', "agents.toml:2: notify.retries = 99 is out of range: it must be less than or equal to 10"),
    ('[notify]\ntimeout = nan\n', "agents.toml:2: notify.timeout"),
])
def test_bad_values_are_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(text)
    assert str(err.value).startswith("/tmp/loop/" + message), str(err.value)
    assert "\n" not in str(err.value)


def test_the_webhook_url_is_never_said_back() -> None:
    """A webhook URL often holds its token: a refused one is not repeated in the message."""
    with pytest.raises(ConfigError) as err:
        load('[notify]\nurl = "hxxp://hooks.example/T0KEN-abcdef"\n')
    assert "T0KEN" not in str(err.value)
