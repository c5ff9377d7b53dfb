#!/usr/bin/env bash
# Gangs of subgroups through the embedded API server, with kubectl (issue 18): a PodGroup with
# spec.subGroups (each replicated job in one rack, the whole gang in one spine) binds with each
# subgroup in one rack; one whose second subgroup fits no rack binds nothing and says which
# subgroup; a pod naming an undefined subgroup says why, and a PodGroup with duplicate subgroup
# names is refused by the API server. Pods join subgroups with fairway's label or KAI Scheduler's.
# Then an inferred JobSet (no PodGroup written) whose CRD is installed after the scheduler
# started: discovery, read again every --discovery-interval, picks JobSets up; its 2 replicated
# jobs × 4 pods, annotated to need one rack each, bind nothing while only one rack holds 4 of
# them, then bind together, each replicated job in one rack.
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
  --preemption-period=0 --discovery-interval=200ms --metrics-bind-address "127.0.0.1:$port" \
  >>"$WORK/sched.log" 2>&1 &
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
echo "ok: PodGroup subGroups"

# 4. An inferred JobSet. Only spine s-1 is left: r-c free, r-d and r-e half taken.
k delete pods big-workers-0 big-workers-1 big-ps-0 big-ps-1 typo-0 --grace-period=0 --force \
  >/dev/null 2>&1
k delete podgroups.scheduling.fairway.dev big typo >/dev/null
grep -q 'gang sources watched.*jobsets' "$WORK/sched.log" && fail "JobSets watched before their CRD"
# The JobSet CRD arrives after the scheduler started, as an operator installed later would add it.
k apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: jobsets.jobset.x-k8s.io}
spec:
  group: jobset.x-k8s.io
  scope: Namespaced
  names: {kind: JobSet, plural: jobsets, singular: jobset, listKind: JobSetList}
  versions:
  - name: v1alpha2
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
YAML
for _ in $(seq 100); do
  grep -q 'gang sources changed.*jobsets' "$WORK/sched.log" && break
  sleep 0.1
done
grep -q 'gang sources changed.*jobsets' "$WORK/sched.log" ||
  fail "the scheduler did not start watching JobSets after their CRD was installed"

# Each replicated job in one rack, the whole JobSet in one spine; 4 pods × 2 GPUs each.
k apply -f - >/dev/null <<'YAML'
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata:
  name: train
  namespace: default
  annotations:
    fairway.dev/topology: fabric
    fairway.dev/topology-required-level: example.com/spine
    fairway.dev/subgroup-topology-required-level: example.com/rack
spec:
  replicatedJobs:
  - name: left
    replicas: 1
    template: {spec: {parallelism: 4, completions: 4, template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}}}
  - name: right
    replicas: 1
    template: {spec: {parallelism: 4, completions: 4, template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}}}
YAML
js_uid=$(k get jobset train -o jsonpath='{.metadata.uid}')
for side in left right; do
  k apply -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: train-$side-0
  namespace: default
  labels: {jobset.sigs.k8s.io/jobset-name: train, jobset.sigs.k8s.io/replicatedjob-name: $side}
  ownerReferences:
  - {apiVersion: jobset.x-k8s.io/v1alpha2, kind: JobSet, name: train, uid: "$js_uid", controller: true}
spec:
  parallelism: 4
  completions: 4
  template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}
YAML
done
jobset_pod() {  # side index job-uid
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: train-$1-0-$2
  namespace: default
  labels: {jobset.sigs.k8s.io/replicatedjob-name: $1}
  ownerReferences:
  - {apiVersion: batch/v1, kind: Job, name: train-$1-0, uid: "$3", controller: true}
spec:
  schedulerName: fairway
  restartPolicy: Never
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "2"}}}]
---
YAML
}
{
  for side in left right; do
    job_uid=$(k get job "train-$side-0" -o jsonpath='{.metadata.uid}')
    for i in 0 1 2 3; do jobset_pod "$side" "$i" "$job_uid"; done
  done
} | k apply -f - >/dev/null
jobset_pods="train-left-0-0 train-left-0-1 train-left-0-2 train-left-0-3
  train-right-0-0 train-right-0-1 train-right-0-2 train-right-0-3"

# s-1 has the 16 GPUs the 8 pods need, but only r-c holds 4 of them: nothing binds.
expect_message train-left-0-0 'needs 8 GPUs in one rack (required level example.com/rack)'
sleep 0.5
for p in $jobset_pods; do
  [ -z "$(node_of "$p")" ] || fail "pod $p bound while only one rack holds a replicated job"
done
[ "$(k get podgroups.scheduling.fairway.dev jobset-train -o jsonpath='{.spec.minMember}')" = 8 ] ||
  fail "no inferred PodGroup jobset-train of minMember 8"

# Rack r-d frees up: the JobSet binds whole, each replicated job in a rack of its own.
k delete pod filler-d --grace-period=0 --force >/dev/null 2>&1
for p in $jobset_pods; do
  for _ in $(seq 150); do [ -n "$(node_of "$p")" ] && break; sleep 0.1; done
  [ -n "$(node_of "$p")" ] || fail "pod $p was not bound once two racks were free"
done
for side in left right; do
  racks=$(for i in 0 1 2 3; do label_of "$(node_of "train-$side-0-$i")" rack; echo; done | sort -u)
  [ "$(echo "$racks" | wc -l)" = 1 ] || fail "replicated job $side split over racks: $racks"
  [ "$(label_of "$(node_of "train-$side-0-0")" spine)" = s-1 ] || fail "$side left spine s-1"
done
[ "$(label_of "$(node_of train-left-0-0)" rack)" != "$(label_of "$(node_of train-right-0-0)" rack)" ] ||
  fail "both replicated jobs in one rack"
echo "ok: inferred JobSet (CRD installed later) bound whole, one rack per replicated job"
echo "subgroups_kubectl: ok"
