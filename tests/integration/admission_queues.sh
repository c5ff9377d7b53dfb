#!/usr/bin/env bash
# The admission webhook judges the queue a pod will really use (docs/security.md), through
# kubectl against the embedded API server with the webhook registered, as kube-apiserver calls
# it. Namespace blue may not use queue red-q (its namespaceSelector admits tenant=red only):
#   - an unlabelled pod naming red-q in an annotation is refused, saying so;
#   - a pod with no queue key whose controller owner (a Job the scheduler has seen) carries
#     fairway.dev/queue: red-q is refused, the message naming the Job;
#   - a pod joining a PodGroup whose spec.queue is red-q is refused, naming the PodGroup;
#   - pods naming an allowed queue, or none, are admitted and bound.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
start_apiserver
k create namespace blue >/dev/null
k label namespace blue tenant=blue >/dev/null
k create -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: red-q}
spec:
  namespaceSelector: {matchLabels: {tenant: red}}
  resources: {cpu: {quota: 8}}
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: default}
spec: {resources: {cpu: {quota: 8}}}
---
apiVersion: v1
kind: Node
metadata: {name: node-0, labels: {kubernetes.io/hostname: node-0}}
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
YAML

start_scheduler_with_webhook --metrics-bind-address=0 -v 2
port="$WEBHOOK_PORT"
k apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: fairway}
webhooks:
- name: pods.fairway.dev
  clientConfig: {url: "https://127.0.0.1:$port/mutate", caBundle: "$(base64 -w0 "$WORK/tls.crt")"}
  rules: [{operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
YAML

pod() {  # name [metadata-yaml-lines]
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: blue
${2:-}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {requests: {cpu: 100m}}}]
YAML
}
expect_refused() {  # description expected-message manifest
  local out
  if out="$(k create -f - 2>&1 <<<"$3")"; then fail "$1 was admitted"; fi
  [[ $out == *"$2"* ]] || fail "$1: unclear denial: $out"
  echo "ok: $1 is refused: $out"
}
bound() { [ "$(k get pod -n blue "$1" -o jsonpath='{.spec.nodeName}')" = node-0 ]; }

# The bar item: no label, the queue named in an annotation.
expect_refused "an unlabelled pod annotated fairway.dev/queue: red-q" \
  'queue "red-q" of annotation fairway.dev/queue: namespace "blue" may not use queue "red-q"' \
  "$(pod annotated '  annotations: {fairway.dev/queue: red-q}')"
expect_refused "an unlabelled pod annotated scheduling.volcano.sh/queue-name: red-q" \
  'queue "red-q" of annotation scheduling.volcano.sh/queue-name: namespace "blue" may not use' \
  "$(pod volcano '  annotations: {scheduling.volcano.sh/queue-name: red-q}')"

# The owner's label: a Job labelled with red's queue creates a pod with no queue key.
k create -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: blue, labels: {fairway.dev/queue: red-q}}
spec:
  template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}
YAML
job_uid="$(k get job -n blue train -o jsonpath='{.metadata.uid}')"
owned="$(pod train-0 "  ownerReferences:
  - {apiVersion: batch/v1, kind: Job, name: train, uid: \"$job_uid\", controller: true}")"
# The scheduler learns of the Job through its watch; until then it cannot know the queue (and the
# cycle would keep such a pod pending with QueueNotAllowed): retry until the webhook refuses.
refused_owned() {
  if k create -f - >"$WORK/owned.out" 2>&1 <<<"$owned"; then
    k delete pod -n blue train-0 --wait=false >/dev/null 2>&1
    return 1
  fi
}
wait_for 20 "the pod of Job blue/train to be refused" refused_owned
grep -q 'queue "red-q" of Job blue/train: namespace "blue" may not use queue "red-q"' "$WORK/owned.out" \
  || fail "unclear denial of the Job's pod: $(cat "$WORK/owned.out")"
echo "ok: a pod of Job blue/train (queue red-q) is refused: $(cat "$WORK/owned.out")"

# A PodGroup naming red's queue: a blue pod joining it is refused, naming the PodGroup. (The
# PodGroup itself is refused by the webhook too when registered for podgroups; not here.)
k create -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: intruder, namespace: blue}
spec: {minMember: 1, queue: red-q}
YAML
joining="$(pod joiner '  labels: {fairway.dev/queue: default}
  annotations: {fairway.dev/pod-group: intruder}')"
refused_joiner() {
  if k create -f - >"$WORK/joiner.out" 2>&1 <<<"$joining"; then
    k delete pod -n blue joiner --wait=false >/dev/null 2>&1
    return 1
  fi
}
wait_for 20 "the pod joining PodGroup blue/intruder to be refused" refused_joiner
grep -q 'queue "red-q" of PodGroup blue/intruder: namespace "blue" may not use' "$WORK/joiner.out" \
  || fail "unclear denial of the PodGroup's pod: $(cat "$WORK/joiner.out")"
echo "ok: a pod joining PodGroup blue/intruder (queue red-q) is refused"

# What blue may use is admitted and bound: an allowed annotation, no queue key at all.
pod allowed '  annotations: {fairway.dev/queue: default}' | k create -f - >/dev/null
pod plain | k create -f - >/dev/null
for p in allowed plain; do wait_for 30 "pod $p bound" bound "$p"; done
echo "ok: pods on queues blue may use are admitted and bound"
