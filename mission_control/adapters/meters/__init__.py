"""Token meters, the I/O half: find each agent's own records and tail them.

`make_meter(kind, ...)` asks the kind registry (`mission_control.core.kinds`) which records
format the kind keeps (`KindSpec.records`) and returns the meter registered for it in
`METERS` (one module per format beside this one, on the shared `base`); a kind without
records of its own gets a meter of the regexes its agent configured, or one whose readings
are "unknown". A meter's `poll()` is cheap enough to call every second (see `base`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mission_control.adapters.meters.aider import AiderMeter
from mission_control.adapters.meters.base import (
    DEFAULT_RESCAN,
    DEFAULT_SLACK,
    Meter,
    RegexMeter,
    TailedFile,
    UnknownMeter,
    WholeFile,
    effective_env,
)
from mission_control.adapters.meters.claude import ClaudeMeter, claude_config_dir
from mission_control.adapters.meters.codex import CodexMeter, codex_home
from mission_control.adapters.meters.gemini import GeminiMeter, gemini_dir, gemini_project_hash
from mission_control.adapters.meters.ollama import OllamaMeter
from mission_control.adapters.meters.opencode import OpenCodeMeter, opencode_data_dir
from mission_control.adapters.meters.qwen import QwenMeter, qwen_runtime_dir
from mission_control.core import kinds
from mission_control.core.pricing import Overrides
from mission_control.core.tokens import RegexSpec

METERS: dict[str, type[Meter]] = {
    cls.records: cls for cls in (ClaudeMeter, CodexMeter, GeminiMeter, OpenCodeMeter, AiderMeter, OllamaMeter, QwenMeter)
    if cls.records is not None
}
"""The meter for each records format (`KindSpec.records`)."""

KINDS_WITH_FILES = tuple(name for name, spec in kinds.KINDS.items() if spec.records in METERS)
"""The kinds whose spend is read from records of their own."""


def make_meter(
    kind: str,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    started_at: float,
    price_overrides: Overrides | None = None,
    regexes: Mapping[str, Any] | None = None,
    ledger_path: Path | None = None,
    transcript_paths: Sequence[Path] | None = None,
    slack: float = DEFAULT_SLACK,
    rescan_every: float = DEFAULT_RESCAN,
    clock: Callable[[], float] = time.monotonic,
) -> Meter:
    """The meter for one agent. Unknown kinds and shell commands without regexes get a
    meter whose readings are "unknown". Raises ValueError only for an invalid regex."""
    common: dict[str, Any] = dict(
        cwd=Path(cwd),
        env=env,
        started_at=started_at,
        price_overrides=price_overrides,
        slack=slack,
        rescan_every=rescan_every,
        clock=clock,
    )
    spec = kinds.get(kind)
    meter = METERS.get(spec.records) if spec is not None and spec.records else None
    if meter is not None:
        given = {"transcript_paths": transcript_paths, "ledger_path": ledger_path}
        return meter(**{k: given[k] for k in meter.takes}, **common)
    regex = RegexSpec.from_config(regexes)
    if regex is not None:
        return RegexMeter(spec=regex, **common)
    return UnknownMeter(**common)


__all__ = [
    "METERS",
    "KINDS_WITH_FILES",
    "AiderMeter",
    "ClaudeMeter",
    "CodexMeter",
    "GeminiMeter",
    "Meter",
    "OllamaMeter",
    "OpenCodeMeter",
    "QwenMeter",
    "RegexMeter",
    "TailedFile",
    "UnknownMeter",
    "WholeFile",
    "claude_config_dir",
    "codex_home",
    "effective_env",
    "gemini_dir",
    "gemini_project_hash",
    "make_meter",
    "opencode_data_dir",
    "qwen_runtime_dir",
]
