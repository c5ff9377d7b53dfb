#!/usr/bin/env bash
# `kubectl get queues` reads at a glance with the scheduler running: GPU quota, allocated and
# fair share in GPUs with two decimals, pending pods, Valid and its reason (an invalid queue does
# not look empty), and the Warning a non-blocking problem raises; the scheduler logs each
# warning once, not every cycle. One 8-GPU node; queues:
#   org (quota 4) > a (quota 3), b (quota 3)  children above the parent: ChildrenQuotaExceedParent,
#                                              a and b scaled to 2 each
#   big (quota 10)                             4 + 10 top-level GPUs > 8: QuotaAboveCapacity
#   orphan (parent missing)                    Valid=False, UnknownParent
# Pods: a holds 2 GPUs and waits for 9 more; orphan has one waiting pod.
# $1: the fairway binary; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: queue_columns.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
on_fail() { k get queues -o wide; k get pods -A -o wide; }

start_apiserver
gpu_node gpu-0 8
k create namespace team >/dev/null
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: org}
spec: {resources: {nvidia.com/gpu: {quota: 4}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: a}
spec: {parent: org, resources: {nvidia.com/gpu: {quota: 3, limit: 12}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: b}
spec: {parent: org, resources: {nvidia.com/gpu: {quota: 3}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: big}
spec: {resources: {nvidia.com/gpu: {quota: 10}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: orphan}
spec: {parent: missing, resources: {nvidia.com/gpu: {quota: 1}}}
---
apiVersion: v1
kind: Pod
metadata: {name: holds-2, namespace: team, labels: {fairway.dev/queue: a}}
spec:
  schedulerName: fairway
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: 2}}}]
YAML
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --metrics-bind-address=0 >"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
for _ in $(seq 100); do
  [[ -n $(k get pod -n team holds-2 -o jsonpath='{.spec.nodeName}') ]] && break
  sleep 0.1
done
[[ -n $(k get pod -n team holds-2 -o jsonpath='{.spec.nodeName}') ]] || fail "holds-2 not bound"
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: wants-9, namespace: team, labels: {fairway.dev/queue: a}}
spec:
  schedulerName: fairway
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: 9}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: lost, namespace: team, labels: {fairway.dev/queue: orphan}}
spec:
  schedulerName: fairway
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: 1}}}]
YAML

expect() {  # expect PATTERN TEXT
  grep -Eq -- "$1" <<<"$2" || fail "expected /$1/ in:
$2"
}
# Status is published about once a second: wait for the pending pods to show.
for _ in $(seq 100); do
  queues=$(k get queues)
  grep -Eq '^a +org .*% +1 +' <<<"$queues" && grep -Eq '^orphan .* 1 +' <<<"$queues" && break
  sleep 0.1
done
echo "$queues"
expect '^NAME +PARENT +VALID +REASON +GPU QUOTA +GPU ALLOCATED +GPU FAIR SHARE +GPU USAGE +PENDING +WARNING +AGE$' "$queues"
# a: quota 3 scaled to 2 (org's 4 split between a and b); holds 2; the only queue that wants
# more, so the whole 8 is its fair share; wants-9 waits.
expect '^a +org +True +Valid +2\.00 +2\.00 +8\.00 +[0-9]+\.[0-9]% +1 +[0-9]' "$queues"
expect '^b +org +True +Valid +2\.00 +0\.00 +0\.00 +0\.0% +0 +[0-9]' "$queues"
expect '^org +True +Valid +4\.00 +2\.00 +8\.00 +[0-9]+\.[0-9]% +1 +ChildrenQuotaExceedParent +[0-9]' "$queues"
expect '^big +True +Valid +10\.00 +0\.00 +0\.00 +0\.0% +0 +QuotaAboveCapacity +[0-9]' "$queues"
expect '^orphan +missing +False +UnknownParent +.* 1 +[0-9]+s$' "$queues"
wide=$(k get queues -o wide)
expect '^NAME +PARENT +VALID +REASON +GPU QUOTA +GPU LIMIT +GPU ALLOCATED' "$wide"
expect '^a +org +True +Valid +2\.00 +12 +2\.00 ' "$wide"
# The conditions behind the columns.
warning=$(k get queue org -o jsonpath='{.status.conditions[?(@.type=="Warning")].status}/{.status.conditions[?(@.type=="Warning")].message}')
expect '^True/ChildrenQuotaExceedParent: .*; QuotaAboveCapacity: the top-level queues. quotas of nvidia.com/gpu add up to 14, more than the cluster.s 8' "$warning"
echo "ok: kubectl get queues shows GPUs with two decimals, pending pods, Valid/Reason and Warning"

# Logged once per change: several status periods later, one line per warned queue.
sleep 2.5
for q in org big; do
  n=$(grep -c "queue warning.*\"queue\":\"$q\"\|queue warning.*queue=$q\b" "$WORK/sched.log" || true)
  [[ $n -eq 1 ]] || { grep "queue warning" "$WORK/sched.log" >&2 || true; fail "queue $q: $n warning log lines, want 1"; }
done
# A second node: 16 GPUs cover 4 + 10, the capacity warning clears (and is logged as cleared).
gpu_node gpu-1 8
for _ in $(seq 100); do
  queues=$(k get queues)
  grep -Eq '^big +True +Valid +10\.00 +0\.00 +0\.00 +0 +[0-9]+s$' <<<"$queues" && break
  sleep 0.1
done
expect '^big +True +Valid +10\.00 +0\.00 +0\.00 +0\.0% +0 +[0-9]+s$' "$queues"
expect '^org +True +Valid +4\.00 .* ChildrenQuotaExceedParent +[0-9]' "$queues"
grep -q "queue warning cleared" "$WORK/sched.log" || fail "no log line for the cleared warning"
echo "ok: warnings logged once per change; the capacity warning clears with capacity"
echo "queue_columns: PASS"
