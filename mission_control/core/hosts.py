"""Agents on several hosts (issue 22): pure.

A `[[host]]` names a machine reached with `ssh` (its own sshd, its own keys, its host key checked
as ssh checks it); an `[[agent]]` with `host = "gpu"` runs there, in that host's own fleet (its own
tmux server, supervisor and store), which `up` on the laptop starts over ssh with that host's
part of the config. Here: what that part is (`host_config_text`, TOML written from the validated
tables), where it goes on the host (`remote_dir`), and the ssh command lines (`ssh_argv`: every
value a separate argument, the remote command one shell-quoted string, no value ever read as an
option).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any, Iterable

DEFAULT_CONFIG_DIR = ".mission-control-hosts"
"""Where a host's part of the config goes (relative to the remote HOME), in a folder per session."""
REMOTE_CONFIG = "agents.toml"
MISSION_KEYS_COPIED = ("session", "layout", "poll_interval", "stuck_after", "start_timeout", "budget_usd", "budget_warn",
                       "budget_action", "bell", "ollama_host", "diagnose_model")
"""The `[mission]` keys a host's fleet gets from the laptop's; the others (repo, state_dir, socket,
on_status) are the laptop's own paths and commands; the host's repository is its `[[host]] repo`."""
SSH_OPTIONS = ("BatchMode=yes", "ServerAliveInterval=5", "ServerAliveCountMax=3", "ConnectTimeout=10")
"""Never a password prompt to hang on; a link that stops answering is given up within ~15 s."""


def toml_value(value: Any) -> str:
    """A TOML value for a validated config value: JSON's strings, numbers, booleans and arrays are
    TOML's too; a table becomes an inline table with quoted keys."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _table(header: str, values: dict[str, Any]) -> str:
    return header + "\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in values.items() if v is not None)


def host_config_text(mission: dict[str, Any], agents: Iterable[dict[str, Any]], rules: Iterable[dict[str, Any]],
                     prices: dict[str, dict[str, Any]], repo: str | None = None) -> str:
    """The agents.toml a host's fleet runs from: the copied `[mission]` keys (and `repo`, the
    host's own repository: `[[host]] repo`), its agents' tables (without `host`), the user's rules
    and prices."""
    copied = {k: mission[k] for k in MISSION_KEYS_COPIED if k in mission}
    parts = [_table("[mission]", {**copied, "repo": host_path_value(repo) if repo is not None else None})]
    parts += [_table("[[agent]]", {k: v for k, v in a.items() if k != "host"}) for a in agents]
    parts += [_table("[[rule]]", r) for r in rules]
    parts += [_table(f"[prices.{json.dumps(model)}]", p) for model, p in prices.items()]
    return "\n".join(parts)


def remote_dir(config_dir: str | None, session: str) -> str:
    """The folder of the host's config, as a shell word for the remote shell: relative paths and
    `~/...` are under the remote HOME (where an ssh command starts)."""
    return home_word(config_dir or f"{DEFAULT_CONFIG_DIR}/{session}")


def home_word(path: str) -> str:
    """A path on a host as one shell word for a remote shell that has `cd`-ed to its HOME:
    `~/x` and relative paths are under HOME, absolute ones are as they are."""
    if path == "~" or path.startswith("~/"):
        path = path[2:] or "."
    return shlex.quote("./" + path if path.startswith("-") else path)  # never read as an option (`cd -x`)


def host_path_value(path: str) -> str:
    """A path on a host as the host's own config says it: relative ones under its HOME (`~/...`,
    which the host's config load expands), since the config itself lives in another folder there."""
    if path.startswith("/") or path == "~" or path.startswith("~/"):
        return path
    return "~/" + path


USER_BIN = 'PATH="$HOME/.local/bin:$PATH"; export PATH; '
"""Put before every command line run on a host: sshd gives a command (no login shell) a PATH
without ~/.local/bin, where `pip install --user` and `pipx` put `mission-control`; a host where
it was installed so would otherwise say it is missing."""


def ssh_argv(destination: str, remote: list[str] | str, *, port: int | None = None, identity: str | None = None,
             ssh_config: str | None = None, control_path: str | None = None, tty: bool = False) -> list[str]:
    """`ssh` with our options and `remote` (argv, each word quoted; or one shell line) after `--`-safe
    destination handling: the destination was validated not to start with `-`."""
    argv = ["ssh"]
    if ssh_config:
        argv += ["-F", ssh_config]
    for option in SSH_OPTIONS:
        argv += ["-o", option]
    if control_path:
        argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_path}", "-o", "ControlPersist=60"]
    if port:
        argv += ["-p", str(port)]
    if identity:
        argv += ["-i", identity, "-o", "IdentitiesOnly=yes"]
    argv += ["-tt"] if tty else ["-T"]
    line = remote if isinstance(remote, str) else " ".join(shlex.quote(w) for w in remote)
    return [*argv, destination, USER_BIN + line if line else line]


def version_major(text: str) -> str | None:
    """The major version in `mission-control --version`'s output (`mission-control 0.1.0`)."""
    words = text.strip().split()
    if len(words) < 2 or not words[-1][:1].isdigit():
        return None
    return words[-1].split(".")[0]


ACTOR_ENV = "MISSION_CONTROL_ACTOR"
"""Who the action log names for a command (default `cli`): set by another machine's mission-control
running the command on this one (`dashboard@laptop`: the one-shot ssh's remote line, the action
channel per request), or by you."""
ACTOR_PATTERN = re.compile(r"[A-Za-z0-9_.@:+-]{1,64}")
"""Who acted, as an action log names it (`cli`, `dashboard`, `dashboard@laptop`)."""


def remote_actor(actor: str, machine: str) -> str:
    """Who a host's action log names for an action this machine sends it: `dashboard@laptop`
    (an actor that names its machine already is kept; what a name may not hold becomes `-`)."""
    if "@" not in actor:
        actor = f"{actor}@{re.sub(r'[^A-Za-z0-9_.-]', '-', machine) or 'unknown'}"
    actor = re.sub(r"[^A-Za-z0-9_.@:+-]", "-", actor)[:64]
    return actor if ACTOR_PATTERN.fullmatch(actor) else "remote"

