#!/usr/bin/env bash
# Every Kubernetes manifest under examples/ applies with kubectl to the embedded API server while
# the scheduler runs, so no example rots: a renamed field, a bad quantity or a wrong annotation
# fails here. The whole-GPU gangs of the quick start and of examples/gangs must also get bound.
# Fair-share inputs (examples/fairshare) go through `fairway fairshare`; scenarios (examples/sim)
# are run by sim_demo.sh. $1: the fairway binary; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: examples_apply.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }

echo "--- fair-share inputs"
for f in "$REPO"/examples/fairshare/*.yaml; do
  "$FAIRWAY" fairshare "$f" >/dev/null || fail "fairway fairshare $f"
  echo "ok: $f"
done

start_apiserver
for i in 0 1 2 3; do
  k create -f - >/dev/null <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-$i","labels":{"kubernetes.io/hostname":"gpu-$i"}},
 "status":{"allocatable":{"cpu":"128","memory":"1Ti","nvidia.com/gpu":"8","pods":"110"},
           "capacity":{"cpu":"128","memory":"1Ti","nvidia.com/gpu":"8","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
done
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  --metrics-bind-address=0 >"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

# Kubernetes manifests: every YAML file outside the fairway-input folders.
mapfile -t files < <(find "$REPO/examples" -name '*.yaml' -not -path '*/examples/sim/*' \
  -not -path '*/examples/fairshare/*' | sort)
[[ ${#files[@]} -ge 10 ]] || fail "only ${#files[@]} example manifests found"
# Namespaces the examples use, created first (the quick start also ships its own Namespace).
for ns in $(grep -ho '^  namespace: [a-z0-9-]*' "${files[@]}" | awk '{print $2}' | sort -u); do
  k get namespace "$ns" >/dev/null 2>&1 || k create namespace "$ns" >/dev/null
done

echo "--- apply every example"
applied=0
for f in "${files[@]}"; do
  rel=${f#"$REPO"/}
  if ! k apply -f "$f" >"$WORK/apply.out" 2>&1; then
    # Workload controllers (apps/v1) are not served by the embedded API server; such an example
    # must not hold anything else, and the chart renders and tests the same object.
    if grep -q 'no matches for kind "DaemonSet" in version "apps/v1"' "$WORK/apply.out" &&
      ! grep -v 'no matches for kind' "$WORK/apply.out" | grep -q .; then
      echo "skipped: $rel (apps/v1 DaemonSet: not served here; helm_chart.sh renders the chart's)"
      continue
    fi
    cat "$WORK/apply.out" >&2
    fail "kubectl apply -f $rel"
  fi
  # And every object is there to read back.
  k get -f "$f" >/dev/null || fail "kubectl get -f $rel"
  applied=$((applied + 1))
  echo "ok: $rel"
done
echo "$applied example files applied"

echo "--- the quick start's gang and the PodGroup gang get bound"
bound() { k get pods -n team-a -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' | awk -v p="$1" 'index($1, p) == 1 && NF == 2' | wc -l; }
for _ in $(seq 200); do
  [[ $(bound mnist-ddp-) -eq 2 && $(bound bert-large-) -ge 3 && $(bound sweep-) -eq 2 ]] && break
  sleep 0.1
done
[[ $(bound mnist-ddp-) -eq 2 ]] || fail "quick-start gang mnist-ddp: $(bound mnist-ddp-) of 2 pods bound"
[[ $(bound bert-large-) -ge 3 ]] || fail "gang bert-large: $(bound bert-large-) bound, minMember 3"
[[ $(bound sweep-) -eq 2 ]] || fail "annotation gang sweep: $(bound sweep-) of 2 bound"
[[ $(bound volcano-mpi-) -eq 2 ]] || fail "Volcano-style gang: $(bound volcano-mpi-) of 2 bound"
[[ $(bound kai-train-) -eq 1 ]] || fail "KAI-style pod kai-train-0 not bound"
echo "ok: gangs bound (quick start, PodGroup, annotations, Volcano and KAI labels)"
echo "examples_apply: PASS"
