"""The tmux control-mode client against a real tmux server on a throwaway socket."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from helpers import retry_until
from mission_control.adapters import tmux_control
from mission_control.adapters.processes import ProcessTable
from mission_control.adapters.tmux import Tmux, TmuxError
from mission_control.adapters.tmux_control import ControlClient, ControlCommandError, ControlError, quote

pytestmark = pytest.mark.tmux

SESSION = "t"
WIDE = "wide:" + "abcdefghij" * 30  # 305 cells in a 100-cell pane: wraps, and -J joins it again
UNICODE = "héllo ☃ 日本語 emoji 🚀 tab\there end"


def tmux(socket: str, *args: str, check: bool = True) -> str:
    r = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"tmux {args}: {r.stderr}")
    return r.stdout


def sh(script: str) -> str:
    return f"sh -c '{script}'"


@pytest.fixture
def socket() -> Iterator[str]:
    name = f"mc-test-{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
    # tmux leaves its socket file behind
    (Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / name).unlink(missing_ok=True)


@pytest.fixture
def panes(socket: str) -> dict[str, str]:
    """A session of four panes with known content: static text, unicode, a wide line, a counter."""
    py = sys.executable
    static = f"{py} -c \"print('\\n'.join('static line %d' % i for i in range(80))); import time; time.sleep(600)\""
    uni = f"{py} -c \"print({UNICODE!r}); print({WIDE!r}); print('-' * 99); import time; time.sleep(600)\""
    counter = "sh -c 'i=0; while :; do i=$((i+1)); echo count $i; sleep 0.05; done'"
    idle = "sh -c 'printf \"> \"; read x; echo got $x; sleep 600'"
    first = tmux(socket, "new-session", "-d", "-s", SESSION, "-x", "100", "-y", "30", "-P", "-F", "#{pane_id}", static).strip()
    tmux(socket, "set-option", "-t", SESSION, "window-size", "manual")
    tmux(socket, "set-option", "-g", "remain-on-exit", "on")
    ids = {"static": first}
    ids["unicode"] = tmux(socket, "new-window", "-d", "-t", f"{SESSION}:", "-P", "-F", "#{pane_id}", uni).strip()
    ids["counter"] = tmux(socket, "split-window", "-d", "-t", first, "-P", "-F", "#{pane_id}", counter).strip()
    ids["idle"] = tmux(socket, "split-window", "-d", "-t", ids["unicode"], "-P", "-F", "#{pane_id}", idle).strip()
    plain = Tmux(socket)
    retry_until(lambda: "static line 79" in plain.capture(ids["static"], history=100), message="static pane printed")
    retry_until(lambda: "wide:" in plain.capture(ids["unicode"]), message="unicode pane printed")
    retry_until(lambda: "> " in plain.capture(ids["idle"]), message="idle pane shows its prompt")
    return ids


def window_sizes(socket: str) -> str:
    return tmux(socket, "list-windows", "-a", "-F", "#{window_id} #{window_width}x#{window_height}")


def clients(socket: str) -> list[str]:
    return tmux(socket, "list-clients", "-F", "#{client_name} #{client_control_mode}", check=False).splitlines()


def test_quote() -> None:
    assert quote("%3") == "'%3'"
    assert quote("-S") == "-S"
    assert quote("-10") == "-10"
    assert quote("#{pane_id}") == "'#{pane_id}'"
    assert quote("it's $HOME") == '"it\'s \\$HOME"'
    with pytest.raises(ValueError):
        quote("two\nlines")


def test_capture_equals_the_subprocess_capture(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    with ControlClient(socket, SESSION) as control:
        for name in ("static", "unicode", "idle"):
            for history in (0, 10, 1000):
                for join in (True, False):
                    expected = plain.capture(panes[name], history=history, join=join)
                    assert control.capture(panes[name], history, join) == expected, (name, history, join)
        text = control.capture(panes["unicode"])
        assert UNICODE.replace("\t", " ") in text.replace("\t", " ") or "日本語" in text
        assert WIDE in text  # joined back into one line
        # a pane that keeps printing: equal as soon as it holds still between the two calls
        retry_until(
            lambda: control.capture(panes["counter"], 10) == plain.capture(panes["counter"], 10),
            message="counter pane captured alike",
        )
        with pytest.raises(ControlCommandError, match="can't find pane"):
            control.capture("%999")
    with pytest.raises(TmuxError, match="can't find pane"):
        plain.capture("%999")


def test_counts_the_bytes_of_commands_it_writes(socket: str, panes: dict[str, str]) -> None:
    """The benchmark subtracts these from the supervisor's write() total to get the store's share."""
    with ControlClient(socket, SESSION) as control:
        before = control.stats.written
        commands = [["display-message", "-p", "it's; $(x)"], ["capture-pane", "-p", "-t", panes["static"]]]
        control.run_many(commands)
        expected = sum(len((tmux_control.command_line(c) + "\n").encode()) for c in commands)
        assert control.stats.written - before == expected


def test_tmux_capture_through_the_control_client(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    fast = Tmux(socket)
    assert fast.enable_control(SESSION), fast.control_error
    try:
        for name in ("static", "unicode", "idle"):
            assert fast.capture(panes[name], history=10) == plain.capture(panes[name], history=10)
        with pytest.raises(TmuxError, match="can't find pane"):
            fast.capture("%999")
    finally:
        fast.close()


def test_list_panes_through_the_control_client(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    tmux(socket, "set-option", "-p", "-t", panes["static"], "@mc_agent", "ünï ☃ agent")
    fast = Tmux(socket)
    assert fast.enable_control(SESSION)
    try:
        listed = fast.list_panes()
        assert [p.pane_id for p in listed] == [p.pane_id for p in plain.list_panes()]
        assert {p.pane_id: p.agent for p in listed}[panes["static"]] == "ünï ☃ agent"
        assert all(p.window_activity > 0 for p in listed)
        assert fast.query("display-message", "-p", "-t", panes["idle"], "#{pane_id}") == panes["idle"] + "\n"
        with pytest.raises(TmuxError, match="can't find pane"):
            fast.query("capture-pane", "-p", "-t", "%999")
    finally:
        fast.close()


def test_start_capture_changed_lets_the_caller_work_meanwhile(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    fast = Tmux(socket)
    assert fast.enable_control(SESSION)
    try:
        infos = _pane_infos(plain, panes)
        later = fast.start_capture_changed(infos, history=10)
        assert "static line" in plain.capture(panes["static"])  # other work, meanwhile
        screens = later()
        assert screens[panes["unicode"]] == plain.capture(panes["unicode"], history=10)
        assert set(screens) == set(panes.values())
    finally:
        fast.close()
    # without a control client: a process per pane, same answer
    assert plain.start_capture_changed(infos, history=10)()[panes["unicode"]] == screens[panes["unicode"]]


def test_many_threads_at_once(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    expected = {name: plain.capture(panes[name], history=10) for name in ("static", "unicode", "idle")}
    errors: list[BaseException] = []
    with ControlClient(socket, SESSION) as control:

        def worker(k: int) -> None:
            try:
                names = list(expected)
                for i in range(60):
                    name = names[(i + k) % len(names)]
                    assert control.capture(panes[name], 10) == expected[name]
                    if i % 10 == 0:
                        many = control.capture_many([panes[n] for n in names], 10)
                        assert [many[panes[n]] for n in names] == [expected[n] for n in names]
                    if i % 15 == 0:
                        assert "static line" in control.capture_changed(_pane_infos(plain, panes), 10)[panes["static"]]
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
        assert control.alive


def _pane_infos(tmux_: Tmux, ids: dict[str, str]):
    return [p for p in tmux_.list_panes() if p.pane_id in ids.values()]


def test_capture_changed_recaptures_only_what_changed(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    with ControlClient(socket, SESSION) as control:
        infos = _pane_infos(plain, panes)
        first = control.capture_changed(infos, 10)
        assert set(first) == set(panes.values())
        assert first[panes["static"]] == plain.capture(panes["static"], history=10)

        # the counter prints all the time, in the window of the static pane; the other window is quiet
        def quiet_round():
            screens = control.capture_changed(_pane_infos(plain, panes), 10)
            return screens if control.stats.last_captured == 2 else None

        screens = retry_until(quiet_round, message="only the counter's window is captured again")
        assert screens[panes["unicode"]] is first[panes["unicode"]]  # the same text, reused
        assert screens[panes["idle"]] is first[panes["idle"]]
        assert screens[panes["static"]] == first[panes["static"]]
        assert "count" in screens[panes["counter"]]

        # typing at the prompt is output: noticed
        tmux(socket, "send-keys", "-t", panes["idle"], "yes", "Enter")
        retry_until(
            lambda: "got yes" in control.capture_changed(_pane_infos(plain, panes), 10)[panes["idle"]],
            message="the idle pane's answer is seen",
        )

        # a redraw in place (same row, same cursor, no new history, same process) is seen too
        tmux(socket, "respawn-pane", "-k", "-t", panes["unicode"], sh('printf "spin 1"; sleep 2.5; printf "\\rspin 2"; sleep 600'))
        retry_until(
            lambda: "spin 1" in control.capture_changed(_pane_infos(plain, panes), 10)[panes["unicode"]],
            message="the spinner is seen",
        )
        skipped = []

        def spin_2_seen() -> bool:
            after = control.capture_changed(_pane_infos(plain, panes), 10)[panes["unicode"]]
            if "spin 1" in after and control.stats.last_captured == 2:
                skipped.append(True)  # only the counter's window: the spinner's was not captured
            return "spin 2" in after and "spin 1" not in after

        retry_until(spin_2_seen, message="the redrawn line is seen")
        assert skipped, "while the spinner was still, its window was not captured again"

        # a pane that dies prints nothing more ("Pane is dead" is tmux's), but its signature changes
        tmux(socket, "respawn-pane", "-k", "-t", panes["idle"], sh("echo bye; exit 3"))

        def dead_and_seen() -> bool:
            infos = _pane_infos(plain, panes)
            pane = next(p for p in infos if p.pane_id == panes["idle"])
            if not pane.dead:
                return False
            screen = control.capture_changed(infos, 10).get(panes["idle"], "")
            # (tmux 3.3a sometimes never learns the exit status of a pane respawned with -k:
            # then it is dead without a status, and writes no "Pane is dead" line)
            if pane.dead_status is not None and "Pane is dead" not in screen:
                return False
            # (and under load tmux may lose the last output of a pane that exits at once: whatever
            # tmux shows, the control client must show the same)
            return screen == plain.capture(panes["idle"], 10)

        try:
            retry_until(dead_and_seen, message="the dead pane's screen is seen")
        except AssertionError as exc:  # say what was seen instead
            infos = _pane_infos(plain, panes)
            seen = control.capture_changed(infos, 10).get(panes["idle"], "")[-200:]
            raise AssertionError(f"{exc}; panes {infos}; control saw {seen!r}; tmux has {plain.capture(panes['idle'], 10)[-200:]!r}") from None


def test_capture_changed_always_recaptures_after_the_refresh_period(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    with ControlClient(socket, SESSION, refresh_every=0.0) as control:
        infos = _pane_infos(plain, panes)
        control.capture_changed(infos, 10)
        control.capture_changed(infos, 10)
        assert control.stats.last_captured == len(infos)
        # and when their processes wrote nothing
        table = ProcessTable()
        table.refresh()
        for _ in range(3):
            control.capture_changed(infos, 10, written=lambda p: table.written(p.pid))
            assert control.stats.last_captured == len(infos)


def test_fails_over_to_a_process_when_the_control_client_dies(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    expected = plain.capture(panes["static"], history=10)
    fast = Tmux(socket)
    try:
        assert fast.enable_control(SESSION)
        client = fast.control()
        assert client is not None
        old_pid = client.pid
        os.kill(old_pid, signal.SIGKILL)
        retry_until(lambda: not client.alive, message="the control client is dead")
        with pytest.raises(ControlError):
            client.capture(panes["static"])
        # the Tmux keeps working: by a process, then by a new control client
        assert fast.capture(panes["static"], history=10) == expected
        infos = _pane_infos(plain, panes)
        assert fast.capture_changed(infos, 10)[panes["static"]] == expected
        new = fast.control()
        assert new is not None and new.alive and new.pid != old_pid
    finally:
        fast.close()
    retry_until(lambda: clients(socket) == [], message="no client left")


def test_server_gone_is_a_clear_error(socket: str, panes: dict[str, str]) -> None:
    control = ControlClient(socket, SESSION)
    tmux(socket, "kill-server")
    retry_until(lambda: not control.alive, message="the control client notices")
    with pytest.raises(ControlError, match="tmux control client"):
        control.capture(panes["static"])
    control.close()
    fast = Tmux(socket)
    assert not fast.enable_control(SESSION)
    assert fast.control_error and "control client" in fast.control_error
    with pytest.raises(TmuxError):
        fast.capture(panes["static"])
    assert fast.capture_changed([]) == {}
    fast.close()


def test_attach_to_a_missing_session_is_a_clear_error(socket: str, panes: dict[str, str]) -> None:
    with pytest.raises(ControlError, match="can't find session"):
        ControlClient(socket, "no-such-session")
    with pytest.raises(ControlError, match="can't find session"):
        ControlClient(socket, SESSION[:0] + "t2")  # no prefix matching either
    assert clients(socket) == []


def test_does_not_change_window_sizes(socket: str, panes: dict[str, str]) -> None:
    # a second session whose windows follow their clients' sizes (tmux's default)
    tmux(socket, "new-session", "-d", "-s", "follow", "-x", "123", "-y", "45", "sleep 600")
    tmux(socket, "set-option", "-t", "follow", "window-size", "latest")
    before = window_sizes(socket)
    with ControlClient(socket, SESSION) as a, ControlClient(socket, "follow") as b:
        for c in (a, b):
            c.capture_many(list(panes.values()), 10)
            c.capture_changed(_pane_infos(Tmux(socket), panes), 10)
        assert window_sizes(socket) == before
        assert len(clients(socket)) == 2
    assert window_sizes(socket) == before


def test_closes_cleanly(socket: str, panes: dict[str, str]) -> None:
    control = ControlClient(socket, SESSION)
    pid = control.pid
    assert [c.split()[1] for c in clients(socket)] == ["1"]
    control.close()
    assert not control.alive
    assert clients(socket) == []
    with pytest.raises(OSError):
        os.kill(pid, 0)  # exited and reaped
    with pytest.raises(ControlError, match="closed"):
        control.capture(panes["static"])
    control.close()  # twice is fine


def test_display_reaches_the_person_not_the_control_client(socket: str, panes: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["TERM"] = "xterm-256color"
    master, slave = pty.openpty()
    person = subprocess.Popen(
        ["tmux", "-L", socket, "attach-session", "-t", SESSION], stdin=slave, stdout=slave, stderr=slave,
        env=env, start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()

    def read_screen() -> bytes:
        while select.select([master], [], [], 0.05)[0]:
            try:
                seen.extend(os.read(master, 65536))
            except OSError:
                break
        return bytes(seen)

    try:
        retry_until(lambda: len(clients(socket)) == 1 and read_screen(), message="a person is attached")
        fast = Tmux(socket)
        assert fast.enable_control(SESSION)  # attached after the person: tmux's "best client" now
        try:
            fast.display(SESSION, "mission-control: hello person")
            retry_until(lambda: b"hello person" in read_screen(), message="the message reached the person's terminal")
        finally:
            fast.close()
    finally:
        person.kill()
        person.wait(5)
        os.close(master)


def test_no_control_without_enabling(socket: str, panes: dict[str, str]) -> None:
    plain = Tmux(socket)
    assert plain.control() is None
    plain.capture(panes["static"])
    assert clients(socket) == []
    plain.close()


def test_turned_off_by_environment(socket: str, panes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSION_CONTROL_TMUX_CONTROL", "0")
    t = Tmux(socket)
    assert not t.enable_control(SESSION)
    assert t.control() is None
    assert "static line" in t.capture(panes["static"])
    assert clients(socket) == []


def test_quoting_survives_a_round_trip(socket: str, panes: dict[str, str]) -> None:
    with ControlClient(socket, SESSION) as control:
        for value in ["plain", "it's", 'say "hi" $HOME ~ #{x}; \\ end', "ünï ☃"]:
            control.command("set-option", "-t", SESSION, "@mc_probe", value)
            assert tmux(socket, "show-options", "-t", SESSION, "-v", "@mc_probe").rstrip("\n") == value
        assert tmux_control.command_line(["a b", "%1"]) == "'a b' '%1'"


# -- which panes printed: their process trees' written bytes (ProcessTable.written) ----------------

SPINNER = """import sys, time
while True:
    for c in "|/-+":
        sys.stdout.write("\\r" + c + " thinking"); sys.stdout.flush(); time.sleep(0.2)
"""


@pytest.fixture
def spinner_and_prompt(socket: str, tmp_path: Path) -> dict[str, str]:
    """One window, two panes: a spinner redrawing its line in place every 200 ms (the cursor
    never moves), and a prompt that prints once its fifo gets a line (a redraw in place too)."""
    fifo = tmp_path / "say"
    os.mkfifo(fifo)
    (tmp_path / "spin.py").write_text(SPINNER)
    spinner = sh(f"{sys.executable} {tmp_path / 'spin.py'}; exit 0")  # below the pane's process, as an agent is
    prompt = sh(f'printf \"> \"; read x < {fifo}; printf \"\\r>%s\" \"$x\"; sleep 600')
    ids = {"fifo": str(fifo)}
    ids["spinner"] = tmux(socket, "new-session", "-d", "-s", SESSION, "-x", "100", "-y", "30", "-P", "-F", "#{pane_id}", spinner).strip()
    tmux(socket, "set-option", "-t", SESSION, "window-size", "manual")
    tmux(socket, "set-option", "-g", "remain-on-exit", "on")
    ids["prompt"] = tmux(socket, "split-window", "-d", "-t", ids["spinner"], "-P", "-F", "#{pane_id}", prompt).strip()
    plain = Tmux(socket)
    retry_until(lambda: "thinking" in plain.capture(ids["spinner"]), message="the spinner spins")
    retry_until(lambda: "> " in plain.capture(ids["prompt"]), message="the prompt is shown")
    return ids


class _Ticks:
    """The supervisor's order: list-panes, the process table, then the captures."""

    def __init__(self, socket: str, control: ControlClient, table: ProcessTable) -> None:
        self.plain, self.control, self.table = Tmux(socket), control, table
        self.screens: dict[str, str] = {}

    def infos(self):
        return [p for p in self.plain.list_panes() if p.session == SESSION]

    def pid(self, pane_id: str) -> int:
        return next(p.pid for p in self.infos() if p.pane_id == pane_id)

    def written(self, pane_id: str):
        self.table.refresh()
        return self.table.written(self.pid(pane_id))

    def __call__(self) -> set[str]:
        infos = self.infos()
        self.table.refresh()
        self.screens = self.control.capture_changed(infos, 10, written=lambda p: self.table.written(p.pid))
        return set(self.control.stats.last_panes)

    def drew(self, pane_id: str) -> None:
        """Wait until the pane's processes wrote something."""
        before = self.written(pane_id)
        retry_until(lambda: self.written(pane_id) != before, message=f"{pane_id} wrote")

    def settled(self, pane_id: str, busy: str) -> None:
        """Tick until a tick after `busy` (in the same window) drew leaves the pane alone: a
        pane captured while it wrote is captured once more when its window next prints."""
        retry_until(lambda: (self.drew(busy), pane_id not in self())[1], message=f"{pane_id} is no longer captured")


def test_only_the_pane_that_printed_is_captured(socket: str, spinner_and_prompt: dict[str, str]) -> None:
    ids = spinner_and_prompt
    spinner, prompt = ids["spinner"], ids["prompt"]
    with ControlClient(socket, SESSION, refresh_every=600) as control:
        tick = _Ticks(socket, control, ProcessTable())
        assert tick.written(prompt) is not None  # /proc/PID/io is readable here
        assert {spinner, prompt} <= tick()
        tick.settled(prompt, spinner)
        for _ in range(4):  # the spinner's window prints all the time, the prompt's pane does not
            tick.drew(spinner)
            captured = tick()
            assert spinner in captured and prompt not in captured, captured
        assert control.stats.unwritten >= 4

        # the prompt's pane redraws its line in place (no cursor move, no new history line)
        before = tick.written(prompt)
        with open(ids["fifo"], "w") as f:
            f.write("!\n")
        retry_until(lambda: tick.written(prompt) != before, message="the prompt's pane wrote")
        assert prompt in tick()
        retry_until(lambda: ">!" in (tick(), tick.screens[prompt])[1], timeout=10, message="its new line is seen")
        tick.settled(prompt, spinner)


def test_a_stopped_pane_is_not_captured_and_a_dead_one_is(socket: str, spinner_and_prompt: dict[str, str]) -> None:
    spinner = spinner_and_prompt["spinner"]
    counter = tmux(socket, "split-window", "-d", "-t", spinner, "-P", "-F", "#{pane_id}",
                   sh("i=0; while :; do i=$((i+1)); echo count $i; sleep 0.1; done")).strip()
    with ControlClient(socket, SESSION, refresh_every=600) as control:
        tick = _Ticks(socket, control, ProcessTable())
        tick.table.refresh()
        tree = tick.table.descendants(tick.pid(spinner))[1:]  # (tmux continues the pane's own process)
        assert tree
        for pid in tree:
            os.kill(pid, signal.SIGSTOP)

        def stopped() -> bool:
            tick.table.refresh()
            return all(tick.table.procs[pid].status == "stopped" for pid in tree)

        try:
            retry_until(stopped, message="the spinner is stopped")
            tick.settled(spinner, counter)
            for _ in range(4):  # its window prints all the time (the counter), the stopped spinner does not
                tick.drew(counter)
                captured = tick()
                assert counter in captured and spinner not in captured, captured
        finally:
            for pid in tree:
                os.kill(pid, signal.SIGKILL)
        # captured once it is dead (its signature changed); what tmux 3.3a shows in it then varies:
        # "Pane is dead ..." or, under load, only the shell's "Killed"
        retry_until(lambda: spinner in tick() and any(p.dead for p in tick.infos() if p.pane_id == spinner),
                    message="the dead pane is captured")
        assert "thinking" in tick.screens[spinner]  # its last screen, not an empty one


def test_a_pane_whose_writes_cannot_be_read_falls_back_to_its_window(socket: str, spinner_and_prompt: dict[str, str]) -> None:
    ids = spinner_and_prompt

    def unreadable(pid: int) -> int:
        raise PermissionError(13, "Permission denied")

    with ControlClient(socket, SESSION, refresh_every=600) as control:
        tick = _Ticks(socket, control, ProcessTable(written_by=unreadable))
        assert tick.written(ids["prompt"]) is None
        tick()
        for _ in range(3):  # as without the signal: the spinner's window is captured whole (when it printed:
            # under load a tick can come before the spinner's next frame, so a tick may capture nothing)
            retry_until(lambda: {ids["spinner"], ids["prompt"]} <= tick(), timeout=20, message="the window captured whole")
        assert control.stats.unwritten == 0


def test_written_counts_reaped_children() -> None:
    table = ProcessTable()
    table.refresh()
    before = table.written(os.getpid())
    assert before is not None and before[1][0] == os.getpid()
    subprocess.run([sys.executable, "-c", "import os; os.write(1, b'x' * 100000)"], stdout=subprocess.DEVNULL, check=True)
    table.refresh()
    after = table.written(os.getpid())
    assert after is not None and after[0] - before[0] >= 100000  # the child's writes moved into its parent
    assert table.written(None) is None and table.written(2**22 + 12345) is None
