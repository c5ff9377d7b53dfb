#!/usr/bin/env bash
# Gangs of subgroups through the embedded API server, with kubectl (issue 18): a PodGroup with
# spec.subGroups (each replicated job in one rack, the whole gang in one spine) binds with each
# subgroup in one rack; one whose second subgroup fits no rack binds nothing and says which
# subgroup; a pod naming an undefined subgroup says why, and a PodGroup with duplicate subgroup
# names is refused by the API server. Pods join subgroups with fairway's label or KAI Scheduler's.
# Usage: subgroups_kubectl.sh PATH/TO/fairway   (ctest passes it; run from the repository root)
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
start_apiserver

# Spine s-0: racks r-a, r-b; spine s-1: racks r-c, r-d, r-e. One 8-GPU node per rack.
node() {  # name spine rack
  cat <<YAML
apiVersion: v1
kind: Node
metadata: {name: $1, labels: {kubernetes.io/hostname: $1, example.com/spine: $2, example.com/rack: $3}}
status:
  allocatable: {cpu: "64", memory: 512Gi, nvidia.com/gpu: "8", pods: "110"}
  capacity: {cpu: "64", memory: 512Gi, nvidia.com/gpu: "8", pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
YAML
}
{
  node gpu-a s-0 r-a; node gpu-b s-0 r-b
  node gpu-c s-1 r-c; node gpu-d s-1 r-d; node gpu-e s-1 r-e
} | k create -f - >/dev/null
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Topology
metadata: {name: fabric}
spec: {levels: [{nodeLabel: example.com/spine}, {nodeLabel: example.com/rack}, {nodeLabel: kubernetes.io/hostname}]}
YAML

pod() {  # name gpus group subgroup-label-key subgroup
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: default
  annotations: {fairway.dev/pod-group: "$3"}
  labels: {"$4": "$5"}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "$2"}}}]
---
YAML
}
group() {  # name minMember subgroups-yaml
  cat <<YAML
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: $1, namespace: default}
spec:
  minMember: $2
  topologyConstraint: {requiredLevel: example.com/spine}
  subGroups: $3
---
YAML
}
racks='[{name: workers, minMember: 2, topologyConstraint: {requiredLevel: example.com/rack}},
        {name: ps, minMember: 2, topologyConstraint: {requiredLevel: example.com/rack}}]'

# Half of racks r-d and r-e is taken: spine s-1 has 16 GPUs free but only r-c holds 8.
for n in d e; do
  k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: filler-$n, namespace: default}
spec:
  schedulerName: fairway
  nodeName: gpu-$n
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "4"}}}]
YAML
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --preemption-period=0 --metrics-bind-address "127.0.0.1:$port" >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}'; }
label_of() { k get node "$1" -o jsonpath="{.metadata.labels.example\.com/$2}"; }
message() { k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'; }
expect_message() {  # pod expected-substring
  local msg=""
  for _ in $(seq 150); do
    msg=$(message "$1")
    case "$msg" in *"$2"*) return 0 ;; esac
    sleep 0.1
  done
  fail "pod $1: PodScheduled message '$msg' does not contain '$2'"
}

# 1. Two subgroups of 2 × 4 GPUs, each in one rack, the gang in one spine: only s-0 has a free
# rack for each. The PodGroup comes first, so no pod is seen without it.
group js 4 "$racks" | k apply -f - >/dev/null
{
  pod js-workers-0 4 js fairway.dev/subgroup workers
  pod js-workers-1 4 js fairway.dev/subgroup workers
  pod js-ps-0 4 js kai.scheduler/subgroup-name ps
  pod js-ps-1 4 js kai.scheduler/subgroup-name ps
} | k apply -f - >/dev/null
for p in js-workers-0 js-workers-1 js-ps-0 js-ps-1; do
  for _ in $(seq 150); do [ -n "$(node_of "$p")" ] && break; sleep 0.1; done
  [ -n "$(node_of "$p")" ] || fail "pod $p was not bound"
done
w0=$(node_of js-workers-0) w1=$(node_of js-workers-1) p0=$(node_of js-ps-0) p1=$(node_of js-ps-1)
[ "$(label_of "$w0" rack)" = "$(label_of "$w1" rack)" ] || fail "workers split over racks: $w0 $w1"
[ "$(label_of "$p0" rack)" = "$(label_of "$p1" rack)" ] || fail "ps split over racks: $p0 $p1"
[ "$(label_of "$w0" rack)" != "$(label_of "$p0" rack)" ] || fail "both subgroups in one 8-GPU rack?"
for n in "$w0" "$p0"; do
  [ "$(label_of "$n" spine)" = "s-0" ] || fail "gang js left spine s-0: $n"
done

# 2. The same shape again: only spine s-1 is left, 16 GPUs free, but only r-c holds a subgroup.
# Nothing binds, and the message names the subgroup that fits no rack.
group big 4 "$racks" | k apply -f - >/dev/null
{
  pod big-workers-0 4 big fairway.dev/subgroup workers
  pod big-workers-1 4 big fairway.dev/subgroup workers
  pod big-ps-0 4 big fairway.dev/subgroup ps
  pod big-ps-1 4 big fairway.dev/subgroup ps
} | k apply -f - >/dev/null
expect_message big-ps-0 'gang needs 16 GPUs in one spine (required level example.com/spine): spine s-1: 16 of 16 GPUs free, but subgroup "ps" (2 pods) needs 8 GPUs in one rack (required level example.com/rack): rack r-d: 4 of 8 GPUs free; rack r-e: 4 of 8 GPUs free'
for p in big-workers-0 big-workers-1 big-ps-0 big-ps-1; do
  [ -z "$(node_of "$p")" ] || fail "pod $p bound: partial gangs of subgroups must not bind"
done

# 3. A pod naming a subgroup its PodGroup does not define; a PodGroup with a duplicate name.
group typo 1 '[{name: workers, minMember: 1}]' | k apply -f - >/dev/null
pod typo-0 1 typo fairway.dev/subgroup wokers | k apply -f - >/dev/null
expect_message typo-0 'pod typo-0 names subgroup "wokers", which its gang default/typo does not define (subgroups: workers)'
# The CRD makes subGroups a list keyed by name: the API server refuses the duplicate with its 422
# (fairway's decoder would also refuse it, for a server that does not check: objects_test.cpp).
if out=$(group dup 1 '[{name: a, minMember: 1}, {name: a, minMember: 1}]' | k apply -f - 2>&1); then
  fail "a PodGroup with a duplicate subgroup name was accepted"
fi
[[ $out == *'spec.subGroups[1]: Duplicate value'* ]] || fail "unexpected answer: $out"
echo "subgroups_kubectl: ok"
