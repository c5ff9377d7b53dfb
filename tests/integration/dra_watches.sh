#!/usr/bin/env bash
# The scheduler's DRA watches (docs/dra.md, item 1), with no resourceclaim controller involved:
# against the embedded API server at 1.34 the four resource.k8s.io/v1 kinds are watched, a pod
# naming an existing claim (resourceClaimName) is bound with the claim allocated and reserved for
# it, and a pod whose spec.resourceClaims entry names neither a claim nor a template says why it
# is never scheduled; at 1.33 (no resource.k8s.io) nothing of DRA is watched and the scheduler
# still syncs and binds. $1: the fairway binary; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: dra_watches.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
on_fail() { k get pods -A -o wide || true; }

start_scheduler() {
  "$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
    >"$WORK/sched.log" 2>&1 &
  SCHED_PID=$!
}
node_of() { k get pod -n team-a "$1" -o jsonpath='{.spec.nodeName}'; }
bound() { [[ -n $(node_of "$1") ]]; }
says() { [[ $(k get pod -n team-a "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}') == *"$2"* ]]; }

echo "--- 1.34: a pod naming an existing claim"
start_apiserver --kubernetes-version 1.34
(cd "$REPO" && k apply -f examples/dra/00-namespace.yaml -f examples/dra/01-queues.yaml \
  -f examples/dra/02-deviceclass.yaml -f examples/dra/03-resourceslices.yaml >/dev/null)
gpu_node gpu-0 0
gpu_node gpu-1 0
k create -n team-a -f - >/dev/null <<'JSON'
{"apiVersion":"resource.k8s.io/v1","kind":"ResourceClaim","metadata":{"name":"mine"},
 "spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","count":4}}],
   "constraints":[{"requests":["gpus"],"matchAttribute":"gpu.example.com/cliqueId"}]}}}
JSON
start_scheduler
k create -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: named, namespace: team-a, labels: {fairway.dev/queue: team-a}}
spec:
  schedulerName: fairway
  resourceClaims: [{name: gpus, resourceClaimName: mine}]
  containers: [{name: trainer, image: busybox, resources: {claims: [{name: gpus}]}}]
---
apiVersion: v1
kind: Pod
metadata: {name: neither, namespace: team-a, labels: {fairway.dev/queue: team-a}}
spec:
  schedulerName: fairway
  resourceClaims: [{name: gpus}]
  containers: [{name: trainer, image: busybox}]
YAML
wait_for 30 "pod named to be bound" bound named
node=$(node_of named)
devices=$(k get resourceclaim -n team-a mine -o jsonpath='{.status.allocation.devices.results[*].device}')
[[ $(wc -w <<<"$devices") == 4 ]] || fail "claim mine holds '$devices', want 4 devices"
[[ $(k get resourceclaim -n team-a mine -o jsonpath='{.status.reservedFor[0].name}') == named ]] ||
  fail "claim mine is not reserved for pod named"
[[ $(k get resourceclaim -n team-a mine -o jsonpath='{.status.allocation.nodeSelector.nodeSelectorTerms[0].matchFields[0].values[0]}') == "$node" ]] ||
  fail "claim mine's nodeSelector does not name $node"
wait_for 30 "pod neither to say why it waits" says neither \
  'spec.resourceClaims[0]: Invalid value: must specify one of: `resourceClaimName`, `resourceClaimTemplateName`'
grep -q '"DRA kinds watched","resources":"resourceslices.resource.k8s.io,deviceclasses.resource.k8s.io,resourceclaims.resource.k8s.io,resourceclaimtemplates.resource.k8s.io"' \
  "$WORK/sched.log" || fail "the scheduler did not log the four DRA kinds as watched"
kill "$SCHED_PID" && wait "$SCHED_PID" 2>/dev/null || true
SCHED_PID=""
kill "$API_PID" && wait "$API_PID" 2>/dev/null || true
API_PID=""
rm -f "$WORK/kc"

echo "--- 1.33: no resource.k8s.io, nothing of DRA watched, the scheduler still works"
start_apiserver --kubernetes-version 1.33
k create namespace team-a >/dev/null
gpu_node gpu-0 1
start_scheduler
k create -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: team-a}
spec:
  schedulerName: fairway
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: "1"}}}]
YAML
wait_for 30 "pod plain to be bound" bound plain
grep -q '"DRA kinds watched","resources":"none"' "$WORK/sched.log" ||
  fail "at 1.33 the scheduler should watch no DRA kind"
echo "dra_watches: PASS"
