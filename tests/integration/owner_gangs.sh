#!/usr/bin/env bash
# Gangs nobody wrote a fairway PodGroup for (issue 18), over HTTP with kubectl. Owner objects and
# pods with ownerReferences are created as the operators would create them (no controllers run):
#   - a Kubeflow PyTorchJob, 1 master + 7 workers, binds only when all 8 fit;
#   - a plain Job's pods bind independently;
#   - pods naming an upstream PodGroup (scheduling.k8s.io/v1alpha2, gang minCount 4) through
#     spec.schedulingGroup wait for the PodGroup, then for 4 pods;
#   - a JobSet of 2 replicated jobs × 4 pods binds all-or-nothing;
#   - pods naming a pod group of a 1.35 Workload (scheduling.k8s.io/v1alpha1, gang minCount 4)
#     through spec.workloadRef wait for the Workload, for 4 pods, then for room for all 4;
#   - fairway writes a PodGroup for each inferred gang, owned by its workload;
#   - inference reads workloads by list+watch: no request per pod or per cycle (audit log).
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/chart_rbac.sh"
start_apiserver --audit-log "$WORK/audit.log"

on_fail() {
  k get pods -n team-a -o wide || true
  k get pods -n team-a -o jsonpath='{range .items[*]}{.metadata.name}: {.status.conditions[?(@.type=="PodScheduled")].message}{"\n"}{end}' || true
  k get podgroups.scheduling.fairway.dev -n team-a -o yaml || true
}

k apply -f "$(dirname "$0")/fixtures/gang_crds.yaml" >/dev/null
k create namespace team-a >/dev/null
k create -f - >/dev/null <<'YAML'
apiVersion: scheduling.fairway.dev/v1alpha1
kind: Queue
metadata: {name: research}
spec: {resources: {cpu: {quota: 64}}}
YAML

node() {  # name pool cpus
  cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $1
  labels: {kubernetes.io/hostname: $1, pool: $2}
status:
  allocatable: {cpu: "$3", memory: 32Gi, pods: "110"}
  capacity: {cpu: "$3", memory: 32Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
YAML
}
# Each pool holds one pod fewer than its gang needs until a node is added.
{
  for i in 0 1 2; do node "train-$i" train 2; done
  node train-3 train 1
  node plain-0 plain 2
  for i in 0 1 2; do node "js-$i" js 2; done
  node js-3 js 1
  node up-0 up 3
  node wl-0 wl 3
} | k create -f - >/dev/null

# A pod as its operator creates it: owned (controller) by $2 of kind $3 with uid $4.
owned_pod() {  # name pool api-version kind owner uid labels
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: team-a
  labels: ${7:-{\}}
  ownerReferences:
  - {apiVersion: $3, kind: $4, name: $5, uid: "$6", controller: true, blockOwnerDeletion: true}
spec:
  schedulerName: fairway
  nodeSelector: {pool: $2}
  containers: [{name: main, image: pause, resources: {requests: {cpu: "1"}}}]
---
YAML
}
uid_of() { k get "$1" "$2" -n team-a -o jsonpath='{.metadata.uid}'; }

k create -n team-a -f - >/dev/null <<'YAML'
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: llama-ft, labels: {fairway.dev/queue: research}}
spec:
  pytorchReplicaSpecs:
    Master: {replicas: 1, template: {spec: {containers: [{name: pytorch, image: pause}]}}}
    Worker: {replicas: 7, template: {spec: {containers: [{name: pytorch, image: pause}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: etl}
spec:
  parallelism: 3
  template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}
---
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata: {name: bert}
spec:
  replicatedJobs:
  - name: left
    replicas: 1
    template: {spec: {parallelism: 4, completions: 4, template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}}}
  - name: right
    replicas: 1
    template: {spec: {parallelism: 4, completions: 4, template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}}}
YAML
PT_UID=$(uid_of pytorchjob llama-ft)
JOB_UID=$(uid_of job etl)
JS_UID=$(uid_of jobset bert)
for side in left right; do
  k create -n team-a -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: bert-$side-0
  labels: {jobset.sigs.k8s.io/jobset-name: bert, jobset.sigs.k8s.io/replicatedjob-name: $side}
  ownerReferences:
  - {apiVersion: jobset.x-k8s.io/v1alpha2, kind: JobSet, name: bert, uid: "$JS_UID", controller: true}
spec:
  parallelism: 4
  completions: 4
  template: {spec: {restartPolicy: Never, containers: [{name: main, image: pause}]}}
YAML
done
LEFT_UID=$(uid_of job bert-left-0)
RIGHT_UID=$(uid_of job bert-right-0)

{
  owned_pod llama-ft-master-0 train kubeflow.org/v1 PyTorchJob llama-ft "$PT_UID" \
    "{training.kubeflow.org/replica-type: master}"
  for i in 0 1 2 3 4 5 6; do
    owned_pod "llama-ft-worker-$i" train kubeflow.org/v1 PyTorchJob llama-ft "$PT_UID" \
      "{training.kubeflow.org/replica-type: worker}"
  done
  for i in 0 1 2; do owned_pod "etl-$i" plain batch/v1 Job etl "$JOB_UID"; done
  for i in 0 1 2 3; do
    owned_pod "bert-left-0-$i" js batch/v1 Job bert-left-0 "$LEFT_UID" \
      "{jobset.sigs.k8s.io/replicatedjob-name: left}"
    owned_pod "bert-right-0-$i" js batch/v1 Job bert-right-0 "$RIGHT_UID" \
      "{jobset.sigs.k8s.io/replicatedjob-name: right}"
  done
} | k create -f - >/dev/null

upstream_pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: team-a}
spec:
  schedulerName: fairway
  schedulingGroup: {podGroupName: training}
  nodeSelector: {pool: up}
  containers: [{name: main, image: pause, resources: {requests: {cpu: 500m}}}]
YAML
}
for i in 0 1 2; do upstream_pod "up-$i" | k create -f - >/dev/null; done
[ "$(k get pod up-0 -n team-a -o jsonpath='{.spec.schedulingGroup.podGroupName}')" = training ] ||
  fail "the API server dropped spec.schedulingGroup"

"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

bound() {  # prefix → how many pods named so are bound
  k get pods -n team-a -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' |
    awk -v p="$1" 'index($1, p) == 1 && $2 != "" { n++ } END { print n + 0 }'
}
message_of() {
  k get pod "$1" -n team-a -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'
}
has_bound() {  # prefix count: re-counted on every try of wait_for
  [ "$(bound "$1")" = "$2" ]
}

# The plain Job: pods independent, two fit, the third waits on its own.
wait_for 15 "2 of the Job's pods bound" has_bound etl- 2
echo "ok: plain Job: 2 of 3 pods bound independently"

# Gangs that do not fit wait whole, saying why.
has_message() { case "$(message_of "$1")" in *"$2"*) return 0 ;; esac; return 1; }
wait_for 15 "llama-ft to explain why it waits" has_message llama-ft-master-0 "gang needs 8 more pods, 7 fit"
[ "$(bound llama-ft-)" = 0 ] || fail "PyTorchJob pods bound while only 7 of 8 fit"
wait_for 15 "bert to explain why it waits" has_message bert-left-0-0 "gang needs 8 more pods, 7 fit"
[ "$(bound bert-)" = 0 ] || fail "JobSet pods bound while only 7 of 8 fit"
wait_for 15 "upstream pods to wait for their PodGroup" has_message up-0 \
  "waiting for PodGroup team-a/training (scheduling.k8s.io/v1alpha2) to exist"
echo "ok: PyTorchJob and JobSet wait whole; upstream pods wait for their PodGroup"

# fairway's PodGroups for the inferred gangs, owned by their workloads.
wait_for 15 "PodGroup pytorchjob-llama-ft" k get podgroups.scheduling.fairway.dev -n team-a \
  pytorchjob-llama-ft
pg() { k get podgroups.scheduling.fairway.dev -n team-a "$1" -o jsonpath="$2"; }
[ "$(pg pytorchjob-llama-ft '{.spec.minMember}')" = 8 ] || fail "minMember is not 8"
[ "$(pg pytorchjob-llama-ft '{.spec.queue}')" = research ] || fail "queue is not the job's label"
[ "$(pg pytorchjob-llama-ft '{.metadata.annotations.fairway\.dev/inferred-from}')" = \
  "inferred from PyTorchJob team-a/llama-ft" ] || fail "no source annotation"
[ "$(pg pytorchjob-llama-ft '{.metadata.ownerReferences[0].uid}')" = "$PT_UID" ] ||
  fail "not owned by the PyTorchJob"
wait_for 15 "PodGroup jobset-bert" k get podgroups.scheduling.fairway.dev -n team-a jobset-bert
[ "$(pg jobset-bert '{.spec.minMember}')" = 8 ] || fail "JobSet minMember is not 8"
k get podgroups.scheduling.fairway.dev -n team-a | grep -q '^pytorchjob-llama-ft' ||
  fail "kubectl get podgroups does not list the inferred gang"
has_phase() { [ "$(pg "$1" '{.status.phase}')" = "$2" ]; }
wait_for 15 "status of the inferred PodGroup" has_phase pytorchjob-llama-ft Pending
echo "ok: inferred PodGroups written with minMember, queue, source and owner"

# Room for the eighth pod: each gang binds in one go.
{ node train-4 train 1; node js-4 js 1; } | k create -f - >/dev/null
wait_for 15 "all 8 PyTorchJob pods bound" has_bound llama-ft- 8
wait_for 15 "all 8 JobSet pods bound" has_bound bert- 8
wait_for 15 "PodGroup Running" has_phase pytorchjob-llama-ft Running
echo "ok: PyTorchJob and JobSet bound all 8 pods once all fit"

# The upstream gang: the PodGroup appears, then the 4th pod.
k create -n team-a -f - >/dev/null <<'YAML'
apiVersion: scheduling.k8s.io/v1alpha2
kind: PodGroup
metadata: {name: training}
spec: {schedulingPolicy: {gang: {minCount: 4}}}
YAML
wait_for 15 "upstream pods to wait for 4" has_message up-0 "3 of minMember 4 pods exist"
[ "$(bound up-)" = 0 ] || fail "upstream gang pods bound before 4 exist"
upstream_pod up-3 | k create -f - >/dev/null
wait_for 15 "4 upstream pods bound" has_bound up- 4
echo "ok: spec.schedulingGroup gang of minCount 4 waited for 4, then bound"

# Kubernetes 1.35's gang API: a Workload object's pod group, named by the pods' spec.workloadRef.
workload_pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: team-a}
spec:
  schedulerName: fairway
  workloadRef: {name: llm, podGroup: workers}
  nodeSelector: {pool: wl}
  containers: [{name: main, image: pause, resources: {requests: {cpu: "1"}}}]
YAML
}
llm_workload() {
  cat <<YAML
apiVersion: scheduling.k8s.io/v1alpha1
kind: Workload
metadata: {name: llm, namespace: team-a}
spec:
  controllerRef: {apiGroup: batch, kind: Job, name: llm}
  podGroups: [{name: workers, policy: {gang: {minCount: $1}}}]
YAML
}
for i in 0 1 2; do workload_pod "wl-$i" | k create -f - >/dev/null; done
[ "$(k get pod wl-0 -n team-a -o jsonpath='{.spec.workloadRef.podGroup}')" = workers ] ||
  fail "the API server dropped spec.workloadRef"
wait_for 15 "workloadRef pods to wait for their Workload" has_message wl-0 \
  "waiting for Workload team-a/llm (scheduling.k8s.io/v1alpha1) with pod group workers to exist"
if out=$(llm_workload 0 | k create -f - 2>&1); then fail "a Workload with minCount 0 was accepted"; fi
[[ $out == *'spec.podGroups[0].policy.gang.minCount: Invalid value: 0: must be greater than or equal to 1'* ]] ||
  fail "unexpected answer to minCount 0: $out"
llm_workload 4 | k create -f - >/dev/null
wait_for 15 "workloadRef pods to wait for 4" has_message wl-0 "3 of minMember 4 pods exist"
workload_pod wl-3 | k create -f - >/dev/null
wait_for 15 "the Workload gang to wait for room" has_message wl-0 "gang needs 4 more pods, 3 fit"
[ "$(bound wl-)" = 0 ] || fail "workloadRef gang pods bound while only 3 of 4 fit"
node wl-1 wl 1 | k create -f - >/dev/null
wait_for 15 "4 workloadRef pods bound" has_bound wl- 4
echo "ok: spec.workloadRef gang of a 1.35 Workload (minCount 4) waited for 4 pods and room, then bound"

# Cost: workloads are listed once and watched. Over a second of cycles with pending pods, the
# scheduler sends no GET for any workload or PodGroup (nor per pod).
sleep 0.5
before=$(wc -l <"$WORK/audit.log")
sleep 1
after_lines=$(tail -n +"$((before + 1))" "$WORK/audit.log")
reads=$(printf '%s\n' "$after_lines" | grep -c '"verb":"\(get\|list\)"' || true)
[ "$reads" = 0 ] || fail "the scheduler read $reads objects in a quiet second: $after_lines"
workload_lists=$(grep -c '"resource":"\(pytorchjobs\|jobsets\|jobs\)".*"verb":"list"' \
  "$WORK/audit.log" || true)
# Two lists per kind at most: the start-up check that the kind is readable, and the reflector's.
[ "$workload_lists" -le 6 ] || fail "workloads were listed $workload_lists times (want 2 each)"
# Over the whole run (start-up, 19 owned pods arriving, every gang bound), the scheduler never
# GETs a pod, a workload or a PodGroup: owners are read from list+watch only, so inferring the
# gangs costs no request per pod.
object_gets=$(grep '"userAgent":"fairway-scheduler' "$WORK/audit.log" |
  grep -E '"resource":"(pods|jobs|pytorchjobs|jobsets|podgroups)",' | grep '"verb":"get"' || true)
[ -z "$object_gets" ] || fail "the scheduler read objects one by one: $object_gets"
echo "ok: inference costs no request per pod or per cycle ($workload_lists workload lists in all)"

# Every call the scheduler made (lists, watches, the PodGroups it wrote) is granted by the chart.
check_chart_rbac "$WORK/audit.log" --client fairway-scheduler=fairway-system/fairway
echo "ok: the chart's RBAC grants the workload reads and PodGroup writes"
