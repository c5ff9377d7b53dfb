#!/usr/bin/env bash
# Every examples/ folder of Kubernetes manifests applies as the docs say, `kubectl apply -f
# examples/<dir>/`, to a fresh embedded API server with the scheduler running: each folder on its
# own server (it creates the namespaces, queues and priority classes it uses), then all folders on
# one server in two orders (sorted and reversed). Nothing is created for them beforehand. Checked:
#   - apply succeeds and every object reads back (no kind missing, no namespace missing);
#   - every Queue a folder defines is Valid, and no pod waits on a queue problem (unknown queue,
#     a parent queue, an invalid one): the folders use leaf queues of one tree;
#   - on the shared server, applying any folder again changes none of its namespaces, priority
#     classes and fairway objects (`unchanged`): what two folders define, they define identically;
#   - the whole-GPU gangs (quick start, PodGroup, annotations, Volcano and KAI style) get bound.
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

# The folders of Kubernetes manifests: every folder but the fairway inputs.
mapfile -t dirs < <(cd "$REPO/examples" && find . -mindepth 1 -maxdepth 1 -type d \
  -not -name fairshare -not -name sim | sed 's|^\./||' | sort)
[[ ${#dirs[@]} -ge 7 ]] || fail "only ${#dirs[@]} example folders found: ${dirs[*]}"

on_fail() {
  k get queues 2>/dev/null || true
  k get pods -A -o wide 2>/dev/null || true
}

# A fresh API server with four 8-GPU nodes and a scheduler.
start_cluster() {
  rm -f "$WORK/kc"
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
}
stop_cluster() {
  kill "$SCHED_PID" "$API_PID" 2>/dev/null || true
  wait "$SCHED_PID" "$API_PID" 2>/dev/null || true
  SCHED_PID="" API_PID=""
}

# kubectl apply -f examples/$1/, exactly as a reader types it (relative path, from the repo).
apply_dir() {
  (cd "$REPO" && k apply -f "examples/$1/") >"$WORK/apply.out" 2>&1 ||
    { cat "$WORK/apply.out" >&2; fail "kubectl apply -f examples/$1/"; }
  (cd "$REPO" && k get -f "examples/$1/") >/dev/null || fail "kubectl get -f examples/$1/"
}

# The queues a folder defines are Valid and none of its pods waits on a queue problem.
check_queues() {
  local dir=$1 queues pods
  queues=$(cd "$REPO" && k get -f "examples/$dir/" -o jsonpath='{range .items[?(@.kind=="Queue")]}{.metadata.name}{"\n"}{end}')
  pods=$(cd "$REPO" && k get -f "examples/$dir/" -o jsonpath='{range .items[?(@.kind=="Pod")]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}')
  for q in $queues; do
    local valid=""
    for _ in $(seq 100); do
      valid=$(k get queue "$q" -o jsonpath='{.status.conditions[?(@.type=="Valid")].status}')
      [[ -n $valid ]] && break
      sleep 0.1
    done
    [[ $valid == True ]] || fail "examples/$dir: queue $q is Valid='$valid': $(k get queue "$q" -o jsonpath='{.status.conditions}')"
  done
  for p in $pods; do
    local state=""
    # Bound, or explained by the scheduler (PodScheduled=False with a message).
    for _ in $(seq 100); do
      state=$(k get pod -n "${p%/*}" "${p#*/}" -o jsonpath='{.spec.nodeName}|{.status.conditions[?(@.type=="PodScheduled")].message}')
      [[ $state != "|" ]] && break
      sleep 0.1
    done
    if grep -qE 'queue "[^"]*" (does not exist|has child queues|is invalid)|may not use queue' <<<"$state"; then
      fail "examples/$dir: pod $p waits on its queue: ${state#*|}"
    fi
  done
}

echo "--- each folder on its own fresh server"
for dir in "${dirs[@]}"; do
  start_cluster
  apply_dir "$dir"
  check_queues "$dir"
  stop_cluster
  echo "ok: kubectl apply -f examples/$dir/ (fresh server)"
done

bound() { k get pods -n team-a -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}' | awk -v p="$1" 'index($1, p) == 1 && NF == 2' | wc -l; }

# All folders on one server in the given order; then every folder again changes nothing.
all_in_one() {
  start_cluster
  for dir in "$@"; do apply_dir "$dir"; done
  for dir in "$@"; do check_queues "$dir"; done
  # The kinds folders share (namespaces, queues, priority classes) and fairway's own. Pods and
  # built-in workload objects are left out: kubectl's client-side apply reports some of them
  # `configured` on every apply against kube-apiserver too (integer quantities come back as
  # strings, kubernetes/kubernetes#66450), and no two folders define the same one.
  for dir in "$@"; do
    apply_dir "$dir"
    if grep -E '^(namespace|priorityclass\.scheduling\.k8s\.io|[a-z]+\.scheduling\.fairway\.dev)/' \
      "$WORK/apply.out" | grep -v ' unchanged$' | grep -q .; then
      cat "$WORK/apply.out" >&2
      fail "examples/$dir/ applied again over the other folders changes objects: two folders define them differently"
    fi
  done
  for _ in $(seq 200); do
    [[ $(bound mnist-ddp-) -eq 2 && $(bound bert-large-) -ge 3 && $(bound sweep-) -eq 2 &&
      $(bound volcano-mpi-) -eq 2 && $(bound kai-train-) -eq 1 ]] && break
    sleep 0.1
  done
  [[ $(bound mnist-ddp-) -eq 2 ]] || fail "quick-start gang mnist-ddp: $(bound mnist-ddp-) of 2 pods bound"
  [[ $(bound bert-large-) -ge 3 ]] || fail "gang bert-large: $(bound bert-large-) bound, minMember 3"
  [[ $(bound sweep-) -eq 2 ]] || fail "annotation gang sweep: $(bound sweep-) of 2 bound"
  [[ $(bound volcano-mpi-) -eq 2 ]] || fail "Volcano-style gang: $(bound volcano-mpi-) of 2 bound"
  [[ $(bound kai-train-) -eq 1 ]] || fail "KAI-style pod kai-train-0 not bound"
  stop_cluster
}

echo "--- all folders on one server, sorted: ${dirs[*]}"
all_in_one "${dirs[@]}"
echo "ok: every folder applied, none changes another's objects, the gangs are bound"
mapfile -t reversed < <(printf '%s\n' "${dirs[@]}" | sort -r)
echo "--- all folders on one server, reversed: ${reversed[*]}"
all_in_one "${reversed[@]}"
echo "ok: every folder applied, none changes another's objects, the gangs are bound"
echo "examples_apply: PASS"
