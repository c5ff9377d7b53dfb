# Sourced by integration tests after `FAIRWAY="$(realpath "$1")"`: the repository, kubectl, a
# work directory removed on exit (with the API server and scheduler it started), fail(), k()
# (kubectl on the embedded API server), wait_for, free_port, gpu_node, queue_pod, start_apiserver and
# start_scheduler_with_webhook. A script may define on_fail to print
# more (pods, events) before the scheduler's log when it fails, and on_cleanup to stop processes
# of its own before the work directory goes.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
KUBECTL="${KUBECTL:-$REPO/.tools/bin/kubectl}"
WORK="$(mktemp -d)"
# A home of the test's own: kubectl caches discovery under ~/.kube/cache by host:port, and a
# server of an earlier test on the same port would otherwise answer for this one's resources.
export HOME="$WORK/home"
mkdir -p "$HOME"
API_PID=""
SCHED_PID=""
cleanup() {
  if declare -F on_cleanup >/dev/null; then on_cleanup || true; fi
  [ -n "$SCHED_PID" ] && kill "$SCHED_PID" 2>/dev/null || true
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  if declare -F on_fail >/dev/null; then on_fail >&2 || true; fi
  echo "--- scheduler log (tail)" >&2
  tail -30 "$WORK/sched.log" >&2 || true
  exit 1
}
k() { "$KUBECTL" --kubeconfig "$WORK/kc" --request-timeout=10s "$@"; }
# Starts the embedded API server (extra flags as arguments) and waits until kubectl reaches it.
start_apiserver() {
  "$FAIRWAY" apiserver --port 0 --kubeconfig-out "$WORK/kc" "$@" >"$WORK/api.log" 2>&1 &
  API_PID=$!
  for _ in $(seq 100); do
    [ -s "$WORK/kc" ] && k get namespaces >/dev/null 2>&1 && break
    sleep 0.1
  done
  k get namespaces >/dev/null || fail "API server did not come up"
}
# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, polling every 0.1 s.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
# gpu_node NAME GPUS: a Ready node (hostname label NAME, 64 CPUs, 512Gi) with GPUS whole GPUs.
gpu_node() {
  k create -f - >/dev/null <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1","labels":{"kubernetes.io/hostname":"$1"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"$2","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"$2","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
}
# queue_pod NAME QUEUE GPUS: a fairway pod of namespace team in QUEUE asking for GPUS whole GPUs,
# as a YAML document ending in "---" (several can be piped into one `k apply -f -`).
queue_pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: team, labels: {fairway.dev/queue: $2}}
spec:
  schedulerName: fairway
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: $3}}}]
---
YAML
}
# A TCP port free on the loopback now (for a process that cannot be told to pick its own).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Starts the scheduler (extra flags as arguments) with its admission webhook on a free loopback
# port, over a certificate made here ($WORK/tls.crt, for a caBundle); sets WEBHOOK_PORT.
start_scheduler_with_webhook() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=fairway-webhook -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null || fail "openssl could not make a certificate"
  "$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
    --webhook-bind-address=127.0.0.1:0 --webhook-tls-cert-file "$WORK/tls.crt" \
    --webhook-tls-key-file "$WORK/tls.key" "$@" >>"$WORK/sched.log" 2>&1 &
  SCHED_PID=$!
  wait_for 20 "the webhook to listen" grep -q '"msg":"admission webhook serving"' "$WORK/sched.log"
  WEBHOOK_PORT="$(grep '"msg":"admission webhook serving"' "$WORK/sched.log" |
    grep -o '"port":"[0-9]*"' | grep -o '[0-9]\+')"
}
