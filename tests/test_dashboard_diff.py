"""The diff view (`D`, issue 21 point 5): a real branch's diff read by git off the UI thread, its
files and stats, one file at a time, highlighted and scrollable; a diff of thousands of lines costs
a screenful of rendering; `m` merges (asking first) and `t` sends a follow-up; an error is one line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from helpers import ROOT, commit, git, make_repo, pilot_until, sha
from mission_control.adapters.git_repo import diff_text
from mission_control.adapters.store import Store
from mission_control.core.config import load_text
from mission_control.core.diff import BranchDiff, parse_diff
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.fleet.actions import ActionError, FleetActions
from mission_control.ui.app import create_app
from mission_control.ui.source import FixedSource
from mission_control.ui.widgets.diff_lines import DiffLines, diff_line_text
from textual.widgets import OptionList

DATA = json.loads((ROOT / "tests" / "data" / "dashboard_fixed.json").read_text())

SMALL_DIFF = '''diff --git a/src/parser.py b/src/parser.py
index 3b18e51..a8c3f2d 100644
--- a/src/parser.py
+++ b/src/parser.py
@@ -1,6 +1,9 @@
 """Parse the config."""
-def parse(text):
-    return text.split("=")
+def parse(text: str) -> dict[str, str]:
+    """Each `key = value` line, as a dict."""
+    out = {}
+    for line in text.splitlines():
+        key, _, value = line.partition("=")
+        out[key.strip()] = value.strip()
+    return out
 
diff --git a/tests/test_parser.py b/tests/test_parser.py
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/tests/test_parser.py
@@ -0,0 +1,3 @@
+def test_parse():
+    assert parse("a = 1") == {"a": "1"}
+
diff --git a/old_utils.py b/utils.py
similarity index 90%
rename from old_utils.py
rename to utils.py
'''


class DiffActions:
    """Stands in for the fleet's actions: answers `diff` with `result` (or raises it), records the rest."""

    def __init__(self, result) -> None:
        self.result = result
        self.calls: list[tuple] = []

    def needs_terminal(self) -> bool:
        return False

    def diff(self, name: str):
        self.calls.append(("diff", (name,), {}))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    def __getattr__(self, name: str):
        def record(*args, **kwargs):
            from mission_control.fleet.actions import Outcome

            self.calls.append((name, args, kwargs))
            return Outcome(args[0] if args else None, f"{name} done")

        return record


def small_diff() -> BranchDiff:
    return BranchDiff(agent="coder", branch="mc/coder", base="main", files=parse_diff(SMALL_DIFF),
                      commits=("9d238c5 coder: validate input", "1a2b3c4 coder: parser"), dirty_files=1)


def diff_app(result):
    snap = FleetSnapshot.from_json(DATA["snapshot"])
    actions = DiffActions(result)
    app = create_app(source=FixedSource(snap, tails=DATA["tails"]), actions=actions, live=False,
                     clock=lambda: DATA["now"], bell=False)
    return app, actions


async def loaded(pilot, app) -> None:
    await pilot.pause()
    await pilot.press("D")
    await app.screen.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("what", ["files", "second-file", "error", "help"])
def test_diff_view_snapshot(snap_compare, what: str, size: tuple[int, int]) -> None:
    app, _ = diff_app(ActionError("coder has no worktree branch (worktree = false)") if what == "error" else small_diff())
    app.notify = lambda *args, **kw: None  # type: ignore[method-assign]

    async def open_it(pilot) -> None:
        await loaded(pilot, app)
        if what == "second-file":
            await pilot.press("n")
        if what == "help":
            await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_it)


def test_a_diff_is_split_into_files_with_their_stats() -> None:
    files = parse_diff(SMALL_DIFF)
    assert [(f.path, f.status, f.added, f.removed) for f in files] == [
        ("src/parser.py", "modified", 7, 2), ("tests/test_parser.py", "added", 3, 0), ("utils.py", "renamed", 0, 0)]
    assert files[2].old_path == "old_utils.py"
    assert parse_diff("") == ()


def test_a_line_is_inert_and_highlighted() -> None:
    from mission_control.ui.widgets.diff_lines import lexer_for

    text = diff_line_text("+print('\x1b[2J')\tx", lexer_for("a.py"), in_hunk=True)
    assert "\x1b" not in text.plain and "\t" not in text.plain and text.plain.startswith("+print(")
    assert len({str(span.style) for span in text.spans}) > 2  # the mark, the tint, and the code's own colours
    assert diff_line_text("@@ -1 +1 @@", None, in_hunk=True).style


async def test_keys_merge_after_asking_and_send_a_follow_up() -> None:
    app, actions = diff_app(small_diff())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        screen = app.screen
        assert screen.__class__.__name__ == "DiffScreen" and actions.calls[0] == ("diff", ("coder",), {})
        await pilot.press("n", "n")
        assert screen.query_one(DiffLines).file.path == "utils.py"
        await pilot.press("n")  # round again
        assert screen.query_one(DiffLines).file.path == "src/parser.py"
        await pilot.press("p")
        assert screen.query_one(DiffLines).file.path == "utils.py"
        await pilot.press("m")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await pilot.press("n")  # no: nothing merged
        await pilot.pause()
        assert [c for c in actions.calls if c[0] == "merge"] == []
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert [c for c in actions.calls if c[0] == "merge"] == [("merge", ("coder",), {})]
        await pilot.press("t")
        await pilot.pause()
        from textual.widgets import Input

        field = app.screen.query_one(Input)
        field.value = "also handle comments"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert actions.calls[-1] == ("send", ("coder", "also handle comments"), {})
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "Screen"


async def test_an_error_is_one_line_in_the_view() -> None:
    app, _ = diff_app(ActionError("git diff failed in /repo: fatal: bad revision 'abc...mc/coder'\nsecond line"))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert app.screen.error == "git diff failed in /repo: fatal: bad revision 'abc...mc/coder' second line"
        assert app.is_running


async def test_a_diff_of_thousands_of_lines_renders_only_what_is_in_sight() -> None:
    big = "diff --git a/big.py b/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/big.py\n@@ -0,0 +1,40000 @@\n"
    big += "\n".join(f"+value_{i} = compute({i}, 'x' * {i % 70})  # line {i}" for i in range(40000)) + "\n"
    started = time.monotonic()
    files = parse_diff(big + SMALL_DIFF)
    assert files[0].added == 40000 and time.monotonic() - started < 2.0
    app, _ = diff_app(BranchDiff(agent="coder", branch="b", base="main", files=files))
    app.animation_level = "none"  # a scroll jumps: each screen it shows is counted once (frames of an animation vary with load)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        body = app.screen.query_one(DiffLines)
        assert body.virtual_size.height == 40005
        assert 0 < body.rendered <= 2 * body.size.height
        started = time.monotonic()
        await pilot.press("end")
        await pilot.pause()
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        assert time.monotonic() - started < 5.0
        assert body.rendered <= 4 * body.size.height  # the first screen, the last, two pages up: never the 40000 lines
        await pilot.press("n")  # the next file: its own lines only
        assert body.file.path == "src/parser.py" and body.rendered <= body.size.height


# -- a real repository, through the app factory and the real actions ---------------------------------


@pytest.fixture
def agent_branch(tmp_path: Path, git_env):
    repo = make_repo(tmp_path / "repo", {"src/app.py": "def main():\n    return 1\n", "notes.txt": "keep\n"})
    base = sha(repo)
    git(repo, "checkout", "-q", "-b", "mc/dev1")
    commit(repo, "dev1: change main", {"src/app.py": "def main():\n    return 2\n", "odd name $(x).txt": "odd\n"})
    commit(repo, "dev1: add many lines", {"data.txt": "".join(f"row {i}\n" for i in range(3000))})
    git(repo, "checkout", "-q", "main")
    config = load_text(tmp_path / "agents.toml", f'[mission]\nsession = "t"\nrepo = "{repo}"\n'
                       '[[agent]]\nname = "dev1"\nkind = "shell"\ncommand = "x"\n', environ={})
    store = Store(config.store_path)
    spec = config.agents[0]
    store.record_agent("dev1", kind="shell", pane_id=None, window=None, launched_at=1.0, task=None, base_commit=base,
                       branch="mc/dev1", spec=spec.model_dump(mode="json"))
    store.write_snapshot(FleetSnapshot(taken_at=time.time(), session="t", agents=(
        AgentSnapshot(name="dev1", kind="shell", status=Status.IDLE, at_prompt=True, commits=2, dirty_files=0),)))
    return config, store, repo


def test_the_actions_read_a_real_branch_as_files(agent_branch) -> None:
    config, store, _ = agent_branch
    diff = FleetActions(config, actor="test", store=store).diff("dev1")
    assert {f.path: (f.status, f.added, f.removed) for f in diff.files} == {
        "src/app.py": ("modified", 1, 1), "odd name $(x).txt": ("added", 1, 0), "data.txt": ("added", 3000, 0)}
    assert [c.split(" ", 1)[1] for c in diff.commits] == ["dev1: add many lines", "dev1: change main"]
    with pytest.raises(ActionError, match="no agent|unknown|not"):
        FleetActions(config, actor="test", store=store).diff("nobody")


async def test_d_shows_a_real_branch_through_the_app_factory(agent_branch) -> None:
    config, store, _ = agent_branch
    app = create_app(config, poll_seconds=0.05, bell=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot_until(pilot, lambda: app.selected_name == "dev1")
        await pilot.press("D")
        screen = app.screen
        await pilot_until(pilot, lambda: screen.diff is not None or screen.error is not None)
        assert screen.error is None and len(screen.diff.files) == 3
        assert "2 commits" in str(screen.query_one("#diff-top").render())


def test_a_megabyte_line_is_drawn_cut_and_says_how_much_is_left() -> None:
    started = time.monotonic()
    text = diff_line_text("+" + "x = 1; " * 150_000, None, in_hunk=True)
    assert time.monotonic() - started < 1.0
    assert text.plain.endswith(f" … {150_000 * 7 + 1 - 2000} more characters") and len(text.plain) < 2100


async def test_fifty_changed_files_are_listed_and_walked_through(tmp_path: Path, git_env) -> None:
    """The issue's check: a branch with 50 changed files, read by git, each reachable with n / p."""
    repo = make_repo(tmp_path / "repo")
    base = sha(repo)
    git(repo, "checkout", "-q", "-b", "wide")
    commit(repo, "fifty files", {f"pkg/mod_{i:02d}.py": f"VALUE = {i}\n" * (i + 1) for i in range(50)})
    files = parse_diff(diff_text(repo, "wide", base))
    assert len(files) == 50 and sum(f.added for f in files) == sum(range(1, 51))
    app, _ = diff_app(BranchDiff(agent="coder", branch="wide", base="main", files=files))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert app.screen.query_one(OptionList).option_count == 50
        body = app.screen.query_one(DiffLines)
        await pilot.press(*["n"] * 49)
        assert body.file.path == "pkg/mod_49.py" and app.screen.query_one(OptionList).highlighted == 49
        await pilot.press("n")
        assert body.file.path == "pkg/mod_00.py"
