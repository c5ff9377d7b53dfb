#!/usr/bin/env bash
# What-if on a live cluster (docs/what-if.md): `fairway snapshot` of an embedded cluster, then
#  1. `fairway sim --snapshot` replayed unchanged decides what the live scheduler then does:
#     every pod on the same node;
#  2. with Queue manifests that change a weight, the fair shares and bindings change as the hand
#     calculation says: 12 GPUs, queues a and b each wanting 12 one-GPU pods; weights 1:1 → 6
#     and 6; a's weight 3 → 12 · 3/4 = 9 and 12 · 1/4 = 3.
# Nodes of 8 and 4 GPUs (no two alike, so no placement is a tie). $1: the fairway binary.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: what_if.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
on_fail() { k get pods -n team -o wide; cat "$WORK/replay.json" 2>/dev/null || true; }

start_apiserver
gpu_node gpu-a 8
gpu_node gpu-b 4
k create namespace team >/dev/null
queues() {  # queues WEIGHT_OF_A
  printf '%s\n' "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" "metadata: {name: a}" \
    "spec: {resources: {nvidia.com/gpu: {quota: 0, overQuotaWeight: $1}}}" "---" \
    "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" "metadata: {name: b}" \
    "spec: {resources: {nvidia.com/gpu: {quota: 0, overQuotaWeight: 1}}}"
}
queues 1 | k apply -f - >/dev/null
for q in a b; do
  for i in $(seq -w 1 12); do
    cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $q-$i, namespace: team, labels: {fairway.dev/queue: $q}}
spec:
  schedulerName: fairway
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: 1}}}]
---
YAML
  done
done | k apply -f - >/dev/null

"$FAIRWAY" snapshot --kubeconfig "$WORK/kc" >"$WORK/snapshot.json" || fail "fairway snapshot failed"
python3 - "$WORK/snapshot.json" <<'PY' || fail "the snapshot does not hold the cluster"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "ClusterSnapshot", s["kind"]
assert len(s["nodes"]["items"]) == 2 and len(s["queues"]["items"]) == 2
assert len([p for p in s["pods"]["items"] if p["metadata"]["namespace"] == "team"]) == 24
assert all("managedFields" not in p["metadata"] for p in s["pods"]["items"])
PY

# 1. Replayed unchanged, then the live scheduler: the same decisions.
"$FAIRWAY" sim --snapshot "$WORK/snapshot.json" --output json >"$WORK/replay.json"
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --metrics-bind-address=0 >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
bound_count() { k get pods -n team -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | grep -c . || true; }
twelve_bound() { [[ $(bound_count) == 12 ]]; }
wait_for 20 "12 pods bound" twelve_bound
k get pods -n team -o jsonpath='{range .items[*]}team/{.metadata.name} {.spec.nodeName}{"\n"}{end}' |
  awk 'NF == 2' | sort >"$WORK/live.txt"
python3 -c '
import json, sys
for pod, node in sorted(json.load(open(sys.argv[1]))["asIs"]["bindings"].items()):
    print(pod, node)' "$WORK/replay.json" >"$WORK/replayed.txt"
diff "$WORK/replayed.txt" "$WORK/live.txt" >&2 || fail "the replay decided otherwise than the live scheduler"
echo "ok: the replay bound the same $(wc -l <"$WORK/live.txt") pods to the same nodes as the live scheduler"

# 2. A changed weight: fair shares 6/6 → 9/3, and a binds 9 pods, b 3.
queues 3 >"$WORK/queues.yaml"
"$FAIRWAY" sim --snapshot "$WORK/snapshot.json" --queues "$WORK/queues.yaml" --output json \
  >"$WORK/replay.json"
python3 - "$WORK/replay.json" <<'PY' || fail "the changed weight did not change the decisions as worked by hand"
import json, sys
r = json.load(open(sys.argv[1]))
def count(side, queue):
    return sum(1 for pod in r[side]["bindings"] if pod.startswith("team/" + queue + "-"))
shares = {side: {q: r[side]["queues"][q]["fairShareGpus"] for q in "ab"} for side in ("asIs", "changed")}
assert shares == {"asIs": {"a": 6, "b": 6}, "changed": {"a": 9, "b": 3}}, shares
assert (count("asIs", "a"), count("asIs", "b")) == (6, 6), r["asIs"]["bindings"]
assert (count("changed", "a"), count("changed", "b")) == (9, 3), r["changed"]["bindings"]
PY
"$FAIRWAY" sim --snapshot "$WORK/snapshot.json" --queues "$WORK/queues.yaml" >"$WORK/replay.txt"
grep -Eq '^a +6\.00 +9\.00$' "$WORK/replay.txt" || fail "the text report does not show a's 6 → 9: $(cat "$WORK/replay.txt")"
echo "ok: a's weight 3 moves the fair shares from 6/6 to 9/3 and the bindings with them"

# The Queues as `kubectl get -o yaml` writes them (a List) are taken as they are: nothing changes.
k get queues -o yaml >"$WORK/list.yaml"
"$FAIRWAY" sim --snapshot "$WORK/snapshot.json" --queues "$WORK/list.yaml" >"$WORK/replay.txt"
grep -q '^bindings that change (as is → changed) (0):$' "$WORK/replay.txt" ||
  fail "the cluster's own Queues, read back as a List, changed the decisions: $(cat "$WORK/replay.txt")"
echo "ok: the cluster's own Queues read back from kubectl get -o yaml change nothing"

# 3. --anonymize: none of the cluster's names, and the same decisions as a plain snapshot taken
#    at the same point (fair shares and allocations per queue, bindings, waiting pods).
"$FAIRWAY" snapshot --kubeconfig "$WORK/kc" >"$WORK/plain.json"
"$FAIRWAY" snapshot --kubeconfig "$WORK/kc" --anonymize >"$WORK/shared.json" ||
  fail "fairway snapshot --anonymize failed"
for name in team gpu-a gpu-b busybox "$(k get pods -n team -o jsonpath='{.items[0].metadata.uid}')"; do
  ! grep -q -- "$name" "$WORK/shared.json" || fail "the anonymized snapshot still holds \"$name\""
done
"$FAIRWAY" sim --snapshot "$WORK/plain.json" --output json >"$WORK/plain-replay.json"
"$FAIRWAY" sim --snapshot "$WORK/shared.json" --output json >"$WORK/shared-replay.json"
python3 - "$WORK/plain-replay.json" "$WORK/shared-replay.json" <<'PY' || fail "the anonymized snapshot replays otherwise"
import json, sys
plain, shared = (json.load(open(f))["asIs"] for f in sys.argv[1:])
def outline(r):
    return (sorted((q["fairShareGpus"], q["allocatedGpus"]) for q in r["queues"].values()),
            len(r["bindings"]), len(r["evictions"]), r["pendingPods"])
assert outline(plain) == outline(shared), (outline(plain), outline(shared))
assert not set(shared["queues"]) & {"a", "b"}, shared["queues"]
PY
echo "ok: the anonymized snapshot names nothing of the cluster and replays to the same decisions"
echo PASS
