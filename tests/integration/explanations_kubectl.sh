#!/usr/bin/env bash
# Every explanation a person reads, through the embedded API server and read with kubectl:
# kube-scheduler's "0/N nodes are available" message, queue over limit, waiting for gang,
# required topology level without room; PodScheduled=False/Unschedulable written once per
# message (not every cycle); FailedScheduling Events on pods and Events on PodGroups; Queue
# status (children, Valid condition); and the scheduler's own endpoints: /healthz, /readyz,
# /debug/queues, /debug/pods and `fairway explain`.
# Usage: explanations_kubectl.sh PATH/TO/fairway   (ctest passes it; run from the repository root)
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
start_apiserver

# Two racks of two 8-GPU nodes, a Topology over the rack label, and a queue tree.
for i in 0 1 2 3; do
  rack=rack-$((i / 2))
  cat >"$WORK/node-$i.json" <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-$i","labels":{"kubernetes.io/hostname":"gpu-$i","example.com/rack":"$rack"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
  k create -f "$WORK/node-$i.json" >/dev/null
done
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Topology
metadata: {name: fabric}
spec: {levels: [{nodeLabel: example.com/rack}, {nodeLabel: kubernetes.io/hostname}]}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: org}
spec: {resources: {nvidia.com/gpu: {quota: 32}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: capped}
spec: {parent: org, resources: {nvidia.com/gpu: {quota: 2, limit: 4}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: team}
spec: {parent: org, resources: {nvidia.com/gpu: {quota: 28}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: orphan}
spec: {parent: nowhere, resources: {nvidia.com/gpu: {quota: 1}}}
YAML

port=$(free_port)
# No preemption pass: it may consolidate the racked gang into a rack (evicting a filler) before
# the checks below read its explanation; preemption has tests of its own.
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --preemption-period=0 --metrics-bind-address "127.0.0.1:$port" >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
[ "$(curl -sf "$url/healthz")" = "ok" ] || fail "/healthz is not ok once synced"
[ "$(curl -sf "$url/readyz" | head -1)" = "leader" ] || fail "/readyz should say leader (no election)"
# Preflight: nothing for fractional GPUs was installed here, so /readyz stays 200 and names it.
readyz="$(curl -sf "$url/readyz")"
grep -qx 'degraded: reservation-namespace: namespace fairway-reservation not found: fractional GPU pods cannot be placed' <<<"$readyz" \
  || fail "/readyz does not name the missing reservation namespace: $readyz"
grep -q '"msg":"preflight check failed","check":"reservation-namespace"' "$WORK/sched.log" \
  || fail "no preflight warning in the log"

pod() {  # name queue gpus [annotations-json] [node]
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default, labels: {fairway.dev/queue: $2}, annotations: ${4:-{\}}}
spec:
  schedulerName: fairway
  nodeName: "${5:-}"
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "$3"}}}]
---
YAML
}

# Half of gpu-0 and gpu-2 is taken (bound already): each rack has one node with 8 GPUs free and
# one with at most 4, so two 6-GPU pods fit the cluster but not one rack.
{ pod filler-0 team 4 '{}' gpu-0; pod filler-2 team 4 '{}' gpu-2; } | k apply -f - >/dev/null
# Gangs first, so their pods are never seen without their PodGroup: one that will miss two
# pods, and one of 2 x 6 GPUs that must share a rack.
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: partial, namespace: default}
spec: {minMember: 4, queue: team}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: racked, namespace: default}
spec: {minMember: 2, queue: team, topologyConstraint: {topology: fabric, requiredLevel: example.com/rack}}
YAML
{
  pod huge team 16                                   # fits no node
  pod capped-1 capped 3                              # within the limit of 4
  pod gang-a team 1 '{fairway.dev/pod-group: partial}'
  pod gang-b team 1 '{fairway.dev/pod-group: partial}'
  pod lost nope 1                                    # a queue that does not exist
  pod stray orphan 1                                 # an invalid queue
} | k apply -f - >/dev/null
for _ in $(seq 100); do
  [ "$(k get pod capped-1 -o jsonpath='{.spec.nodeName}')" != "" ] && break; sleep 0.1
done
pod capped-2 capped 3 | k apply -f - >/dev/null      # 3 + 3 > limit 4
{ for i in 0 1; do pod "racked-$i" team 6 '{fairway.dev/pod-group: racked}'; done; } | k apply -f - >/dev/null

message() { k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'; }
expect_message() {  # pod expected-substring
  local msg=""
  for _ in $(seq 100); do
    msg=$(message "$1")
    case "$msg" in *"$2"*) return 0 ;; esac
    sleep 0.1
  done
  fail "pod $1: PodScheduled message '$msg' does not contain '$2'"
}
expect_message huge '0/4 nodes are available: 4 Insufficient nvidia.com/gpu.'
expect_message capped-2 'queue "capped" would exceed its limit on nvidia.com/gpu: 3 allocated + 3 requested > limit 4'
expect_message gang-a 'waiting for gang: 2 of minMember 4 pods exist'
expect_message racked-0 'gang needs 12 GPUs in one '
expect_message racked-0 '(required level example.com/rack)'
expect_message lost 'queue "nope" does not exist'
expect_message stray 'queue "orphan" is invalid: '
for p in huge capped-2 gang-a racked-0 lost stray; do
  reason=$(k get pod "$p" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}/{.status.conditions[?(@.type=="PodScheduled")].reason}')
  [ "$reason" = "False/Unschedulable" ] || fail "pod $p: PodScheduled is '$reason', want False/Unschedulable"
done

# Written when the message changes, not every cycle: after many cycles, one FailedScheduling
# Event for the pod and the same lastTransitionTime.
first=$(k get pod huge -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].lastTransitionTime}')
sleep 2.5
again=$(k get pod huge -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].lastTransitionTime}')
[ "$first" = "$again" ] || fail "PodScheduled rewritten although its message did not change ($first → $again)"
events=$(k get events -o jsonpath='{range .items[*]}{.involvedObject.kind}/{.involvedObject.name}/{.reason}{"\n"}{end}')
n=$(echo "$events" | grep -c '^Pod/huge/FailedScheduling$' || true)
[ "$n" = "1" ] || fail "pod huge has $n FailedScheduling Events, want 1: $events"
# The PodGroups say why too, as Events and in status.
echo "$events" | grep -q '^PodGroup/partial/GangIncomplete$' || fail "no GangIncomplete Event on PodGroup partial: $events"
echo "$events" | grep -q '^PodGroup/racked/Unschedulable$' || fail "no Unschedulable Event on PodGroup racked: $events"
pg=$(k get podgroup racked -o jsonpath='{.status.phase}/{.status.conditions[0].reason}')
[ "$pg" = "Pending/Unschedulable" ] || fail "PodGroup racked status is '$pg'"

# Queue status: children and the Valid condition.
for _ in $(seq 50); do
  children=$(k get queue org -o jsonpath='{.status.children}')
  [ -n "$children" ] && break; sleep 0.1
done
case "$children" in *capped*team*|*team*capped*) ;; *) fail "Queue org status.children is '$children'" ;; esac
valid=$(k get queue team -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}')
[ "$valid" = "True" ] || fail "Queue team Valid is '$valid'"
invalid=$(k get queue orphan -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}/{.status.conditions[?(@.type=="Valid")].reason}')
[ "$invalid" = "False/UnknownParent" ] || fail "Queue orphan Valid is '$invalid', want False/UnknownParent"

# The scheduler's own view: /debug/queues and `fairway explain`.
curl -sf "$url/debug/queues" >"$WORK/queues.json" || fail "/debug/queues failed"
python3 - "$WORK/queues.json" <<'PY' || fail "/debug/queues is not the expected tree: $(cat "$WORK/queues.json")"
import json, sys
tree = json.load(open(sys.argv[1]))
org = next(q for q in tree["queues"] if q["name"] == "org")
names = sorted(c["name"] for c in org["children"])
assert names == ["capped", "team"], names
capped = next(c for c in org["children"] if c["name"] == "capped")
assert capped["resources"]["nvidia.com/gpu"]["allocated"] == 3, capped
assert capped["resources"]["nvidia.com/gpu"]["limit"] == 4, capped
assert tree["cluster"]["gpus"] == 32, tree["cluster"]
PY
"$FAIRWAY" explain default/huge --address "$url" >"$WORK/explain.txt" || fail "fairway explain failed"
grep -qF 'Why:       0/4 nodes are available: 4 Insufficient nvidia.com/gpu.' "$WORK/explain.txt" || fail "explain: $(cat "$WORK/explain.txt")"
grep -qF 'Nodes:     0 of 4 pass every filter and have room' "$WORK/explain.txt" || fail "explain: $(cat "$WORK/explain.txt")"
grep -qE '^ +4  Insufficient nvidia.com/gpu  \(e.g. gpu-0, gpu-1, gpu-2, gpu-3\)' "$WORK/explain.txt" || fail "explain: $(cat "$WORK/explain.txt")"
"$FAIRWAY" explain default/capped-1 --address "127.0.0.1:$port" | grep -q 'State:     Bound on gpu-' || fail "explain of a bound pod"
set +e
"$FAIRWAY" explain default/nope --address "$url" >/dev/null 2>"$WORK/err.txt"; code=$?
"$FAIRWAY" explain nope --address "$url" >/dev/null 2>&1; usage=$?
set -e
[ "$code" = 1 ] && grep -q 'does not know pod default/nope' "$WORK/err.txt" || fail "explain of an unknown pod: exit $code"
[ "$usage" = 2 ] || fail "explain without NAMESPACE/NAME should exit 2, got $usage"
echo "explanations: OK"
