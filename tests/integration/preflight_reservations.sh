#!/usr/bin/env bash
# Preflight for fractional GPUs (docs/operations.md, "Troubleshooting"), the real scheduler
# against the embedded API server with none of the chart's reservation objects: the first
# fractional pod makes the leader create the reservation namespace and PriorityClass (RBAC
# allows it here), and since the reservation pods' ServiceAccount is still missing the pod is told
# exactly that, and no reservation pod is tried.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"

start_apiserver
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: team}
YAML
cat >"$WORK/node.json" <<'JSON'
{"apiVersion":"v1","kind":"Node",
 "metadata":{"name":"gpu-0","labels":{"kubernetes.io/hostname":"gpu-0","nvidia.com/gpu.memory":"16384"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"2","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"2","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
k create -f "$WORK/node.json" >/dev/null

"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --webhook-bind-address=0 --metrics-bind-address=0 >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: infer
  namespace: team
  annotations: {fairway.dev/gpu-memory: "2000"}
spec:
  schedulerName: fairway
  containers: [{name: main, image: busybox}]
YAML

want='ServiceAccount fairway-reservation/fairway-reservation not found'
message=""
for _ in $(seq 150); do
  message="$(k get pod -n team infer -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}')"
  [[ $message == *"$want"* ]] && break
  sleep 0.1
done
[[ $message == *"fractional GPU pods cannot be placed: $want"* ]] \
  || fail "the pod's condition does not say what is missing: '$message'"
echo "the pod says what is missing: ok"

k get namespace fairway-reservation >/dev/null || fail "fairway did not create the reservation namespace"
[ "$(k get priorityclass fairway-reservation -o jsonpath='{.value} {.preemptionPolicy}')" = "1000000000 Never" ] \
  || fail "fairway did not create the reservation PriorityClass as the chart does"
grep -q '"msg":"preflight: created","check":"reservation-namespace"' "$WORK/sched.log" \
  || fail "no log line for the created namespace"
[ -z "$(k get pods -n fairway-reservation -o name)" ] || fail "a reservation pod was tried without its ServiceAccount"
[ -z "$(k get pod -n team infer -o jsonpath='{.spec.nodeName}')" ] || fail "the pod was bound"
k get events -n team --field-selector involvedObject.name=infer,reason=FailedScheduling \
  -o jsonpath='{.items[*].message}' | grep -qF "$want" || fail "no FailedScheduling Event naming it"
echo "the namespace and PriorityClass were created on first need, nothing else tried: ok"
echo "PASS preflight_reservations"
