#!/usr/bin/env bash
# The real scheduler against the embedded API server over HTTPS, with kubectl (Debian's
# kubernetes-client) as an independent client: pods created with kubectl get bound; a watch drop
# plus a compaction (410 Gone) in the middle loses no pod; a restart rebuilds the state from the
# API and binds nothing twice; a pod that cannot fit says why in its PodScheduled condition.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
start_apiserver

start_scheduler() {
  "$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=true \
    --leader-elect-resource-namespace=default --schedule-period=20ms >>"$WORK/sched.log" 2>&1 &
  SCHED_PID=$!
}

# Four 8-GPU nodes and a queue tree.
for i in 0 1 2 3; do
  cat >"$WORK/node-$i.json" <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-$i","labels":{"kubernetes.io/hostname":"gpu-$i"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
  k create -f "$WORK/node-$i.json" >/dev/null
done
cat >"$WORK/queues.yaml" <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: research}
spec: {resources: {nvidia.com/gpu: {quota: 16}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: vision}
spec: {parent: research, resources: {nvidia.com/gpu: {quota: 16}}}
YAML
k apply -f "$WORK/queues.yaml" >/dev/null

make_pods() {  # prefix count gpus
  for i in $(seq 1 "$2"); do
    cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1-$i, namespace: default, labels: {fairway.dev/queue: vision}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "$3"}}}]
---
YAML
  done
}

wait_bound() {  # expected count of bound pods
  for _ in $(seq 200); do
    bound=$(k get pods -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c . || true)
    [ "$bound" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "expected $1 bound pods, saw $bound"
}

check_no_overcommit() {
  k get pods -o jsonpath='{range .items[*]}{.spec.nodeName} {.spec.containers[0].resources.limits.nvidia\.com/gpu}{"\n"}{end}' |
    awk 'NF == 2 { used[$1] += $2 } END { for (n in used) if (used[n] > 8) { print n, used[n]; bad = 1 } exit bad }' ||
    fail "a node is over-committed"
}

start_scheduler
make_pods early 10 1 | k create -f - >/dev/null
wait_bound 10
echo "ok: 10 pods created with kubectl are bound"

holder=$(k get lease -n default fairway-scheduler -o jsonpath='{.spec.holderIdentity}')
[ -n "$holder" ] || fail "no Lease holder"
echo "ok: leader election holds Lease default/fairway-scheduler ($holder)"

# Every open watch dropped and the history compacted: the reflectors must relist (410 Gone).
echo '{"dropWatches": true, "compact": true}' >"$WORK/fault.json"
k create --raw /fairway-sim/faults -f "$WORK/fault.json" >/dev/null
make_pods after-drop 10 1 | k create -f - >/dev/null
wait_bound 20
check_no_overcommit
echo "ok: watch drop + compaction lost no pod"

kill -TERM "$SCHED_PID"
for _ in $(seq 100); do kill -0 "$SCHED_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SCHED_PID" 2>/dev/null; then fail "scheduler did not stop on SIGTERM"; fi
wait "$SCHED_PID" || fail "scheduler exited non-zero on SIGTERM"
grep -q '"msg":"scheduler stopping"' "$WORK/sched.log" || fail "no graceful shutdown"
echo "ok: SIGTERM stops the scheduler gracefully"

start_scheduler
make_pods after-restart 5 1 | k create -f - >/dev/null
wait_bound 25
check_no_overcommit
if grep -q '"msg":"pod already bound"' "$WORK/sched.log"; then fail "a pod was bound twice"; fi
echo "ok: restart rebuilt the state and bound nothing twice"

make_pods huge 1 16 | k create -f - >/dev/null
for _ in $(seq 100); do
  msg=$(k get pod huge-1 -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}')
  [ -n "$msg" ] && break
  sleep 0.1
done
case "$msg" in
  *"0/4 nodes are available"*"Insufficient nvidia.com/gpu"*) ;;
  *) fail "unexpected PodScheduled message: '$msg'" ;;
esac
k get events --field-selector involvedObject.name=huge-1 | grep -q FailedScheduling || fail "no FailedScheduling event"
echo "ok: the unschedulable pod says: $msg"

allocated=$(k get queue vision -o jsonpath='{.status.allocated.nvidia\.com/gpu}')
for _ in $(seq 30); do [ "$allocated" = "25" ] && break; sleep 0.1; allocated=$(k get queue vision -o jsonpath='{.status.allocated.nvidia\.com/gpu}'); done
[ "$allocated" = "25" ] || fail "queue vision status.allocated is '$allocated', want 25"
echo "ok: Queue status shows 25 GPUs allocated"
# Gangs through PodGroup objects: one that fits (2 × 2 GPUs in the 7 left), one that cannot
# (3 × 8 GPUs): its status and its pods say why, and none of its pods is bound.
gang() {  # name min-member count gpus
  cat <<YAML
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: $1, namespace: default}
spec: {minMember: $2, queue: vision}
---
YAML
  for i in $(seq 1 "$3"); do
    cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1-$i, namespace: default, annotations: {fairway.dev/pod-group: $1}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "$4"}}}]
---
YAML
  done
}
gang small 2 2 2 | k apply -f - >/dev/null
gang big 3 3 8 | k apply -f - >/dev/null
for _ in $(seq 100); do
  small=$(k get podgroup small -o jsonpath='{.status.phase}/{.status.scheduled}')
  big=$(k get podgroup big -o jsonpath='{.status.phase}/{.status.conditions[0].reason}')
  [ "$small" = "Running/2" ] && [ "$big" = "Pending/Unschedulable" ] && break
  sleep 0.1
done
[ "$small" = "Running/2" ] || fail "PodGroup small is '$small', want Running/2"
[ "$big" = "Pending/Unschedulable" ] || fail "PodGroup big is '$big', want Pending/Unschedulable"
bound_big=$(k get pods -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' | awk '$1 ~ /^big-/ && NF == 2' | wc -l)
[ "$bound_big" -eq 0 ] || fail "$bound_big pods of the unschedulable gang were bound"
big_message=$(k get podgroup big -o jsonpath='{.status.conditions[0].message}')
echo "ok: PodGroup status: small Running with 2 scheduled; big waits: $big_message"
echo "scheduler_e2e: 8 passed, 0 failed"
