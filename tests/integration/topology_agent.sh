#!/usr/bin/env bash
# `fairway topology-agent` against the fake NVML library built by the tests (tests/fake_nvml):
# --print must emit the gpu-topology annotation for an 8-GPU HGX box, and a missing NVML must
# fail with a clear message. $1: the fairway binary.
set -euo pipefail
fairway="$1"
fake="$(dirname "$fairway")/tests/fake_nvml/libnvidia-ml.so.1"
[[ -f "$fake" ]] || { echo "missing $fake (build the fake_nvml target)"; exit 1; }

json="$(FAKE_NVML_MACHINE=hgx "$fairway" topology-agent --print --nvml-library "$fake")"
grep -q '"product":"NVIDIA H100 80GB HBM3"' <<<"$json" || { echo "no product in: $json"; exit 1; }
[[ "$(grep -o '"type":"nvswitch"' <<<"$json" | wc -l)" == 28 ]] || { echo "expected 28 NVSwitch pairs: $json"; exit 1; }

if err="$("$fairway" topology-agent --print --nvml-library /nonexistent/libnvidia-ml.so.1 2>&1)"; then
  echo "expected a failure without NVML"; exit 1
fi
grep -q "cannot load /nonexistent/libnvidia-ml.so.1" <<<"$err" || { echo "unclear error: $err"; exit 1; }
echo "topology-agent --print: ok"

# Publishing: the agent patches its Node on the embedded API server (merge patch), once.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
KUBECTL=${KUBECTL:-$REPO/.tools/bin/kubectl}
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$fairway" apiserver --port 0 --kubeconfig-out "$TMP/kc" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [[ -s $TMP/kc ]] && break
  sleep 0.1
done
[[ -s $TMP/kc ]] || { echo "apiserver did not start:"; cat "$TMP/server.out" "$TMP/server.err"; exit 1; }
k() { "$KUBECTL" --kubeconfig "$TMP/kc" --request-timeout=10s "$@"; }

k apply -f - <<'YAML' >/dev/null
apiVersion: v1
kind: Node
metadata:
  name: gpu-0
  annotations: {other: kept}
YAML
FAKE_NVML_MACHINE=pairs NODE_NAME=gpu-0 "$fairway" topology-agent --once \
  --kubeconfig "$TMP/kc" --nvml-library "$fake"
published="$(k get node gpu-0 -o jsonpath='{.metadata.annotations.fairway\.dev/gpu-topology}')"
grep -q '"type":"nvlink"' <<<"$published" || { echo "annotation not published: $published"; exit 1; }
[[ "$(k get node gpu-0 -o jsonpath='{.metadata.annotations.other}')" == kept ]] \
  || { echo "the merge patch dropped other annotations"; exit 1; }
echo "topology-agent publish: ok"
