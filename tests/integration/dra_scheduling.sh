#!/usr/bin/env bash
# Dynamic Resource Allocation end to end (docs/dra.md): the real scheduler against the embedded
# API server at 1.34 (which plays kube-controller-manager's resourceclaim controller), with
# kubectl as the client. examples/dra/ gives 2 nodes × 8 fake GPUs, each node's GPUs in two
# NVLink cliques of 4 (gpu-N-a: devices 0-3, gpu-N-b: 4-7), and a claim template asking 4 GPUs
# with matchAttribute on the clique. Pods using that template:
#   - each bound pod's claim holds 4 devices of one clique on the pod's node, is reserved for
#     the pod and carries the node in its nodeSelector, all written before the Binding;
#   - the four cliques go to four pods; a fifth stays pending with kube-scheduler's words;
#   - deleting one pod frees its clique (the controller releases the claim) and the fifth pod
#     gets exactly that clique.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: dra_scheduling.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
on_fail() {
  k get pods -n team-a -o wide || true
  k get resourceclaims -n team-a -o json || true
}

start_apiserver --kubernetes-version 1.34
(cd "$REPO" && k apply -f examples/dra/00-namespace.yaml -f examples/dra/01-queues.yaml \
  -f examples/dra/02-deviceclass.yaml -f examples/dra/03-resourceslices.yaml \
  -f examples/dra/04-claim-template.yaml >/dev/null)
# The nodes the slices name: no nvidia.com/gpu (the DRA driver publishes devices, not counts).
gpu_node gpu-0 0
gpu_node gpu-1 0

"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  >"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

training_pod() {  # training_pod NAME
  k create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: team-a, labels: {fairway.dev/queue: team-a}}
spec:
  schedulerName: fairway
  resourceClaims: [{name: gpus, resourceClaimTemplateName: four-nvlinked-gpus}]
  containers:
    - {name: trainer, image: busybox, resources: {claims: [{name: gpus}]}}
YAML
}
bound() { [[ -n $(k get pod -n team-a "$1" -o jsonpath='{.spec.nodeName}') ]]; }
claim_of() { k get pod -n team-a "$1" -o jsonpath='{.status.resourceClaimStatuses[0].resourceClaimName}'; }

# clique_of POD: checks the pod's claim and prints "<node>-<a|b>", the clique its devices are on.
clique_of() {
  local pod=$1 node claim uid
  node=$(k get pod -n team-a "$pod" -o jsonpath='{.spec.nodeName}')
  uid=$(k get pod -n team-a "$pod" -o jsonpath='{.metadata.uid}')
  claim=$(claim_of "$pod")
  [[ -n $claim ]] || fail "$pod is bound but names no claim"
  k get resourceclaim -n team-a "$claim" -o json | python3 -c '
import json, sys
pod, node, uid = sys.argv[1:4]
claim = json.load(sys.stdin)
status = claim.get("status", {})
results = status.get("allocation", {}).get("devices", {}).get("results", [])
def bad(why):
    sys.exit(f"{pod}: claim {claim['"'"'metadata'"'"']['"'"'name'"'"']}: {why}: {json.dumps(status)}")
if len(results) != 4: bad("4 devices expected")
if {r["pool"] for r in results} != {node}: bad(f"devices not all on the pod node {node}")
if {r["request"] for r in results} != {"gpus"}: bad("results name another request")
indexes = sorted(int(r["device"].split("-")[1]) for r in results)
if indexes not in ([0, 1, 2, 3], [4, 5, 6, 7]): bad(f"devices {indexes} span both cliques")
if [c.get("uid") for c in status.get("reservedFor", [])] != [uid]: bad("not reserved for the pod")
terms = status["allocation"].get("nodeSelector", {}).get("nodeSelectorTerms", [])
if node not in json.dumps(terms): bad("nodeSelector does not name the node")
print(f"{node}-{'"'"'a'"'"' if indexes[0] == 0 else '"'"'b'"'"'}")
' "$pod" "$node" "$uid" || fail "claim of $pod is wrong"
}

echo "--- four pods of 4 GPUs take the four cliques"
declare -A clique
for pod in train-1 train-2 train-3 train-4; do
  training_pod "$pod"
  wait_for 30 "$pod to be bound" bound "$pod"
  clique[$pod]=$(clique_of "$pod")
  echo "$pod: ${clique[$pod]}"
done
distinct=$(printf '%s\n' "${clique[@]}" | sort -u | wc -l)
(( distinct == 4 )) || fail "four pods should hold four cliques: ${clique[*]}"

echo "--- a fifth waits with kube-scheduler's words"
training_pod train-5
pending_reason() {
  k get pod -n team-a train-5 -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'
}
wait_for 30 "train-5 to be explained" grep -q "cannot allocate all claims" <(pending_reason)
bound train-5 && fail "train-5 was bound with every clique taken"
msg=$(pending_reason)
[[ $msg == "0/2 nodes are available: 2 cannot allocate all claims."* ]] ||
  fail "unexpected pending message: $msg"

echo "--- deleting train-2 frees its clique for train-5"
freed=${clique[train-2]}
k delete pod -n team-a train-2 --wait=false >/dev/null
wait_for 30 "train-5 to be bound" bound train-5
got=$(clique_of train-5)
[[ $got == "$freed" ]] || fail "train-5 got clique $got, expected the freed $freed"
echo "train-5: $got"
echo "PASS"
