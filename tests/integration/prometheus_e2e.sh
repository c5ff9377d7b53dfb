#!/usr/bin/env bash
# A real Prometheus server (Debian's prometheus package) on loopback scrapes fairway during a
# live `fairway sim`; its HTTP API (/api/v1/query) then shows queue allocations and the pod
# latency histogram, with values that make sense for the demo cluster (16 nodes x 8 GPUs).
# Usage: prometheus_e2e.sh PATH/TO/fairway   (ctest passes it; run from the repository root)
set -euo pipefail

FAIRWAY="$(realpath "$1")"
PROMETHEUS="${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}"
WORK="$(mktemp -d)"
SIM_PID=""
PROM_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null || true
  [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$WORK/prom.log" >&2 || true; exit 1; }
[ -x "$PROMETHEUS" ] || fail "prometheus not found (Debian package prometheus; make deps installs it)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port=$(free_port)
prom_port=$(free_port)
cat >"$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: fairway
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YAML
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prom.log" 2>&1 &
PROM_PID=$!
"$FAIRWAY" sim --speed 5 --hold --metrics-bind-address "127.0.0.1:$port" \
  --kubeconfig-out "$WORK/kc" >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM_PID=$!

# query EXPR → the first sample's value ("" when the result is empty).
query() {
  curl -sf --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
r = d["data"]["result"]
print(r[0]["value"][1] if r else "")'
}
wait_for() {  # description expr python-condition-on-v
  local v=""
  for _ in $(seq 240); do
    v=$(query "$2" 2>/dev/null || true)
    if [ -n "$v" ] && python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if ($3) else 1)" "$v"; then
      echo "$1: $v"; return 0
    fi
    sleep 0.5
  done
  fail "$1: $2 = '$v', want $3"
}

wait_for "fairway scraped" 'up{job="fairway"}' 'v == 1'
# Queue allocations: research (vision + nlp) takes the idle cluster beyond its quota of 64 early
# in the demo, never beyond the cluster's 128 GPUs or its limit of 112.
wait_for "research allocated at its peak" \
  'max_over_time(fairway_queue_allocated{queue="research",resource="nvidia.com/gpu"}[10m])' 'v > 64 and v <= 112'
wait_for "vision + nlp = research" \
  'sum(fairway_queue_allocated{queue=~"vision|nlp",resource="nvidia.com/gpu"}) - on() fairway_queue_allocated{queue="research",resource="nvidia.com/gpu"}' 'v == 0'
wait_for "cluster GPUs" 'fairway_cluster_gpus' 'v == 128'
wait_for "fair share within capacity" 'sum(fairway_queue_fair_share{queue=~"production|research|default",resource="nvidia.com/gpu"})' 'v <= 128.001'
# The pod latency histogram: pods were bound, and the median is a latency, not garbage.
wait_for "pods with a latency" 'fairway_pod_scheduling_duration_seconds_count' 'v >= 20'
wait_for "median pod latency (s)" 'histogram_quantile(0.5, sum by (le) (fairway_pod_scheduling_duration_seconds_bucket))' 'v >= 0 and v < 600'
wait_for "every bind counted" 'fairway_binds_total' 'v >= 20'
wait_for "no bind errors" 'sum(fairway_bind_errors_total) or vector(0)' 'v == 0'

kill -TERM "$SIM_PID"; wait "$SIM_PID" || true; SIM_PID=""
kill "$PROM_PID"; wait "$PROM_PID" 2>/dev/null || true; PROM_PID=""
echo "prometheus e2e: OK"
