#!/usr/bin/env bash
# The embedded API server against a real kubectl (Debian's kubernetes-client): apply the fairway
# CRD examples, create a namespace and a pod, get/label/patch/delete, watch, api-resources and the
# Queue printer columns. $1: the fairway binary. kubectl: $KUBECTL, else <repo>/.tools/bin/kubectl.
set -euo pipefail

FAIRWAY=${1:?usage: apiserver_kubectl.sh FAIRWAY_BINARY}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
KUBECTL=${KUBECTL:-$REPO/.tools/bin/kubectl}
if [[ ! -x $KUBECTL ]]; then
  echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2
  exit 1
fi

TMP=$(mktemp -d)
SERVER_PID=""
WATCH_PID=""
cleanup() {
  [[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null || true
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$FAIRWAY" apiserver --port 0 --kubeconfig-out "$TMP/kc" --bookmark-interval 1s \
  >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [[ -s $TMP/kc ]] && break
  sleep 0.1
done
[[ -s $TMP/kc ]] || { echo "apiserver did not start:"; cat "$TMP/server.out" "$TMP/server.err"; exit 1; }

k() { "$KUBECTL" --kubeconfig "$TMP/kc" --request-timeout=10s "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect PATTERN TEXT...
  local pattern=$1
  shift
  grep -Eq -- "$pattern" <<<"$*" || fail "expected /$pattern/ in: $*"
}

echo "--- discovery"
resources=$(k api-resources)
expect '^queues +q,fq +scheduling.fairway.dev/v1alpha1 +false +Queue' "$resources"
expect '^podgroups +pg +scheduling.fairway.dev/v1alpha1 +true +PodGroup' "$resources"
expect '^topologies +topo +scheduling.fairway.dev/v1alpha1 +false +Topology' "$resources"
expect '^pods +po +v1 +true +Pod' "$resources"

echo "--- fairway custom resources"
k apply -f "$REPO/examples/queues/"
queues=$(k get queues)
echo "$queues"
expect '^NAME +PARENT +GPU QUOTA +GPU LIMIT +ALLOCATED +FAIR SHARE +AGE' "$queues"
expect '^research +64 +112 ' "$queues"
expect '^vision +research +40 ' "$queues"
# A second apply is a no-op (client-side apply: GET + merge patch).
expect 'queue.scheduling.fairway.dev/research unchanged' "$(k apply -f "$REPO/examples/queues/queue-tree.yaml")"
expect '^resnet-train +vision +4 ' "$(k get pg -n default)"
expect 'nvidia.com/gpu.clique' "$(k get topology default -o yaml)"

echo "--- namespace and pod"
k create namespace team-a
k get ns team-a
cat >"$TMP/pod.yaml" <<'POD'
apiVersion: v1
kind: Pod
metadata:
  name: train-0
  namespace: team-a
  labels: {app: train, fairway.dev/queue: vision}
spec:
  schedulerName: fairway
  containers:
  - name: main
    image: busybox
    resources:
      limits: {nvidia.com/gpu: 1}
POD
k get pods -n team-a -w --output-watch-events >"$TMP/watch.out" 2>&1 &
WATCH_PID=$!
sleep 1
k apply -f "$TMP/pod.yaml"
json=$(k get pod train-0 -n team-a -o json)
expect '"schedulerName": "fairway"' "$json"
expect '"phase": "Pending"' "$json"
expect '"nvidia.com/gpu": "1"' "$json"
k label pod train-0 -n team-a tier=gold
expect 'tier=gold' "$(k get pod train-0 -n team-a --show-labels)"
k patch pod train-0 -n team-a --type merge -p '{"metadata":{"annotations":{"fairway.dev/note":"patched"}}}'
expect '"fairway.dev/note": "patched"' "$(k get pod train-0 -n team-a -o json)"
expect 'pod/train-0 configured|pod/train-0 unchanged' "$(k apply -f "$TMP/pod.yaml")"
expect '^Name: +train-0' "$(k describe pod train-0 -n team-a)"
expect 'train-0' "$(k get pods -A -l app=train)"
expect 'train-0' "$(k get pods -A --field-selector spec.schedulerName=fairway)"
k delete pod train-0 -n team-a
expect 'No resources found' "$(k get pods -n team-a 2>&1)"

echo "--- watch saw the pod come and go"
sleep 1
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=""
cat "$TMP/watch.out"
expect 'ADDED +train-0' "$(cat "$TMP/watch.out")"
expect 'DELETED +train-0' "$(cat "$TMP/watch.out")"

echo "--- errors are kube Status objects"
expect 'NotFound' "$(k get pod nope -n team-a 2>&1 || true)"
expect 'AlreadyExists' "$(k create namespace team-a 2>&1 || true)"

echo "PASS"
