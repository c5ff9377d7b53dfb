#!/usr/bin/env bash
# Dynamic Resource Allocation (resource.k8s.io/v1) on the embedded API server, through kubectl
# over HTTP: `kubectl apply -f examples/dra/` at --kubernetes-version 1.34; `kubectl get` shows
# kube-apiserver's columns for claims, slices and classes; a claim's status.allocation is set
# through the status subresource (`kubectl patch --subresource=status`, or `kubectl proxy` and
# curl for kubectl 1.20, which has no --subresource) while a plain update's status is ignored;
# invalid objects are refused with kube-apiserver's messages; 1.33 serves no resource.k8s.io.
# The emulated resourceclaim controller makes pod dra-train's claim from its template, and
# deletes it with the pod.
# $1: the fairway binary; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: dra_kubectl.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }

expect() {  # expect REGEX TEXT
  grep -qE -- "$1" <<<"$2" || fail "expected /$1/ in: $2"
}
minor=$("$KUBECTL" version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))')

echo "--- 1.33 serves no resource.k8s.io"
start_apiserver --kubernetes-version 1.33
expect "the server doesn't have a resource type \"resourceclaims\"" "$(k get resourceclaims 2>&1 || true)"
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true; rm -f "$WORK/kc"

echo "--- 1.34: kubectl apply -f examples/dra/"
start_apiserver --kubernetes-version 1.34
out=$(cd "$REPO" && k apply -f examples/dra/ 2>&1) || fail "kubectl apply -f examples/dra/: $out"
expect 'deviceclass.resource.k8s.io/gpu.example.com created' "$out"
expect 'resourceslice.resource.k8s.io/gpu-0-gpu.example.com created' "$out"
expect 'resourceclaimtemplate.resource.k8s.io/four-nvlinked-gpus created' "$out"
expect 'pod/dra-train created' "$out"
out=$(k api-resources --api-group=resource.k8s.io)
expect '^deviceclasses +resource.k8s.io/v1 +false +DeviceClass' "$out"
expect '^resourceclaims +resource.k8s.io/v1 +true +ResourceClaim' "$out"
expect '^resourceclaimtemplates +resource.k8s.io/v1 +true +ResourceClaimTemplate' "$out"
expect '^resourceslices +resource.k8s.io/v1 +false +ResourceSlice' "$out"

echo "--- kubectl get: kube-apiserver's columns"
out=$(k get resourceslices)
expect '^NAME +NODE +DRIVER +POOL +AGE' "$out"
expect '^gpu-0-gpu.example.com +gpu-0 +gpu.example.com +gpu-0 ' "$out"
expect '^gpu-1-gpu.example.com +gpu-1 +gpu.example.com +gpu-1 ' "$out"
out=$(k get resourceslices --field-selector spec.nodeName=gpu-1 -o name)
[[ $out == resourceslice.resource.k8s.io/gpu-1-gpu.example.com ]] || fail "field selector spec.nodeName=gpu-1: $out"
out=$(k get deviceclasses)
expect '^NAME +AGE' "$out"
expect '^gpu.example.com ' "$out"
[[ $(k get resourceslice gpu-0-gpu.example.com -o jsonpath='{.spec.devices[4].attributes.cliqueId.string}') == gpu-0-b ]] ||
  fail "device gpu-4 of gpu-0 should be on island gpu-0-b"

echo "--- the resourceclaim controller: dra-train's claim from its template"
made=""
claim_of_dra_train() {
  made=$(k get pod -n team-a dra-train -o jsonpath='{.status.resourceClaimStatuses[0].resourceClaimName}')
  [[ -n $made ]]
}
wait_for 10 "the claim of pod dra-train" claim_of_dra_train
[[ $made =~ ^dra-train-gpus-[a-z0-9]{5}$ ]] || fail "generated claim name: $made"
out=$(k get resourceclaims -n team-a)
expect "^$made +pending " "$out"
out=$(k get resourceclaim -n team-a "$made" -o jsonpath='{.metadata.annotations.resource\.kubernetes\.io/pod-claim-name} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.spec.devices.requests[0].exactly.count} {.spec.devices.constraints[0].matchAttribute}')
[[ $out == "gpus Pod/dra-train 4 gpu.example.com/cliqueId" ]] || fail "claim $made: $out"
pod_uid=$(k get pod -n team-a dra-train -o jsonpath='{.metadata.uid}')

# A claim by name, as a user would make it for dra-train (the status below reserves it for the pod).
k create -n team-a -f - >/dev/null <<'JSON'
{"apiVersion":"resource.k8s.io/v1","kind":"ResourceClaim",
 "metadata":{"name":"dra-train-gpus"},
 "spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","count":4}}],
   "constraints":[{"requests":["gpus"],"matchAttribute":"gpu.example.com/cliqueId"}]}}}
JSON
out=$(k get resourceclaims -n team-a)
expect '^NAME +STATE +AGE' "$out"
expect '^dra-train-gpus +pending ' "$out"
[[ $(k get resourceclaim -n team-a dra-train-gpus -o jsonpath='{.spec.devices.requests[0].exactly.allocationMode}') == ExactCount ]] ||
  fail "allocationMode should default to ExactCount"

echo "--- status.allocation: only through the status subresource"
results='[{"request":"gpus","driver":"gpu.example.com","pool":"gpu-0","device":"gpu-0"},{"request":"gpus","driver":"gpu.example.com","pool":"gpu-0","device":"gpu-1"},{"request":"gpus","driver":"gpu.example.com","pool":"gpu-0","device":"gpu-2"},{"request":"gpus","driver":"gpu.example.com","pool":"gpu-0","device":"gpu-3"}]'
# Reserved for the real pod: the controller drops reservations of pods that do not exist.
status="{\"status\":{\"allocation\":{\"devices\":{\"results\":$results}},\"reservedFor\":[{\"resource\":\"pods\",\"name\":\"dra-train\",\"uid\":\"$pod_uid\"}]}}"
# A plain patch carrying a status: accepted, the status ignored (as kube-apiserver does).
k patch resourceclaim -n team-a dra-train-gpus --type=merge -p "$status" >/dev/null
[[ -z $(k get resourceclaim -n team-a dra-train-gpus -o jsonpath='{.status}') ]] ||
  fail "a plain patch wrote the claim's status"
patch_status() {  # patch_status JSON: a merge patch of the claim's status subresource
  if (( minor >= 24 )); then
    k patch resourceclaim -n team-a dra-train-gpus --subresource=status --type=merge -p "$1" 2>&1
  else
    k proxy --port=0 >"$WORK/proxy.out" 2>&1 &
    local proxy=$! port=""
    for _ in $(seq 50); do
      port=$(sed -nE 's/.*127\.0\.0\.1:([0-9]+).*/\1/p' "$WORK/proxy.out")
      [[ -n $port ]] && break
      sleep 0.1
    done
    curl -sS -X PATCH -H 'Content-Type: application/merge-patch+json' --data "$1" \
      "http://127.0.0.1:$port/apis/resource.k8s.io/v1/namespaces/team-a/resourceclaims/dra-train-gpus/status"
    kill "$proxy"; wait "$proxy" 2>/dev/null || true
  fi
}
out=$(patch_status '{"status":{"reservedFor":[{"resource":"pods","name":"dra-train","uid":"u1"}]}}' || true)
expect 'status.reservedFor: Forbidden: may not be specified when `allocated` is not set' "$out"
out=$(patch_status "$status")
[[ $(k get resourceclaim -n team-a dra-train-gpus -o jsonpath='{.status.allocation.devices.results[3].device}') == gpu-3 ]] ||
  fail "the status patch did not set status.allocation: $out"
expect '^dra-train-gpus +allocated,reserved ' "$(k get resourceclaims -n team-a)"
out=$(patch_status '{"status":{"allocation":{"devices":{"results":[{"request":"gpus","driver":"gpu.example.com","pool":"gpu-1","device":"gpu-0"}]}}}}' || true)
expect 'dra-train-gpus.{0,3} is invalid: status.allocation: Invalid value: .*field is immutable' "$out"

echo "--- invalid objects: kube-apiserver's words"
out=$(k create -n team-a -f - 2>&1 <<'JSON' || true
{"apiVersion":"resource.k8s.io/v1","kind":"ResourceClaim","metadata":{"name":"bad"},
 "spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","count":0}}]}}}
JSON
)
expect 'The ResourceClaim "bad" is invalid: spec.devices.requests\[0\].exactly.count: Invalid value: 0: must be greater than zero' "$out"
out=$(k create -n team-a -f - 2>&1 <<'JSON' || true
{"apiVersion":"resource.k8s.io/v1","kind":"ResourceClaim","metadata":{"name":"bad"},
 "spec":{"devices":{"requests":[{"name":"gpus"}]}}}
JSON
)
expect 'spec.devices.requests\[0\]: Required value: exactly one of `exactly` or `firstAvailable` is required' "$out"
out=$(k patch resourceclaim -n team-a dra-train-gpus --type=merge \
  -p '{"spec":{"devices":{"requests":[{"name":"gpus","exactly":{"deviceClassName":"gpu.example.com","count":8}}]}}}' 2>&1 || true)
expect 'spec: Invalid value: .*field is immutable' "$out"
out=$(k create -f - 2>&1 <<'JSON' || true
{"apiVersion":"resource.k8s.io/v1","kind":"ResourceSlice","metadata":{"name":"bad"},
 "spec":{"driver":"gpu.example.com","pool":{"name":"p","generation":1,"resourceSliceCount":1},
   "nodeName":"gpu-0","allNodes":true}}
JSON
)
expect 'spec: Invalid value: "\{`nodeName`, `allNodes`\}": exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required, but multiple fields are set' "$out"
out=$(k create -f - 2>&1 <<'JSON' || true
{"apiVersion":"resource.k8s.io/v1","kind":"ResourceSlice","metadata":{"name":"bad"},
 "spec":{"pool":{"name":"p","generation":1,"resourceSliceCount":1},"nodeName":"gpu-0"}}
JSON
)
expect 'The ResourceSlice "bad" is invalid: spec.driver: Required value' "$out"
expect 'NotFound' "$(k get resourceslice bad 2>&1 || true)"

echo "--- deleting dra-train: its claim goes, the other claim only loses the reservation"
k delete pod -n team-a dra-train --wait=false >/dev/null
claim_gone() { [[ -z $(k get resourceclaim -n team-a "$made" -o name --ignore-not-found) ]]; }
wait_for 10 "claim $made to be deleted with its pod" claim_gone
unreserved() { [[ -z $(k get resourceclaim -n team-a dra-train-gpus -o jsonpath='{.status.reservedFor}') ]]; }
wait_for 10 "dra-train-gpus to lose its reservation" unreserved
# Without kube-scheduler's finalizer on it, kube-controller-manager leaves the allocation.
[[ $(k get resourceclaim -n team-a dra-train-gpus -o jsonpath='{.status.allocation.devices.results[0].device}') == gpu-0 ]] ||
  fail "dra-train-gpus lost its allocation"
echo "dra_kubectl: PASS"
