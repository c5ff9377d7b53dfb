#!/usr/bin/env bash
# docs/quick-start.md, run as written: every ```sh block of the page, in order, in one shell, with
# the kubectl under test on PATH as `kubectl` — path B (`fairway apiserver --dev`, the scheduler,
# two fake GPU nodes) and the steps after it. Blocks under a heading "On a cluster" need a real
# cluster (helm install, port-forward) and are left out; helm_install.sh covers the chart.
# Then checked: the gang is bound, and the half-GPU notebook is bound next to a reservation pod
# whose fake GPU (fairway.dev/gpu-uuid, given by --dev's stand-in node agent) is the one in the
# notebook's ConfigMap. A documented command that fails fails the test, naming it.
#
# Only what cannot be shared between tests running at once is changed in the commands: the API
# server's port 6443 becomes 0 (a free one; the kubeconfig has it), the metrics port 8080 a free
# one, and /tmp/fw.kubeconfig a file of this test. `make build` is skipped: $1 is the build.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: quick_start.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
DOC="$REPO/docs/quick-start.md"

# The documented background commands, newest first: the scheduler before its API server.
on_cleanup() {
  local pid
  for pid in $(jobs -p | tac); do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
on_fail() {
  kubectl get pods -A -o wide 2>/dev/null || true
  kubectl get queues 2>/dev/null || true
}

# The sh blocks, each after a comment naming its line; none under an "On a cluster" heading.
awk '
  /^```/ && in_block { in_block = 0; next }
  /^```sh[ \t]*$/ && !in_block {
    in_block = 1
    skip = tolower(heading) ~ /on a cluster/
    if (!skip) { printf "# --- docs/quick-start.md:%d (%s)\n", NR, heading; ++blocks }
    next
  }
  /^```/ { in_block = 2; skip = 1; next }
  !in_block && /^#+ / { heading = $0; sub(/^#+ /, "", heading); next }
  in_block == 1 && !skip { print }
  END { printf "# %d blocks\n", blocks }
' "$DOC" >"$WORK/doc.sh"
blocks="$(tail -1 "$WORK/doc.sh" | grep -o '[0-9]\+')"
[ "$blocks" -ge 6 ] || fail "only $blocks sh blocks found in $DOC"
for command in 'make build' 'apiserver --dev --port 6443' '/tmp/fw.kubeconfig' \
  '127.0.0.1:8080' 'localhost:8080' 'examples/quick-start/02-gang.yaml' \
  'examples/quick-start/03-fractional-pod.yaml'; do
  grep -qF -- "$command" "$WORK/doc.sh" || fail "the quick start no longer says '$command': update this test"
done

# The test's ports and files, and nothing else.
METRICS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i -e 's/--port 6443/--port 0/' -e "s|/tmp/fw.kubeconfig|$WORK/fw.kubeconfig|g" \
  -e "s/127.0.0.1:8080/127.0.0.1:$METRICS_PORT/g" -e "s/localhost:8080/localhost:$METRICS_PORT/g" \
  "$WORK/doc.sh"
echo "--- the commands run (docs/quick-start.md, ports and paths of this test)"
cat "$WORK/doc.sh"

# The reader's checkout: build/fairway is the binary under test, examples/ the repository's; the
# reader's kubectl is the one under test.
mkdir -p "$WORK/checkout/build" "$WORK/bin"
ln -s "$FAIRWAY" "$WORK/checkout/build/fairway"
ln -s "$REPO/examples" "$WORK/checkout/examples"
ln -s "$(realpath "$KUBECTL")" "$WORK/bin/kubectl"
export PATH="$WORK/bin:$PATH"
make() { [ "$*" = build ] || fail "the quick start runs 'make $*'"; }
unset KUBECONFIG

echo "--- running them ($("$KUBECTL" version --client --short 2>/dev/null || "$KUBECTL" version --client | head -1))"
cd "$WORK/checkout"
trap 'echo "FAIL: a command of docs/quick-start.md failed (status $?): $BASH_COMMAND" >&2' ERR
# shellcheck disable=SC1091 # generated above
source "$WORK/doc.sh"
trap - ERR
[ "$KUBECONFIG" = "$WORK/fw.kubeconfig" ] || fail "the quick start did not export KUBECONFIG"

echo "--- checks"
for pod in mnist-ddp-0 mnist-ddp-1 notebook; do
  node="$(kubectl -n team-a get pod "$pod" -o jsonpath='{.spec.nodeName}')"
  [ -n "$node" ] || fail "pod team-a/$pod is not bound"
done
notebook_node="$(kubectl -n team-a get pod notebook -o jsonpath='{.spec.nodeName}')"
group="$(kubectl -n team-a get pod notebook -o jsonpath='{.metadata.labels.fairway\.dev/gpu-group}')"
[ -n "$group" ] || fail "the notebook has no fairway.dev/gpu-group label"
reservation_node="$(kubectl -n fairway-reservation get pod "$group" -o jsonpath='{.spec.nodeName}')"
[ "$reservation_node" = "$notebook_node" ] \
  || fail "reservation pod $group is on '$reservation_node', the notebook on '$notebook_node'"
uuid="$(kubectl -n fairway-reservation get pod "$group" -o jsonpath='{.metadata.annotations.fairway\.dev/gpu-uuid}')"
[[ $uuid =~ ^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] \
  || fail "reservation pod $group reports no GPU UUID: '$uuid'"
visible="$(kubectl -n team-a get configmap notebook-fairway-gpu -o jsonpath='{.data.NVIDIA_VISIBLE_DEVICES}')"
[ "$visible" = "$uuid" ] || fail "the notebook's ConfigMap says NVIDIA_VISIBLE_DEVICES='$visible', its GPU is $uuid"
[ "$(kubectl -n team-a get configmap notebook-fairway-gpu -o jsonpath='{.data.GPU_FRACTION}')" = 0.5 ] \
  || fail "the notebook's ConfigMap has no GPU_FRACTION 0.5"
echo "the half-GPU notebook is bound on $notebook_node with fake GPU $uuid (reservation pod $group): ok"
