"""`/metrics` (issue 20): a real fleet scraped and parsed by prometheus_client's own parser,
compared with `status --json` field by field; the token; the address checks of `up`; the
pure state the collector builds (monotone counters, agents that leave, labels)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import make_repo, retry_until, role_pid, run_cli, shell_agent, status_of, up, write_config
from mission_control.core.listen_address import exposure_problem, parse_listen_address
from mission_control.core.model import AgentSnapshot, FleetSnapshot, Status
from mission_control.core.config import AgentSpec
from mission_control.core.records import AgentRecord, parse_spec
from mission_control.core.tasks import Task
from mission_control.fleet.metrics import MetricsState, advance, families, follow

TOKEN = "s3cret-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int, token: str | None = TOKEN) -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, parsed by prometheus_client's parser: (name, labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def agent_value(got: dict, name: str, agent: str, **labels: str) -> float | None:
    for (n, lab), value in got.items():
        d = dict(lab)
        if n == name and d.get("agent") == agent and all(d.get(k) == v for k, v in labels.items()):
            return value
    return None


# ------------------------------------------------------------------ a real fleet

SPENDER = r"""printf 'Tokens: 2k sent, 300 received. Cost: $0.25 message\n'; git commit -q --allow-empty -m one; echo idle; sleep 1000"""
TOKENS = "tokens = { tokens_in = 'Tokens: ([0-9.k]+) sent', tokens_out = '([0-9.k]+) received', cost = 'Cost: \\$([0-9.]+) message' }\n"


def metrics_fleet(cli, tmp_path: Path, port: int) -> Path:
    make_repo(tmp_path / "repo")
    agents = (shell_agent("spender", SPENDER, TOKENS + 'worktree = true\ntask = "spend; then $(rm -rf /) \\"quoted\\""\nroles = ["dev"]\n')
              + shell_agent("quiet", "echo 'waiting'; sleep 1000"))
    mission = f'repo = "repo"\nmetrics = "127.0.0.1:{port}"\nmetrics_token = "{TOKEN}"\n'
    return up(cli, tmp_path, agents, mission)


def test_a_scrape_says_what_status_json_says(cli, tmp_path: Path, git_env) -> None:
    port = free_port()
    cfg = metrics_fleet(cli, tmp_path, port)
    retry_until(lambda: status_of(cli, cfg, "spender").get("commits") == 1 and status_of(cli, cfg, "spender").get("cost_usd") == 0.25,
                timeout=60, message="the spender spent and committed")

    # without the token, or with a wrong one: 401, and nothing of the fleet in the answer
    for token in (None, "wrong", TOKEN + "x", ""):
        code, body = scrape(port, token)
        assert code == 401, (token, code)
        assert "spender" not in body

    def agree():
        code, text = scrape(port)
        assert code == 200, code
        rows = {r["name"]: r for r in cli.status("-c", str(cfg))}
        got = samples(text)
        for name, row in rows.items():
            expected = {
                ("mission_control_agent_status", (("status", row["status"]),)): 1.0,
                ("mission_control_agent_tokens_total", (("type", "input"),)): row["tokens_in"],
                ("mission_control_agent_tokens_total", (("type", "output"),)): row["tokens_out"],
                ("mission_control_agent_tokens_total", (("type", "cache_read"),)): row["tokens_cache_read"],
                ("mission_control_agent_tokens_total", (("type", "cache_write"),)): row["tokens_cache_write"],
                ("mission_control_agent_cost_usd_total", ()): row["cost_usd"],
                ("mission_control_agent_commits", ()): row["commits"],
                ("mission_control_agent_commits_ahead", ()): row["ahead"],
                ("mission_control_agent_commits_behind", ()): row["behind"],
                ("mission_control_agent_resident_memory_bytes", ()): row["rss_bytes"],
                ("mission_control_agent_cpu_ratio", ()): None if row["cpu_percent"] is None else row["cpu_percent"] / 100,
            }
            for status in ("STARTING", "WORKING", "WAITING", "IDLE", "STUCK", "PAUSED", "EXITED"):
                if status != row["status"]:
                    expected[("mission_control_agent_status", (("status", status),))] = 0.0
            for status in ("STARTING", "WORKING", "WAITING", "IDLE", "STUCK", "PAUSED", "EXITED"):
                # status --json carries the current status's time to the moment it is read; the scrape
                # has it as of the supervisor's last tick: at most a tick (and the two reads) apart
                have = agent_value(got, "mission_control_agent_time_in_status_seconds_total", name, status=status)
                want = row["time_in"].get(status, 0.0)
                if have is None or not (want - 3 <= have <= want + 0.05):
                    return f"{name} time in {status}: scrape {have}, status --json {want}"
            for (metric, extra), want in expected.items():
                have = agent_value(got, metric, name, **dict(extra))
                if have != (None if want is None else pytest.approx(float(want))):
                    return f"{name} {metric} {extra}: scrape {have}, status --json {want}"
            since = datetime.fromisoformat(row["since"]).timestamp()
            have = agent_value(got, "mission_control_agent_status_duration_seconds", name)
            if have is None or abs(have - (time.time() - since)) > 3:
                return f"{name} seconds in its status: scrape {have}, since {row['since']}"
        for kind, field in (("input", "tokens_in"), ("output", "tokens_out")):
            if got[("mission_control_fleet_tokens_total", (("type", kind),))] != sum(r[field] or 0 for r in rows.values()):
                return f"fleet tokens {kind}"
        if got[("mission_control_fleet_commits", ())] != sum(r["commits"] or 0 for r in rows.values()):
            return "fleet commits"
        by_status = {s: sum(1 for r in rows.values() if r["status"] == s) for s in ("WORKING", "IDLE", "STUCK", "WAITING")}
        for s, n in by_status.items():
            if got[("mission_control_fleet_agents", (("status", s),))] != n:
                return f"fleet_agents {s}"
        return got

    last: list[str] = []

    def agreed():
        r = agree()
        if isinstance(r, dict):
            return r
        last[:] = [r]
        return None

    try:
        got = retry_until(agreed, timeout=30, interval=0.3, message="a scrape and status --json of the same tick agree")
    except AssertionError:
        raise AssertionError(f"a scrape and status --json never agreed; last difference: {last}") from None
    labels = {dict(lab)["agent"]: dict(lab) for (n, lab) in got if n == "mission_control_agent_status_duration_seconds"}
    assert labels["spender"] == {"agent": "spender", "kind": "shell", "role": "dev", "task": "spender-task", "host": "local"}
    assert labels["quiet"]["role"] == "" and labels["quiet"]["task"] == ""
    assert got[("mission_control_fleet_cost_usd_total", ())] == pytest.approx(0.25)
    assert got[("mission_control_supervisor_tick_duration_seconds_count", ())] >= 1
    assert 0 <= got[("mission_control_snapshot_age_seconds", ())] < 30
    # free text never becomes a label: the task's prompt, the reasons, the output
    code, text = scrape(port)
    assert "rm -rf" not in text and "quoted" not in text
    values = {v for (_n, lab) in samples(text) for _k, v in lab}
    assert "waiting" not in {v.lower() for v in values if v != "WAITING"} and not any("rm -rf" in v for v in values)
    # the token is on no command line, in no store and not in the supervisor's window
    pid = role_pid(cli, "supervisor")
    assert TOKEN not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    for path in (tmp_path / ".mission-control").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in cli.tmux("capture-pane", "-p", "-t", "t:supervisor")

    # scrapers that hang up, send garbage or nothing at all: the supervisor goes on ticking
    for junk in (b"\x00\xff\r\n\r\n", b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer " + b"A" * 70000 + b"\r\n\r\n", b"GET /met"):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(junk)
    silent = socket.create_connection(("127.0.0.1", port))
    try:
        ticks = got[("mission_control_supervisor_tick_duration_seconds_count", ())]
        retry_until(lambda: (r := scrape(port))[0] == 200
                    and samples(r[1])[("mission_control_supervisor_tick_duration_seconds_count", ())] > ticks + 2,
                    timeout=30, message="the supervisor ticks and serves on")
    finally:
        silent.close()
    assert scrape(port)[0] == 200
    assert "Traceback" not in cli.tmux("capture-pane", "-p", "-S", "-200", "-t", "t:supervisor")

    # a restart is counted; the counters never go down across it
    before = samples(scrape(port)[1])
    assert run_cli(cli, cfg, "restart", "spender").returncode == 0
    after = retry_until(lambda: (s := samples(scrape(port)[1])) and agent_value(s, "mission_control_agent_restarts_total", "spender") == 1 and s,
                        timeout=30, message="the restart is counted")
    for key, value in before.items():
        if key[0].endswith("_total") and key in after:
            assert after[key] >= value, key


def test_up_refuses_an_address_it_cannot_serve_before_it_starts_anything(cli, tmp_path: Path) -> None:
    agents = shell_agent("a", "sleep 1000")
    cfg = write_config(tmp_path, f'[mission]\nsession = "t"\n{agents}')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run_cli(cli, cfg, "up", "--no-attach", "--metrics", f"127.0.0.1:{port}")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"mission-control: metrics address 127.0.0.1:{port}: port {port} is taken "
                                             "(another process listens on it): choose another port; nothing started"]
    assert not cli.server_running() and not (tmp_path / ".mission-control").exists()

    cases = [
        (["--metrics", "nonsense"], 2, "--metrics 'nonsense' is not an address"),
        (["--metrics", "127.0.0.1:0"], 2, "the port must be a number from 1 to 65535"),
        (["--metrics", "0.0.0.0:9464"], 2, "is reachable from other machines: set metrics_token"),
        (["--metrics", "127.0.0.1:9464;$(id)"], 2, "the port must be a number"),
    ]
    for args, code, words in cases:
        r = run_cli(cli, cfg, "up", "--no-attach", *args)
        assert r.returncode == code and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, (args, r.stderr)
        assert not cli.server_running()

    # an address this machine does not have (TEST-NET-1), served publicly: cannot be bound
    public = write_config(tmp_path, f'[mission]\nsession = "t"\nmetrics = "192.0.2.1:{free_port()}"\nmetrics_public = true\n{agents}', "pub.toml")
    r = run_cli(cli, public, "up", "--no-attach")
    assert r.returncode == 1 and "this machine has no such address" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not cli.server_running()


def test_check_refuses_exposure_without_a_token_and_never_shows_the_token(cli, tmp_path: Path) -> None:
    agents = shell_agent("a", "sleep 1000")
    for mission, words in (
        ('metrics = "0.0.0.0:9464"', "reachable from other machines: set metrics_token"),
        ('metrics = "[2001:db8::1]:9464"', "reachable from other machines"),
        ('metrics = "example.org:9464"', "reachable from other machines"),
        ('metrics_token = "tooshort-secret"', "too short"),
        ('metrics_token = "has a space in it secret"', "printable ASCII without spaces"),
        ('metrics_token = 1234567890123456789', "must be a string, not int (its value is not shown)"),
    ):
        cfg = write_config(tmp_path, f'[mission]\n{mission}\n{agents}')
        r = run_cli(cli, cfg, "check")
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, (mission, r.stderr)
        assert "secret" not in r.stderr and "1234567890123456789" not in r.stderr
    for mission in ('metrics = "0.0.0.0:9464"\nmetrics_public = true', f'metrics = "0.0.0.0:9464"\nmetrics_token = "{TOKEN}"',
                    'metrics = "[::1]:9464"', 'metrics = "localhost:9464"', 'metrics = "127.0.0.2:9464"'):
        cfg = write_config(tmp_path, f'[mission]\n{mission}\n{agents}')
        r = run_cli(cli, cfg, "check")
        assert r.returncode == 0, (mission, r.stderr)


# ------------------------------------------------------------------ pure


@pytest.mark.parametrize("text", ["", "9464", ":9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                                  "127.0.0.1:９４６４", "::1:9464", "[::1]9464", "[127.0.0.1]:9464", "a_b:1", "h\nost:1", "[::1]:x"])
def test_malformed_addresses_are_one_line(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_listen_address(text)
    assert "\n" not in str(err.value)


def test_loopback_only_without_a_token() -> None:
    assert parse_listen_address("[::1]:1").loopback and parse_listen_address("127.9.9.9:1").loopback
    assert exposure_problem(parse_listen_address("10.0.0.1:9464"), None, False)
    assert exposure_problem(parse_listen_address("10.0.0.1:9464"), TOKEN, False) is None
    assert exposure_problem(parse_listen_address("10.0.0.1:9464"), None, True) is None


def spec(name: str, roles: tuple[str, ...] = ()) -> AgentSpec:
    return parse_spec(name, "shell", {"command": "x", "roles": list(roles)})


def rec(name: str, launched: float, roles: tuple[str, ...] = ()) -> AgentRecord:
    return AgentRecord.of_spec(spec(name, roles), launched_at=launched)


def snap(at: float, *agents: AgentSnapshot) -> FleetSnapshot:
    return FleetSnapshot(taken_at=at, session="t", agents=agents)


def exposed(state: MetricsState, now: float) -> dict:
    from prometheus_client import CollectorRegistry, generate_latest

    class One:
        def collect(self):
            return families(state, now)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    return samples(generate_latest(registry).decode())


def test_counters_stay_monotone_and_agents_that_leave_leave_no_series() -> None:
    a = AgentSnapshot(name="a", kind="shell", status=Status.WORKING, since=100, tokens_in=1000, cost_usd=0.5,
                      reason="free text {x=\"1\"}", task="do $(this)", task_id="t1", time_in={"WORKING": 10.0})
    b = AgentSnapshot(name="b", kind="shell", status=Status.WAITING, since=100, tokens_in=50, cost_usd=0.1)
    state = advance(MetricsState(), snap(110, a, b), [rec("a", 90, ("dev",)), rec("b", 90)], [], 0.02)
    got = exposed(state, 111)
    assert agent_value(got, "mission_control_agent_tokens_total", "a", type="input") == 1000
    assert agent_value(got, "mission_control_agent_status_duration_seconds", "a") == 11
    # the agent restarted: its meter and time start over; the counters keep what they counted
    a2 = AgentSnapshot(name="a", kind="shell", status=Status.IDLE, since=120, tokens_in=200, cost_usd=0.1, task_id="t1",
                       time_in={"IDLE": 3.0})
    state = advance(state, snap(123, a2, b), [rec("a", 120, ("dev",)), rec("b", 90)], [], 0.03)
    got = exposed(state, 123)
    assert agent_value(got, "mission_control_agent_tokens_total", "a", type="input") == 1200
    assert agent_value(got, "mission_control_agent_cost_usd_total", "a") == pytest.approx(0.6)
    assert agent_value(got, "mission_control_agent_time_in_status_seconds_total", "a", status="WORKING") == 10
    assert agent_value(got, "mission_control_agent_restarts_total", "a") == 1
    assert got[("mission_control_fleet_cost_usd_total", ())] == pytest.approx(0.7)
    assert got[("mission_control_supervisor_tick_duration_seconds_bucket", (("le", "0.025"),))] == 1
    assert got[("mission_control_supervisor_tick_duration_seconds_bucket", (("le", "0.05"),))] == 2
    assert not any("free text" in v or "$(this)" in v for (_n, lab) in got for _k, v in lab)
    # b leaves: none of its series is built any more; the fleet's spend keeps what it spent
    state = advance(state, snap(124, a2), [rec("a", 120, ("dev",))], None, 0.01)
    got = exposed(state, 124)
    assert not any(dict(lab).get("agent") == "b" for (_n, lab) in got)
    assert got[("mission_control_fleet_cost_usd_total", ())] == pytest.approx(0.7)
    assert got[("mission_control_fleet_agents", (("status", "WAITING"),))] == 0


def test_agents_of_other_hosts_carry_their_host_and_each_host_its_reachability_and_round_trip() -> None:
    """Issue 22 point 4: /metrics on the laptop carries the `host` label."""
    here = AgentSnapshot(name="here", kind="shell", status=Status.WORKING, cost_usd=0.5)
    there = AgentSnapshot(name="there", kind="shell", status=Status.IDLE, cost_usd=0.25, host="box", host_latency_ms=3.0)
    far = AgentSnapshot(name="far", kind="shell", status=Status.UNREACHABLE, host="gpu")
    got = exposed(advance(MetricsState(), snap(10, here, there, far), [rec("here", 1)], [], None), 10)
    assert agent_value(got, "mission_control_agent_cost_usd_total", "there", host="box") == 0.25
    assert agent_value(got, "mission_control_agent_cost_usd_total", "here", host="local") == 0.5
    assert got[("mission_control_host_reachable", (("host", "box"),))] == 1
    assert got[("mission_control_host_reachable", (("host", "gpu"),))] == 0
    assert got[("mission_control_host_latency_seconds", (("host", "box"),))] == 0.003
    assert ("mission_control_host_latency_seconds", (("host", "gpu"),)) not in got
    assert got[("mission_control_fleet_cost_usd_total", ())] == 0.75
    alone = exposed(advance(MetricsState(), snap(10, here), [rec("here", 1)], [], None), 10)
    assert not any(n.startswith("mission_control_host_") for (n, _lab) in alone)


def test_tasks_by_shown_state() -> None:
    tasks = [Task(id="x", prompt="p", state="queued", after=("y",)), Task(id="y", prompt="p", state="working"),
             Task(id="z", prompt="p", state="done")]
    got = exposed(advance(MetricsState(), snap(1), [], tasks, None), 1)
    states = {dict(lab)["state"]: v for (n, lab), v in got.items() if n == "mission_control_fleet_tasks"}
    assert (states["blocked"], states["queued"], states["working"], states["done"], states["failed"]) == (1, 0, 1, 1, 0)


def test_follow() -> None:
    c, grew = follow(None, 5)
    c, grew = follow(c, 7)
    assert (c.value, grew) == (7, 2)
    c, grew = follow(c, 3)  # started over
    assert (c.value, grew) == (10, 3)


def test_the_grafana_dashboard_uses_only_names_the_supervisor_exports() -> None:
    import re

    from helpers import ROOT

    a = AgentSnapshot(name="a", kind="shell", status=Status.WAITING, since=1, tokens_in=1, cost_usd=0.1, commits=1, ahead=1,
                      behind=0, cpu_percent=1.0, rss_bytes=1)
    exported = {name.removesuffix("_total") for name, _lab in exposed(advance(MetricsState(), snap(2, a), [], [], 0.01), 3)}
    exported |= {n + "_bucket" for n in exported} | {n + "_total" for n in exported}
    text = (ROOT / "examples" / "grafana" / "mission-control-fleet.json").read_text()
    used = set(re.findall(r"mission_control_[a-z_]+", text))
    assert used and used <= exported, used - exported
    readme = (ROOT / "README.md").read_text()
    assert all(name in readme for name in {n.removesuffix("_bucket") for n in used}), "README lists every metric"


def test_a_running_fleet_keeps_its_address_and_a_restarted_supervisor_checks_it(cli, tmp_path: Path) -> None:
    port = free_port()
    cfg = up(cli, tmp_path, shell_agent("a", "echo hi; sleep 1000"), f'metrics = "127.0.0.1:{port}"\n')
    retry_until(lambda: scrape(port, None)[0] == 200, timeout=30, message="served")
    r = run_cli(cli, cfg, "up", "--no-attach", "--metrics", f"127.0.0.1:{free_port()}")
    assert r.returncode == 0 and "the running supervisor keeps its metrics address" in r.stderr
    # the supervisor dies and someone takes its port: `up` says so instead of restarting it blind
    from helpers import kill_hard

    kill_hard(role_pid(cli, "supervisor"))
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

        def bound() -> bool:  # its threads may still be exiting (holding the socket) after its pid is a zombie
            try:
                taken.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

        retry_until(bound, timeout=10, message="the dead supervisor's port is free")
        taken.listen(1)
        r = run_cli(cli, cfg, "up", "--no-attach")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert f"port {port} is taken" in r.stderr and "the supervisor was not restarted" in r.stderr
    assert run_cli(cli, cfg, "up", "--no-attach").returncode == 0  # the port is free again
    retry_until(lambda: scrape(port, None)[0] == 200, timeout=30, message="served again by the new supervisor")


def test_a_supervisor_that_cannot_bind_says_so_and_supervises_on(tmp_path: Path) -> None:
    """The port taken between `up`'s check and the supervisor's start: one line, one action-log row."""
    from mission_control.adapters.store import Store
    from mission_control.core.config import load_text
    from mission_control.fleet.metrics import serve_metrics

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path, f'[mission]\nmetrics = "127.0.0.1:{port}"\n' + shell_agent("a", "true"))
        config = load_text(cfg, cfg.read_text())
        store = Store(tmp_path / "state.db")

        class Sup:
            on_tick: list = []

        Sup.store = store
        said: list[str] = []
        assert serve_metrics(config, Sup(), said.append) is None
    assert said == [f"metrics not served: metrics address 127.0.0.1:{port}: port {port} is taken (another process listens on it): choose another port"]
    assert Sup.on_tick == []
    assert any(a["action"] == "metrics" and "is taken" in a["detail"] for a in store.actions())
