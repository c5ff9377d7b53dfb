#!/usr/bin/env bash
# GPU use against allocation (docs/utilization.md) with a real Prometheus (Debian's package):
# it scrapes a stand-in dcgm-exporter that this script serves in dcgm-exporter's text format, and
# fairway reads the series back through Prometheus' HTTP API.
#  One 8-GPU node; queue a (no quota) runs a-idle (4 GPUs at 0%, the older) and a-busy (4 GPUs at
#  80%); queue b has a quota of 4.
#  1. /metrics: a's utilisation ratio is 0.4 ((4×0 + 4×80) / 8 / 100), one idle pod holding 4 GPUs.
#  2. `fairway report idle` lists a-idle (not a-busy), as a table and as JSON.
#  3. With --idle-victims-first, b's 4-GPU pod reclaims from a: the idle pod goes, though the
#     usual order (least run time lost) would take the younger a-busy; its Event says why.
# $1: the fairway binary; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: gpu_utilization.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
PROMETHEUS="${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}"
[[ -x $PROMETHEUS ]] || fail "prometheus not found (Debian package prometheus; make deps installs it)"
EXPORTER_PID=""
PROM_PID=""
on_cleanup() {
  [[ -n $PROM_PID ]] && kill "$PROM_PID" 2>/dev/null
  [[ -n $EXPORTER_PID ]] && kill "$EXPORTER_PID" 2>/dev/null
  return 0
}
on_fail() {
  k get pods -A -o wide
  k get events -A
  echo "--- prometheus (tail)"
  tail -5 "$WORK/prom.log"
}

start_apiserver
gpu_node gpu-0 8
k create namespace team >/dev/null
queue() {  # queue NAME GPU_QUOTA
  printf '%s\n' "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" "metadata: {name: $1}" \
    "spec: {resources: {nvidia.com/gpu: {quota: $2}}}"
}
queue a 0 | k apply -f - >/dev/null
queue b 4 | k apply -f - >/dev/null
queue_pod a-idle a 4 | k apply -f - >/dev/null
sleep 1.1  # a-busy is the younger by creationTimestamp (whole seconds)
queue_pod a-busy a 4 | k apply -f - >/dev/null

# The stand-in exporter: dcgm-exporter's families, one series per GPU, labelled with the pod
# holding it (as dcgm-exporter's Kubernetes mode does).
exporter_port=$(free_port)
{
  echo "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %)."
  echo "# TYPE DCGM_FI_DEV_GPU_UTIL gauge"
  for i in 0 1 2 3 4 5 6 7; do
    if ((i < 4)); then pod=a-idle util=0; else pod=a-busy util=80; fi
    echo "DCGM_FI_DEV_GPU_UTIL{gpu=\"$i\",UUID=\"GPU-0000000$i\",device=\"nvidia$i\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"gpu-0\",container=\"c\",namespace=\"team\",pod=\"$pod\"} $util"
  done
  echo "# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB)."
  echo "# TYPE DCGM_FI_DEV_FB_USED gauge"
  for i in 0 1 2 3 4 5 6 7; do
    if ((i < 4)); then pod=a-idle mib=1024; else pod=a-busy mib=61440; fi
    echo "DCGM_FI_DEV_FB_USED{gpu=\"$i\",UUID=\"GPU-0000000$i\",device=\"nvidia$i\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"gpu-0\",container=\"c\",namespace=\"team\",pod=\"$pod\"} $mib"
  done
} >"$WORK/dcgm.txt"
python3 - "$exporter_port" "$WORK/dcgm.txt" >"$WORK/exporter.log" 2>&1 <<'PY' &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Metrics).serve_forever()
PY
EXPORTER_PID=$!

prom_port=$(free_port)
cat >"$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: dcgm-exporter
    static_configs: [{targets: ["127.0.0.1:$exporter_port"]}]
YAML
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prom.log" 2>&1 &
PROM_PID=$!
prometheus="http://127.0.0.1:$prom_port"
scraped() {
  local up
  up=$(curl -sf --get "$prometheus/api/v1/query" --data-urlencode 'query=up{job="dcgm-exporter"}')
  grep -q '"value":\[[0-9.]*,"1"\]' <<<"$up"
}
wait_for 30 "Prometheus to scrape the stand-in exporter" scraped

metrics_port=$(free_port)
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --preemption-period=1s --metrics-bind-address="127.0.0.1:$metrics_port" \
  --utilization-prometheus="$prometheus" --utilization-series-selector='job="dcgm-exporter"' \
  --utilization-period=1s --utilization-window=60s --idle-gpu-threshold=5 --idle-gpu-after=3s --idle-victims-first >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
bound() { [[ -n $(k get pod -n team "$1" -o jsonpath='{.spec.nodeName}') ]]; }
wait_for 20 "a's pods bound" bound a-idle
wait_for 20 "a's pods bound" bound a-busy

# 1. The queue's series.
metrics_show() {
  local page
  page=$(curl -sf "http://127.0.0.1:$metrics_port/metrics")
  grep -Eq "$1" <<<"$page"
}
wait_for 30 "fairway_queue_gpu_utilization_ratio of a at 0.4" \
  metrics_show '^fairway_queue_gpu_utilization_ratio\{queue="a"\} 0\.4$'
wait_for 30 "one idle GPU pod in a" metrics_show '^fairway_queue_idle_gpu_pods\{queue="a"\} 1$'
metrics_show '^fairway_queue_idle_gpus\{queue="a"\} 4$' || fail "a's idle pod should hold 4 GPUs"
metrics_show '^fairway_queue_gpus_measured\{queue="a"\} 8$' || fail "all 8 of a's GPUs are measured"
metrics_show '^fairway_utilization_query_failures_total 0$' || fail "a utilisation query failed"
echo "ok: /metrics shows a's GPU utilisation (0.4) and its idle pod"

# 2. The report, as a table and as JSON.
report=$("$FAIRWAY" report idle --kubeconfig "$WORK/kc" --utilization-prometheus="$prometheus" \
  --utilization-window=60s --idle-gpu-after=3s)
echo "$report"
grep -Eq '^team/a-idle +a +gpu-0 +4 +[0-9]+s +0% +0% +1024Mi +4 GPUs$' <<<"$report" ||
  fail "report idle does not list a-idle"
! grep -q 'a-busy' <<<"$report" || fail "report idle lists the busy pod"
json=$("$FAIRWAY" report idle --kubeconfig "$WORK/kc" --utilization-prometheus="$prometheus" \
  --utilization-window=60s --idle-gpu-after=3s --output json)
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert [p["pod"] for p in d["idle"]] == ["team/a-idle"], d
q = {q["queue"]: q for q in d["queues"]}
assert abs(q["a"]["utilizationRatio"] - 0.4) < 1e-9 and q["a"]["idleGpus"] == 4, q
' "$json" || fail "report idle --output json: $json"
# Series of another job (a tenant's own exporter, say) are not GPU use once the selector names
# the exporter's.
other=$("$FAIRWAY" report idle --kubeconfig "$WORK/kc" --utilization-prometheus="$prometheus" \
  --utilization-series-selector='job="someone-else"' --utilization-window=60s --idle-gpu-after=3s)
grep -q '^No GPU pod has been idle' <<<"$other" || fail "the series selector was not applied: $other"
out=$("$FAIRWAY" report idle --kubeconfig "$WORK/kc" --utilization-prometheus="$prometheus" \
  --utilization-window=60s --idle-gpu-after=120s 2>&1) && fail "--idle-gpu-after beyond the window accepted"
grep -q 'not longer than --utilization-window' <<<"$out" || fail "unclear error: $out"
echo "ok: fairway report idle lists the idle pod"

explained=$("$FAIRWAY" explain team/a-busy --address "http://127.0.0.1:$metrics_port")
grep -q '^GPU use:   average 80%, peak 80%, memory peak 61440Mi over ' <<<"$explained" ||
  fail "fairway explain shows no GPU use for a-busy: $explained"
explained=$("$FAIRWAY" explain team/a-idle --address "http://127.0.0.1:$metrics_port")
grep -Eq '^GPU use:   average 0%, peak 0%, memory peak 1024Mi over [0-9]+s; idle for [0-9]+s$' <<<"$explained" ||
  fail "fairway explain does not say a-idle is idle: $explained"
echo "ok: fairway explain shows each pod's GPU use"

# 3. b reclaims 4 GPUs: the idle pod is the victim, and its Event says why.
queue_pod b-0 b 4 | k apply -f - >/dev/null
wait_for 30 "b-0 bound" bound b-0
gone() { ! k get pod -n team a-idle >/dev/null 2>&1 || [[ -n $(k get pod -n team a-idle -o jsonpath='{.metadata.deletionTimestamp}') ]]; }
gone || fail "a-idle is still there"
bound a-busy || fail "a-busy was evicted too"
events=$(k get events -n team --field-selector reason=Reclaimed -o jsonpath='{range .items[*]}{.involvedObject.name}: {.message}{"\n"}{end}')
grep -Eq '^a-idle: reclaim: evicted to make room for job team/b-0 of queue "b"; chosen first: GPUs idle for [0-9]+s \(below 5% utilisation; average 0%, peak 0% over [0-9]+s\)$' <<<"$events" ||
  fail "no Reclaimed Event on a-idle saying it was idle: $events"
echo "ok: reclaim took the idle pod first ($(grep a-idle <<<"$events"))"
echo "gpu utilization: OK"
