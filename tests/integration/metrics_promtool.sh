#!/usr/bin/env bash
# /metrics during a live `fairway sim` (embedded API server + the real scheduler): scrapes while
# pods are being bound and after, and `promtool check metrics` (Debian's prometheus package)
# finds nothing to complain about; the families the dashboards and alerts use are present.
# Usage: metrics_promtool.sh PATH/TO/fairway   (ctest passes it; run from the repository root)
set -euo pipefail

FAIRWAY="$(realpath "$1")"
PROMTOOL="${PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}"
WORK="$(mktemp -d)"
SIM_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$WORK/sim.out" >&2 || true; exit 1; }
[ -x "$PROMTOOL" ] || fail "promtool not found (Debian package prometheus; make deps installs it)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

port=$(free_port)
url="http://127.0.0.1:$port"
"$FAIRWAY" sim --speed 20 --hold --metrics-bind-address "127.0.0.1:$port" \
  --kubeconfig-out "$WORK/kc" >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM_PID=$!
for _ in $(seq 200); do curl -sf "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$url/healthz" >/dev/null || fail "/healthz never answered"

check() {  # label
  curl -sf "$url/metrics" >"$WORK/metrics.txt" || fail "$1: scrape failed"
  "$PROMTOOL" check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1 ||
    { cat "$WORK/promtool.txt" >&2; fail "$1: promtool check metrics found problems"; }
}
value() {  # series (exact text before the value) → its value, or empty
  awk -v s="$1" 'index($0, s " ") == 1 { print $2 }' "$WORK/metrics.txt"
}

# While the scenario runs: wait for the first binds.
for _ in $(seq 300); do
  check "during the run"
  binds=$(value fairway_binds_total)
  [ -n "$binds" ] && [ "${binds%.*}" -gt 0 ] && break
  sleep 0.2
done
[ "${binds%.*}" -gt 0 ] || fail "no binds counted during the run"
for family in fairway_pod_scheduling_duration_seconds_bucket fairway_scheduling_attempt_duration_seconds_bucket \
              fairway_scheduling_cycle_phase_duration_seconds_bucket fairway_bind_duration_seconds_bucket \
              fairway_schedule_attempts_total fairway_api_requests_total fairway_watch_restarts_total \
              fairway_relists_total fairway_queue_allocated fairway_queue_fair_share fairway_queue_deserved \
              fairway_queue_pending_pods fairway_queue_dominant_share fairway_queue_limit fairway_node_gpus_allocated \
              fairway_cluster_gpus fairway_cluster_gpus_fragmented fairway_leader fairway_build_info \
              fairway_evictions_total fairway_events_total; do
  grep -q "^$family" "$WORK/metrics.txt" || fail "$family missing from /metrics"
done
[ "$(value 'fairway_cluster_gpus')" = "128" ] || fail "fairway_cluster_gpus is $(value fairway_cluster_gpus), want 128"
[ "$(value 'fairway_leader')" = "1" ] || fail "fairway_leader is not 1"
grep -q '^fairway_queue_limit{queue="research",resource="nvidia.com/gpu"} 112$' "$WORK/metrics.txt" ||
  fail "research's GPU limit (112) not exported"

# After the scenario: every pod bound, latency observed once per pod.
for _ in $(seq 600); do grep -q "^holding" "$WORK/sim.out" && break; sleep 0.2; done
grep -q "^holding" "$WORK/sim.out" || fail "the scenario did not finish"
check "after the run"
count=$(value fairway_pod_scheduling_duration_seconds_count)
binds=$(value fairway_binds_total)
[ -n "$count" ] && [ "$count" = "$binds" ] || fail "pod latency count '$count' != binds '$binds'"
[ "$(value fairway_pending_pods)" = "0" ] || fail "pods still pending after the run: $(value fairway_pending_pods)"
kill -TERM "$SIM_PID"
wait "$SIM_PID" || fail "sim exited with $?"
SIM_PID=""
echo "metrics + promtool: OK"
