#!/usr/bin/env bash
# Bad input through the embedded API server and the real scheduler: the CRDs' schemas refuse a
# Queue whose spec cannot be read, a PodGroup with minMember -2 and a Topology without node
# labels (422); with schema-less CRDs they are stored, and the scheduler copes with them; pods with absurd or
# unreadable requests, annotations out of range, a pod with a 512 KiB annotation, and a pod from
# a namespace its queue does not admit (Queue.spec.namespaceSelector). Each gets a clear
# condition or Event, and the good pods created around them are bound all the same. The admission
# webhook answers hostile bodies (nested 100,000 deep, mistyped, over 3 MiB) with 400/413 and
# the scheduler lives on (docs/security.md).
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
start_apiserver

cat >"$WORK/node.json" <<'JSON'
{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-0","labels":{"kubernetes.io/hostname":"gpu-0"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
k create -f "$WORK/node.json" >/dev/null
k create namespace red >/dev/null
k label namespace red tenant=red >/dev/null
k create namespace blue >/dev/null
k label namespace blue tenant=blue >/dev/null
# The API server refuses what the CRDs' schemas forbid, with kube-apiserver's 422 words...
bad_objects='apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: broken}
spec: {resources: {nvidia.com/gpu: {quota: lots}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: bad-group, namespace: default}
spec: {minMember: -2, queue: good}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Topology
metadata: {name: bad-topology}
spec: {levels: [{bandwidthGBps: 10}]}'
refused="$(k create -f - 2>&1 <<<"$bad_objects")" && fail "the API server stored objects its CRDs' schemas forbid"
for want in 'Queue.scheduling.fairway.dev "broken" is invalid: spec.resources.nvidia.com/gpu.quota: Invalid value: "lots": spec.resources.nvidia.com/gpu.quota in body should match' \
    'PodGroup.scheduling.fairway.dev "bad-group" is invalid: spec.minMember: Invalid value: -2: spec.minMember in body should be greater than or equal to 1' \
    'Topology.scheduling.fairway.dev "bad-topology" is invalid: spec.levels[0].nodeLabel: Required value'; do
  grep -qF "$want" <<<"$refused" || fail "expected the refusal '$want', got: $refused"
done
echo "ok: the schemas refuse the bad Queue, PodGroup and Topology with 422"
# ...but a cluster whose CRDs carry no schema (installed by hand, or by an older chart) stores
# them: the scheduler must cope on its own.
for crd in queues podgroups topologies; do
  k patch crd "$crd.scheduling.fairway.dev" --type=json -p '[{"op":"replace",
    "path":"/spec/versions/0/schema/openAPIV3Schema",
    "value":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}]' >/dev/null
done
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: good}
spec: {resources: {nvidia.com/gpu: {quota: 4}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: broken}
spec: {resources: {nvidia.com/gpu: {quota: lots}}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: restricted}
spec:
  namespaceSelector: {matchLabels: {tenant: red}}
  resources: {nvidia.com/gpu: {quota: 2}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: bad-group, namespace: default}
spec: {minMember: -2, queue: good}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Topology
metadata: {name: bad-topology}
spec: {levels: [{bandwidthGBps: 10}]}
YAML

pod() {  # ns name queue gpus [annotations-yaml]
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $2, namespace: $1, labels: {fairway.dev/queue: $3}, annotations: {${5:-}}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "$4"}}}]
---
YAML
}

# The admission webhook is served too (not registered with the API server: posted to directly,
# without credentials, as anyone who can reach its port can).
start_scheduler_with_webhook
webhook_port="$WEBHOOK_PORT"
post_webhook() {  # body-file [content-length] → the raw HTTP answer of POST /mutate over TLS
  local length="${2:-$(wc -c <"$1")}"
  { printf 'POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'
    printf 'Content-Length: %s\r\nConnection: close\r\n\r\n' "$length"
    cat "$1"; } | timeout 20 openssl s_client -quiet -connect "127.0.0.1:$webhook_port" 2>/dev/null || true
}
expect_answer() {  # what answer status pattern
  case "$2" in
    "HTTP/1.1 $3 "*"$4"*) echo "ok: $1 → $3 $4" ;;
    *) fail "$1: expected $3 with '$4', got: ${2:0:300}" ;;
  esac
}
# Issue 15: 100,000 levels of nesting in request.object (~200 KB) once ended the process with
# SIGSEGV. Now: 400 before any parser runs, and the scheduler keeps serving.
{
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",'
  printf '"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":'
  printf '{"metadata":{"name":"p","annotations":{"x":'
  head -c 100000 /dev/zero | tr '\0' '['
  head -c 100000 /dev/zero | tr '\0' ']'
  printf '}},"spec":{"schedulerName":"fairway"}}}}'
} >"$WORK/deep-review.json"
expect_answer "a review nested 100,000 deep" "$(post_webhook "$WORK/deep-review.json")" 400 \
  "nested deeper than 1000 levels"
kill -0 "$SCHED_PID" || fail "the scheduler died of a deeply nested AdmissionReview"
printf '{"request":{"uid":5,"kind":{"kind":"Pod"},"operation":"CREATE","object":{}}}' >"$WORK/mistyped.json"
expect_answer "a review with a numeric uid" "$(post_webhook "$WORK/mistyped.json")" 400 \
  "request.uid must be a string"
# Over kube-apiserver's 3 MiB: refused from the headers alone (the body is never sent here).
: >"$WORK/empty"
expect_answer "a 4 MiB body" "$(post_webhook "$WORK/empty" 4194304)" 413 \
  "Request entity too large: limit is 3145728"
kill -0 "$SCHED_PID" || fail "the scheduler died"

{
  pod default good-1 good 1
  pod default absurd good 1e100
  pod default too-many good 100000
  pod default bad-fraction good 0 'fairway.dev/gpu-fraction: "1.5"'
  pod default bad-min-member good 1 'fairway.dev/pod-group: g2, fairway.dev/min-member: "-3"'
  pod default in-broken broken 1
  pod default in-bad-group good 1 'fairway.dev/pod-group: bad-group'
  pod default bad-topology good 1 'fairway.dev/pod-group: g3, fairway.dev/min-member: "1", fairway.dev/topology: bad-topology, fairway.dev/topology-required-level: rack'
  pod blue intruder restricted 1
  pod red allowed restricted 1
} | k create -f - >/dev/null
# A 512 KiB annotation: big objects are decoded like any other.
{
  printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: huge-annotation\n  namespace: default\n'
  printf '  labels: {fairway.dev/queue: good}\n  annotations:\n    blob: "'
  head -c 393216 /dev/zero | base64 -w0
  printf '"\nspec:\n  schedulerName: fairway\n'
  printf '  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "1"}}}]\n'
} >"$WORK/huge.yaml"
k create -f "$WORK/huge.yaml" >/dev/null
pod default good-2 good 1 | k create -f - >/dev/null

message() {  # ns pod → its PodScheduled message once set
  local msg=""
  for _ in $(seq 150); do
    msg=$(k get pod -n "$1" "$2" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}')
    [ -n "$msg" ] && break
    sleep 0.1
  done
  echo "$msg"
}
expect_message() {  # ns pod pattern
  local msg
  msg=$(message "$1" "$2")
  case "$msg" in
    *$3*) echo "ok: $1/$2 says: ${msg:0:160}" ;;
    *) fail "$1/$2: PodScheduled message '$msg' does not contain '$3'" ;;
  esac
  [ -z "$(k get pod -n "$1" "$2" -o jsonpath='{.spec.nodeName}')" ] || fail "$1/$2 was bound"
}
expect_bound() {  # ns pod
  for _ in $(seq 150); do
    [ -n "$(k get pod -n "$1" "$2" -o jsonpath='{.spec.nodeName}')" ] && { echo "ok: $1/$2 bound"; return 0; }
    sleep 0.1
  done
  fail "$1/$2 was not bound"
}

expect_bound default good-1
expect_bound default good-2
expect_bound default huge-annotation
expect_bound red allowed
expect_message default absurd 'quantity'
expect_message default too-many 'Insufficient nvidia.com/gpu'
expect_message default bad-fraction 'fairway.dev/gpu-fraction'
expect_message default bad-min-member 'fairway.dev/min-member'
expect_message default in-broken 'broken'
expect_message default in-bad-group 'PodGroup default/bad-group: spec.minMember'
expect_message default bad-topology 'bad-topology'
expect_message blue intruder 'may not use queue "restricted"'
event=""
for _ in $(seq 100); do
  event=$(k get events -n blue --field-selector involvedObject.name=intruder,reason=FailedScheduling \
    -o jsonpath='{.items[*].message}')
  [ -n "$event" ] && break
  sleep 0.1
done
case "$event" in
  *'may not use queue "restricted"'*) echo "ok: blue/intruder has a FailedScheduling Event: $event" ;;
  *) fail "no FailedScheduling Event naming the queue for blue/intruder (got '$event')" ;;
esac

for _ in $(seq 100); do
  valid=$(k get queue broken -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}/{.status.conditions[?(@.type=="Valid")].reason}')
  [ "$valid" = "False/InvalidSpec" ] && break
  sleep 0.1
done
[ "$valid" = "False/InvalidSpec" ] || fail "Queue broken: Valid condition is '$valid', want False/InvalidSpec"
echo "ok: Queue broken is Valid=False/InvalidSpec: $(k get queue broken -o jsonpath='{.status.conditions[?(@.type=="Valid")].message}')"
kill -0 "$SCHED_PID" || fail "the scheduler died"
echo "bad_input: passed"
