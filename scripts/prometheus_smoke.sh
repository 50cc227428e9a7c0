#!/usr/bin/env bash
# A real Prometheus scraping a real demo fleet's /metrics (issue 20): `mission-control up` with the
# shipped demo config and `--metrics`, Debian's `prometheus` scraping it every second, then one
# series asked for through Prometheus's HTTP API. Exits non-zero when the series is missing.
#
#   bash scripts/prometheus_smoke.sh            (PYTHON=path/to/python to pick the interpreter)
#
# Installs `prometheus` with apt-get where it is missing and this user can; where it cannot, it
# says so and exits 0 (SKIPPED). Everything runs on loopback, on a tmux socket, temp folder and
# ports of its own, and is stopped again on any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

if ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "prometheus_smoke: installing Debian's prometheus package"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  else
    echo "prometheus_smoke: SKIPPED: prometheus is not installed and cannot be (needs root and apt-get)"
    exit 0
  fi
fi

WORK=$(mktemp -d /tmp/mc-prometheus-smoke.XXXXXX)
export MISSION_CONTROL_SOCKET="prom-smoke-$$"
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
METRICS_PORT=$(free_port)
PROM_PORT=$(free_port)
PROM_PID=""

cleanup() {
  [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null || true
  "$PYTHON" -m mission_control down -c "$WORK/agents.toml" >/dev/null 2>&1 || true
  tmux -L "$MISSION_CONTROL_SOCKET" kill-server 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# the demo config with a bearer token: Prometheus sends it from a file, as the README shows
( umask 077; "$PYTHON" -c 'import secrets; print(secrets.token_hex(24), end="")' >"$WORK/token" )
sed "s/^\[mission\]\$/[mission]\nmetrics_token = \"$(cat "$WORK/token")\"/" "$ROOT/agents.toml" >"$WORK/agents.toml"
chmod 600 "$WORK/agents.toml"
"$PYTHON" -m mission_control up --no-attach -c "$WORK/agents.toml" --metrics "127.0.0.1:$METRICS_PORT"
"$PYTHON" - "$METRICS_PORT" <<'EOF'
import sys, time, urllib.error, urllib.request
deadline = time.monotonic() + 30  # the supervisor starts serving a moment after `up` returns
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            print("prometheus_smoke: a scrape without the token: HTTP 401")
            sys.exit(0)
    except OSError as exc:
        if time.monotonic() < deadline:
            time.sleep(0.2)
            continue
        print(f"prometheus_smoke: FAILED: /metrics not served: {exc}", file=sys.stderr)
        sys.exit(1)
    print("prometheus_smoke: FAILED: /metrics answered without the token", file=sys.stderr)
    sys.exit(1)
EOF

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mission-control
    authorization:
      credentials_file: $WORK/token
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
echo "prometheus_smoke: prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') on 127.0.0.1:$PROM_PORT scraping http://127.0.0.1:$METRICS_PORT/metrics"

# ask Prometheus (not the fleet) until the demo's spend is in it: one series per agent, `coder` among them
"$PYTHON" - "$PROM_PORT" "$ROOT/examples/grafana/mission-control-fleet.json" <<'EOF' || { echo "--- prometheus log (last lines)" >&2; tail -20 "$WORK/prometheus.log" >&2; exit 1; }
import json, sys, time, urllib.error, urllib.parse, urllib.request

port, dashboard = sys.argv[1], sys.argv[2]


def ask(query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:  # a bad query: Prometheus says why in its JSON
        return json.load(exc)


query = 'mission_control_agent_cost_usd_total{job="mission-control"}'
deadline = time.monotonic() + 120
last = None
while time.monotonic() < deadline:
    try:
        last = ask(query)
    except OSError as exc:
        last = str(exc)
    else:
        series = {r["metric"].get("agent"): float(r["value"][1]) for r in last["data"]["result"]}
        if series.get("coder", 0) > 0:
            print(f"prometheus_smoke: {query} through the HTTP API:")
            for agent, value in sorted(series.items()):
                print(f"  {agent:10} {value:.2f} USD")
            # every query of the Grafana dashboard is valid PromQL and finds data here
            panels = json.load(open(dashboard))["panels"]
            for panel in panels:
                for target in panel["targets"]:
                    expr = target["expr"].replace("$job", ".*").replace("$agent", ".*").replace("$__range", "5m")
                    answer = ask(expr)
                    if answer.get("status") != "success":
                        print(f"prometheus_smoke: FAILED: dashboard panel {panel['title']!r}: {answer.get('error')}", file=sys.stderr)
                        sys.exit(1)
            print(f"prometheus_smoke: the {len(panels)} panels' queries of {dashboard.rsplit('/', 1)[-1]} are valid PromQL")
            sys.exit(0)
    time.sleep(1)
print(f"prometheus_smoke: FAILED: no {query} series with coder's spend after 120 s; last answer: {last}", file=sys.stderr)
sys.exit(1)
EOF
