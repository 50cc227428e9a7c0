"""The README's agents.toml reference tables, generated from the config model's field docstrings.

Each `[mission]` and `[[agent]]` key is one row: its name, its default (from the model, or the
docstring's last line `Default: ...` where words say it better) and its meaning (the docstring).
The docstrings in `mission_control/core/config.py` are the one source: a test checks that the
README's tables equal these, so they never drift.

    python scripts/config_reference.py           # print the tables
    python scripts/config_reference.py --write   # put them into README.md
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mission_control.core.config import AgentSettings, HostSettings, MissionSettings, NotifySettings, TaskSettings  # noqa: E402
from mission_control.core.kinds import KIND_NAMES  # noqa: E402

TABLES: dict[str, type[BaseModel]] = {"### `[mission]`": MissionSettings, "### `[[agent]]`": AgentSettings,
                                     "### `[[task]]`": TaskSettings, "### `[notify]`": NotifySettings,
                                     "### `[[host]]`": HostSettings}
"""README heading -> the model whose fields its table lists."""
HEADER = "| key | default | meaning |\n|---|---|---|"


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, (str, Path)):
        return f'`"{value}"`'
    return f"`{value!r}`"


def row(name: str, field: Any) -> str:
    """One table row: `| key | default | meaning |`."""
    lines = [" ".join(line.split()) for line in (field.description or "").splitlines()]
    said = next((line.removeprefix("Default:").strip() for line in lines if line.startswith("Default:")), None)
    meaning = " ".join(line for line in lines if not line.startswith("Default:"))
    meaning = meaning.replace("{kinds}", ", ".join(f"`{k}`" for k in KIND_NAMES))
    if said is not None:
        default = said
    elif field.is_required():
        default = "required"
    elif field.default_factory is not None:
        made = field.default_factory()
        default = "`{}`" if made == {} else _value(made)
    else:
        default = _value(field.default if field.default is not PydanticUndefined else None)
    return f"| `{name}` | {default} | {meaning} |"


def table(model: type[BaseModel]) -> str:
    """The whole table of one model, header included."""
    return "\n".join([HEADER, *(row(name, field) for name, field in model.model_fields.items())])


def readme_table(readme: str, heading: str) -> tuple[int, int]:
    """(start, end) of the table under `heading` in the README's text: its lines that start with `|`."""
    at = readme.index(heading + "\n")
    start = readme.index("\n|", at) + 1
    end = start
    while readme.startswith("|", end):
        end = readme.index("\n", end) + 1
    return start, end


def write(readme: str) -> str:
    """The README's text with every table replaced by the generated one."""
    for heading, model in TABLES.items():
        start, end = readme_table(readme, heading)
        readme = readme[:start] + table(model) + "\n" + readme[end:]
    return readme


def main(argv: list[str]) -> int:
    path = ROOT / "README.md"
    if argv[1:] == ["--write"]:
        path.write_text(write(path.read_text()))
        return 0
    for heading, model in TABLES.items():
        print(f"{heading}\n\n{table(model)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
