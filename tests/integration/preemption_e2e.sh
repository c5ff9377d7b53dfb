#!/usr/bin/env bash
# The preemption pass end to end: the real scheduler against the embedded API server, kubectl as
# an independent client. A starved queue reclaims GPUs from a queue above its fair share and stops
# at its share; a high-priority pod preempts a low-priority one of its queue; an eviction that a
# PodDisruptionBudget refuses (429) evicts nothing. Events name both sides. Prints the scheduler's
# decision-to-eviction-request time for docs/benchmarks.md.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
on_fail() {
  echo "--- pods"; k get pods -o wide || true
  echo "--- events"; k get events || true
}
start_apiserver --audit-log "$WORK/audit.jsonl"

"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --preemption-period=200ms --non-preemptible-priority=100000 >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

# One node with 4 GPUs; queues a and b deserve 2 each.
cat <<'YAML' | k create -f - >/dev/null
apiVersion: v1
kind: Node
metadata: {name: gpu-0, labels: {kubernetes.io/hostname: gpu-0}}
status:
  allocatable: {cpu: "64", memory: 512Gi, nvidia.com/gpu: "4", pods: "110"}
  capacity: {cpu: "64", memory: 512Gi, nvidia.com/gpu: "4", pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: a}
spec: {resources: {nvidia.com/gpu: {quota: 2}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: b}
spec: {resources: {nvidia.com/gpu: {quota: 2}}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 10
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
YAML

pod() {  # name queue priority-class [role]
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default, labels: {fairway.dev/queue: $2, role: "${4:-none}"}}
spec:
  schedulerName: fairway
  priorityClassName: $3
  terminationGracePeriodSeconds: 0
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "1"}}}]
---
YAML
}
node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}' 2>/dev/null || true; }
wait_bound() {  # pod
  for _ in $(seq 100); do [ -n "$(node_of "$1")" ] && return 0; sleep 0.1; done
  fail "pod $1 was not bound"
}
count_pods() {  # label-selector
  k get pods -l "$1" -o name | grep -c . || true
}

# 1. Queue b takes the whole node while a is idle.
for i in 1 2 3 4; do pod "b-$i" b low; sleep 0.05; done | k create -f - >/dev/null
for i in 1 2 3 4; do wait_bound "b-$i"; done

# 2. Queue a wakes up: it reclaims its fair share (2 GPUs) from b, and no more.
t0=$(date +%s.%N)
{ pod a-1 a low; pod a-2 a low; pod a-3 a low; } | k create -f - >/dev/null
wait_bound a-1
t1=$(date +%s.%N)
wait_bound a-2
sleep 1.5  # a few more passes: a-3 must stay pending, b keeps its share
[ "$(count_pods fairway.dev/queue=b)" = "2" ] || fail "queue b should keep 2 pods (its fair share)"
[ -z "$(node_of a-3)" ] || fail "a-3 was bound although queue a is at its fair share"
# (Read whole, then grep: grep -q closing the pipe early would fail the pipeline.)
events() { k get events --field-selector "reason=$1" -o jsonpath='{range .items[*]}{.message}{"\n"}{end}'; }
grep -q 'evicted to make room for job default/a-' <<<"$(events Reclaimed)" ||
  fail "no Reclaimed event on a victim"
grep -q 'default/b-' <<<"$(events Reclaiming)" || fail "no Reclaiming event naming the victims"

# 3. A high-priority pod in b preempts one of b's low-priority pods.
pod b-urgent b high | k create -f - >/dev/null
wait_bound b-urgent
[ "$(count_pods fairway.dev/queue=b)" = "2" ] || fail "b should have 2 pods after the preemption"
grep -q 'default/b-urgent' <<<"$(events Preempted)" || fail "no Preempted event naming the preemptor"

# 4. A PodDisruptionBudget guards b's last low-priority pod: the eviction is refused (429) and
#    nothing is evicted; the pod waits.
guarded=$(k get pods -l fairway.dev/queue=b -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' |
  grep -v urgent)
server=$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')
token=$(k config view --raw -o jsonpath='{.users[0].user.token}')
k get pod "$guarded" -o json | jq '.status.phase = "Running"' >"$WORK/running.json"
curl -sk -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data @"$WORK/running.json" "$server/api/v1/namespaces/default/pods/$guarded/status" >/dev/null
[ "$(k get pod "$guarded" -o jsonpath='{.status.phase}')" = "Running" ] || fail "could not mark $guarded Running"
k label pod "$guarded" guarded=yes >/dev/null
cat <<'YAML' | k create -f - >/dev/null
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: keep-one, namespace: default}
spec:
  minAvailable: 1
  selector: {matchLabels: {guarded: "yes"}}
YAML
pod b-urgent-2 b high | k create -f - >/dev/null
for _ in $(seq 50); do grep -q 'eviction refused by a disruption budget' "$WORK/sched.log" && break; sleep 0.1; done
grep -q 'eviction refused by a disruption budget' "$WORK/sched.log" || fail "no refused eviction logged"
[ -n "$(node_of "$guarded")" ] || fail "the guarded pod $guarded was evicted"
[ -z "$(node_of b-urgent-2)" ] || fail "b-urgent-2 was bound although its only victim is guarded"

# Decision to eviction request, as the scheduler measured it (first reclaim).
ms=$(grep '"action":"reclaim"' "$WORK/sched.log" | grep -o '"decision_to_request_ms":"[0-9.]*"' |
  head -1 | grep -o '[0-9.]*' || true)
pass=$(grep '"action":"reclaim"' "$WORK/sched.log" | grep -o '"pass_ms":"[0-9.]*"' |
  head -1 | grep -o '[0-9.]*' || true)
echo "preemption e2e: reclaim decision to eviction request ${ms:-?} ms (pass ${pass:-?} ms)"
echo "preemption e2e: a-1 created to bound, through a reclaim: $(echo "$t1 - $t0" | bc) s" \
  "(kubectl polling every 0.1 s, --preemption-period=200ms)"
echo "preemption e2e: ok"

# Every call made above (reservation pods, ConfigMaps, evictions, ...) is one the chart grants.
source "$REPO/tests/integration/lib/chart_rbac.sh"
check_chart_rbac "$WORK/audit.jsonl" --client fairway-scheduler=fairway-system/fairway
echo "the chart's RBAC grants every call made: ok"
