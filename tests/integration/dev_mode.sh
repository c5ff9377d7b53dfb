#!/usr/bin/env bash
# `fairway apiserver --dev` (docs/embedded-apiserver.md, "Dev mode"):
#   - it holds what `helm install fairway charts/fairway -n fairway-system` installs besides the
#     scheduler: the objects of the chart's own rendering (helm template, default values) are
#     compared field by field with what the server has — the reservation namespace, its
#     ServiceAccount, the PriorityClass and the Queues — and the release namespace exists;
#   - its stand-in node agent gives each bound reservation pod one GPU of its node, as the device
#     plugin and `fairway reservation-agent --once` would: distinct GPUs on one node, the freed
#     one again after a delete (GPU k keeps its UUID), the UUIDs the node's
#     fairway.dev/gpu-topology lists when it has them, nothing when the node has no GPU left, and
#     nothing for pods that are not reservation pods; reported with a merge PATCH by its own
#     user agent (audit log).
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: dev_mode.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
HELM="${HELM:-$REPO/.tools/bin/helm}"
[[ -x $HELM ]] || { echo "helm not found at $HELM (run 'make tools' or set HELM)" >&2; exit 1; }
on_fail() {
  echo "--- API server log"
  cat "$WORK/api.log"
  k get pods -A -o wide 2>/dev/null || true
}
start_apiserver --dev --audit-log "$WORK/audit.jsonl"

echo "--- the chart's objects"
"$HELM" template fairway "$REPO/charts/fairway" --namespace fairway-system >"$WORK/chart.yaml"
python3 - "$WORK/chart.yaml" >"$WORK/expected.tsv" <<'PY'
import sys, yaml
# kind|namespace|name|manifest: what --dev must have of each chart object it stands for.
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if not doc:
        continue
    kind, meta = doc["kind"], doc["metadata"]
    if kind == "Namespace" or kind == "PriorityClass" or kind == "Queue" or (
            kind == "ServiceAccount" and meta.get("namespace") == "fairway-reservation"):
        print("|".join([kind, meta.get("namespace", ""), meta["name"], yaml.safe_dump(doc)
                         .replace("\n", "\\n")]))
PY
[ "$(cut -d'|' -f1 "$WORK/expected.tsv" | sort | tr '\n' ' ')" = "Namespace PriorityClass Queue ServiceAccount " ] \
  || fail "the chart's rendering changed: $(cut -d'|' -f1-3 "$WORK/expected.tsv" | tr '\n' ';')"
while IFS='|' read -r kind namespace name manifest; do
  resource="$(tr '[:upper:]' '[:lower:]' <<<"$kind")"
  [ "$kind" = Queue ] && resource=queues.scheduling.fairway.dev
  args=(get "$resource" "$name" -o json)
  [ -n "$namespace" ] && args+=(-n "$namespace")
  k "${args[@]}" >"$WORK/actual.json" || fail "--dev has no $kind $namespace/$name of the chart"
  printf '%b' "$manifest" >"$WORK/expected.yaml"
  python3 - "$WORK/expected.yaml" "$WORK/actual.json" "$kind" <<'PY' || fail "$kind $name differs from the chart's"
import json, sys, yaml
chart, actual, kind = yaml.safe_load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
fields = {"PriorityClass": ["value", "preemptionPolicy", "globalDefault"], "Queue": ["spec"]}
problems = [f"{f}: chart {chart.get(f)!r}, --dev {actual.get(f)!r}"
            for f in fields.get(kind, []) if chart.get(f) != actual.get(f)]
# Labels that mean something to the cluster (Pod Security admission), not helm's bookkeeping.
for key, value in chart["metadata"].get("labels", {}).items():
    if key.startswith("pod-security.kubernetes.io/") and actual["metadata"].get("labels", {}).get(key) != value:
        problems.append(f"label {key}: chart {value!r}, --dev {actual['metadata'].get('labels', {}).get(key)!r}")
for p in problems:
    print(f"{kind} {chart['metadata']['name']}: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
  echo "ok: $kind $namespace/$name as the chart has it"
done <"$WORK/expected.tsv"
k get namespace fairway-system >/dev/null || fail "--dev has no release namespace fairway-system"
echo "ok: Namespace fairway-system (helm install --namespace fairway-system --create-namespace)"

echo "--- the stand-in node agent"
node() {  # node NAME GPUS [TOPOLOGY_JSON]
  local annotations='{}'
  [ -n "${3:-}" ] && annotations="{\"fairway.dev/gpu-topology\": $(jq -Rn --arg t "$3" '$t')}"
  k create -f - >/dev/null <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1","annotations":$annotations},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"$2","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"$2","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
}
# A reservation pod as the scheduler makes it (scheduler/service/reservations.h), bound at once.
reservation() {  # reservation NAME NODE [NAMESPACE] [LABEL]
  k create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: ${3:-fairway-reservation}
  labels: {${4:-fairway.dev/gpu-group}: $1}
spec:
  nodeName: $2
  priorityClassName: fairway-reservation
  serviceAccountName: fairway-reservation
  containers: [{name: hold, image: fairway, resources: {limits: {nvidia.com/gpu: 1}}}]
YAML
}
uuid_of() { k get pod -n "${2:-fairway-reservation}" "$1" -o jsonpath='{.metadata.annotations.fairway\.dev/gpu-uuid}'; }
has_uuid() { [ -n "$(uuid_of "$@")" ]; }
shape='^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

node two-gpus 2
node topo 1 '{"version":1,"gpus":[{"index":0,"uuid":"GPU-5c1e0000-1111-2222-3333-444455556666"}]}'
node no-gpus 0
k create namespace other >/dev/null

reservation r1 two-gpus
reservation r2 two-gpus
wait_for 10 "r1's GPU" has_uuid r1
wait_for 10 "r2's GPU" has_uuid r2
u1="$(uuid_of r1)" u2="$(uuid_of r2)"
[[ $u1 =~ $shape && $u2 =~ $shape ]] || fail "not NVML-shaped UUIDs: '$u1' '$u2'"
[ "$u1" != "$u2" ] || fail "r1 and r2 got the same GPU $u1 of a 2-GPU node"
echo "ok: two reservation pods on a 2-GPU node hold distinct GPUs ($u1, $u2)"

reservation r3 two-gpus
wait_for 10 "the agent to say node two-gpus is full" \
  grep -q 'no GPU for fairway-reservation/r3: node two-gpus has 2 GPU(s), all held by reservation pods' "$WORK/api.log"
! has_uuid r3 || fail "r3 got a GPU of a node whose GPUs are all held: $(uuid_of r3)"
echo "ok: a third reservation pod on a 2-GPU node gets none, and the log says why"

k delete pod -n fairway-reservation r1 --grace-period=0 --force >/dev/null 2>&1
wait_for 10 "r1 gone" bash -c "! '$KUBECTL' --kubeconfig '$WORK/kc' get pod -n fairway-reservation r1"
reservation r4 two-gpus
wait_for 10 "r4's GPU" has_uuid r4
[ "$(uuid_of r4)" = "$u1" ] || fail "r4 got $(uuid_of r4), not the freed GPU $u1"
echo "ok: the freed GPU goes to the next reservation pod, with the same UUID"

reservation r5 topo
wait_for 10 "r5's GPU" has_uuid r5
[ "$(uuid_of r5)" = GPU-5c1e0000-1111-2222-3333-444455556666 ] \
  || fail "r5 got $(uuid_of r5), not the GPU the node's fairway.dev/gpu-topology lists"
echo "ok: a node's published topology names its GPUs"

# r6 last: the watch delivers in resourceVersion order, so once the agent has judged r6 it has
# seen the two before it.
reservation not-a-reservation two-gpus fairway-reservation app
reservation elsewhere topo other
reservation r6 no-gpus
wait_for 10 "the agent to say node no-gpus has none" \
  grep -q 'no GPU for fairway-reservation/r6: node no-gpus has no nvidia.com/gpu' "$WORK/api.log"
! has_uuid not-a-reservation || fail "a pod without fairway.dev/gpu-group got a GPU"
! has_uuid elsewhere other || fail "a pod outside fairway-reservation got a GPU"
echo "ok: nothing for a node without GPUs, pods that are not reservation pods, other namespaces"

patches="$(jq -c 'select(.userAgent == "fairway-dev-node-agent" and .verb == "patch"
  and .resource == "pods" and .namespace == "fairway-reservation" and .code == 200)' \
  "$WORK/audit.jsonl" | wc -l)"
[ "$patches" = 4 ] || fail "expected 4 PATCHes of pods by fairway-dev-node-agent, audit log has $patches"
echo "ok: the GPUs are reported by PATCH (user agent fairway-dev-node-agent), one per GPU given"
