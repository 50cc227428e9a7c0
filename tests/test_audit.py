"""Findings of the newcomer audit (issues 19-21 as the README shows them), each pinned by a test."""

from __future__ import annotations

from mission_control.core.limits import MAX_ARG_BYTES, MAX_TASK_BYTES, env_problem, text_problem


def test_one_byte_over_a_limit_does_not_read_as_the_limit() -> None:
    """`task add -` with 1 MiB + 1 byte said 'the prompt is 1024 KiB; at most 1024 KiB'."""
    assert text_problem("the prompt", "x" * (MAX_TASK_BYTES + 1), MAX_TASK_BYTES) == \
        "the prompt is 1048577 bytes; at most 1024 KiB"
    assert text_problem("the prompt", "x" * (2 * MAX_TASK_BYTES), MAX_TASK_BYTES) == "the prompt is 2048 KiB; at most 1024 KiB"
    assert "is 131073 bytes; one environment variable can hold at most 131071 bytes" in env_problem("A", "x" * MAX_ARG_BYTES)
