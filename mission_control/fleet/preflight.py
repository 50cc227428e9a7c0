"""What `check` and `up` verify on this machine before anything starts (the config itself is
already valid, see core/config.py): folders exist, the repo is a repository's top level, the
state dir can be one, the base branch exists. `check` runs exactly what `up` runs first, so a
config `check` calls ok is never refused by `up` for a reason `check` could have seen.

Each problem is one ConfigError naming the config file, the key and the value (exit 2).
"""

from __future__ import annotations


from mission_control.adapters import git_repo
from mission_control.core.config import ConfigError, FleetConfig


def _problem(config: FleetConfig, key: str, value: object, why: str) -> ConfigError:
    return ConfigError(f"{config.path}: {key} = {str(value)!r} {why}")


def check_state_dir(config: FleetConfig) -> None:
    """The state dir is a folder, or can be made one (no file in its place or above it)."""
    for p in (config.state_dir, *config.state_dir.parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == config.state_dir else f"cannot be made: {p} is a file"
                raise _problem(config, "mission.state_dir", config.state_dir, f"{where}, not a folder")
            return


def check_repo(config: FleetConfig) -> None:
    """`repo` is a git repository's top level (a plain folder inside another checkout is not),
    or a folder `init_repo` may create; `base_branch` is one of its branches."""
    repo = config.repo
    if repo is None:
        return
    if config.init_repo and not (repo / ".git").exists():
        if repo.exists() and (not repo.is_dir() or any(repo.iterdir())):
            raise _problem(config, "mission.repo", repo, "exists and is not a git repository; init_repo only creates new ones")
        return
    try:
        git_repo.check_repo(repo)
        top = git_repo.top_level(repo)
    except git_repo.GitError as exc:
        raise ConfigError(f"{config.path}: mission.repo: {exc}") from None
    if top.resolve() != repo.resolve():
        raise _problem(config, "mission.repo", repo, f"is a folder inside the git repository {top}, not its top level: use repo = {str(top)!r}")
    if config.base_branch is not None and not git_repo.has_commit(repo, config.base_branch):
        raise _problem(config, "mission.base_branch", config.base_branch, f"is not a branch of {repo} (worktrees start from it)")


def check_cwds(config: FleetConfig) -> None:
    for spec in config.agents:
        if spec.worktree:
            continue
        if not spec.cwd.is_dir():
            what = "does not exist" if not spec.cwd.exists() else "is not a folder"
            raise _problem(config, f"agent {spec.name!r}: cwd", spec.cwd, what)


def preflight(config: FleetConfig) -> None:
    """Everything `up` would refuse about this machine, checked before anything is started."""
    check_state_dir(config)
    check_repo(config)
    check_cwds(config)
