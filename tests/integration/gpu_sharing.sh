#!/usr/bin/env bash
# Fractional GPUs end to end (docs/gpu-sharing.md): the real scheduler against the embedded API
# server, a stand-in for the NVIDIA device plugin and kubelet (it starts the real
# `fairway reservation-agent` for each reservation pod, with NVIDIA_VISIBLE_DEVICES set as the
# device plugin would and the fake NVML library to verify it), and kubectl as the client.
# The book's showdown: pods of 2000, 2000, 8000 and 3000 MiB share one 16 GiB GPU behind one
# reservation pod; a fifth of 4000 MiB gets another GPU; deleting the sharers deletes the
# reservation pod; a reservation pod that never reports a UUID is rolled back.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
FAKE_NVML="$(dirname "$FAIRWAY")/tests/fake_nvml/libnvidia-ml.so.1"
[ -f "$FAKE_NVML" ] || fail "missing $FAKE_NVML (build the fake_nvml target)"
PLUGIN_PID=""
on_cleanup() {
  [ -n "$PLUGIN_PID" ] && kill "$PLUGIN_PID" 2>/dev/null || true
  for pidfile in "$WORK"/agent-*.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}
on_fail() { echo "--- agents"; cat "$WORK"/agent-*.log 2>/dev/null || true; }
start_apiserver --audit-log "$WORK/audit.jsonl"

k create namespace fairway-reservation >/dev/null
k create namespace team >/dev/null
# What the chart installs: the PriorityClass that keeps reservation pods from being preempted.
k apply -f - >/dev/null <<'YAML'
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: fairway-reservation}
value: 1000000000
preemptionPolicy: Never
description: fairway GPU reservation pods
YAML
# ...and the reservation pods' ServiceAccount (fairway's preflight finds it; without it a real
# API server refuses every reservation pod).
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata: {name: fairway-reservation, namespace: fairway-reservation}
YAML
cat >"$WORK/node.json" <<'JSON'
{"apiVersion":"v1","kind":"Node",
 "metadata":{"name":"gpu-0","labels":{"kubernetes.io/hostname":"gpu-0","nvidia.com/gpu.memory":"16384"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"2","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"2","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
k create -f "$WORK/node.json" >/dev/null

# The stand-in device plugin + kubelet: each reservation pod gets the next free fake GPU and a
# real reservation-agent process; a deleted reservation pod's agent gets SIGTERM.
# NO_AGENT_FOR names a reservation pod to leave without an agent (the timeout case).
device_plugin() {
  local next=0
  while true; do
    local names
    names="$(k get pods -n fairway-reservation -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null || true)"
    while read -r name deleting; do
      [ -n "$name" ] || continue
      if [ -n "$deleting" ]; then
        if [ -f "$WORK/agent-$name.pid" ] && [ ! -f "$WORK/agent-$name.stopped" ]; then
          kill -TERM "$(cat "$WORK/agent-$name.pid")" 2>/dev/null || true
          touch "$WORK/agent-$name.stopped"
        fi
        continue
      fi
      [ -f "$WORK/agent-$name.pid" ] && continue
      [ -f "$WORK/no-agent" ] && [ "$(cat "$WORK/no-agent")" = "$name" ] && continue
      # The pod's own commands: its init container reports with the only token (here the
      # kubeconfig) and the pod's identity; then its app container holds the same GPU (the
      # device manager hands the init container's devices on) with neither.
      local init_args app_args
      init_args="$(k get pod -n fairway-reservation "$name" -o jsonpath='{.spec.initContainers[0].args[*]}')"
      app_args="$(k get pod -n fairway-reservation "$name" -o jsonpath='{.spec.containers[0].args[*]}')"
      (
        export NVIDIA_VISIBLE_DEVICES="GPU-fake-hgx-$next" FAKE_NVML_MACHINE=hgx
        # shellcheck disable=SC2086 # the pod's args, one word each
        POD_NAME="$name" POD_NAMESPACE=fairway-reservation "$FAIRWAY" $init_args \
          --kubeconfig "$WORK/kc" --nvml-library "$FAKE_NVML" || exit 1
        # shellcheck disable=SC2086
        exec env -u KUBECONFIG HOME="$WORK/no-home" "$FAIRWAY" $app_args --nvml-library "$FAKE_NVML"
      ) >"$WORK/agent-$name.log" 2>&1 &
      echo $! >"$WORK/agent-$name.pid"
      next=$((next + 1))
    done <<<"$names"
    sleep 0.2
  done
}
device_plugin &
PLUGIN_PID=$!

# The admission webhook, served by the scheduler over TLS and registered with the embedded API
# server, which calls it for every pod CREATE (as kube-apiserver does).
start_scheduler_with_webhook --reservation-timeout=4s -v 2
port="$WEBHOOK_PORT"
k apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: fairway}
webhooks:
- name: gpu-sharing.fairway.dev
  clientConfig: {url: "https://127.0.0.1:$port/mutate", caBundle: "$(base64 -w0 "$WORK/tls.crt")"}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
YAML

sharer() {  # sharer NAME MIB
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: team
  annotations: {fairway.dev/gpu-memory: "$2"}
spec:
  schedulerName: fairway
  tolerations: [{key: dedicated, operator: Equal, value: infer, effect: NoSchedule}]
  containers: [{name: main, image: busybox, resources: {requests: {cpu: 100m}}}]
YAML
}
node_of() { k get pod -n team "$1" -o jsonpath='{.spec.nodeName}'; }
bound() { [ "$(node_of "$1")" = gpu-0 ]; }

for pair in a:2000 b:2000 c:8000 d:3000; do sharer "${pair%%:*}" "${pair##*:}" | k apply -f - >/dev/null; done
for p in a b c d; do wait_for 30 "pod $p bound" bound "$p"; done

reservations="$(k get pods -n fairway-reservation -o jsonpath='{.items[*].metadata.name}')"
[ "$reservations" = "gpu-0-gpu0" ] || fail "expected one reservation pod gpu-0-gpu0, got: $reservations"
uuid="$(k get pod -n fairway-reservation gpu-0-gpu0 -o jsonpath='{.metadata.annotations.fairway\.dev/gpu-uuid}')"
[[ $uuid == GPU-fake-hgx-* ]] || fail "reservation pod has no GPU UUID: '$uuid'"
[ "$(k get pod -n fairway-reservation gpu-0-gpu0 -o jsonpath='{.spec.tolerations[0].value}')" = infer ] \
  || fail "the sharer's toleration was not copied to the reservation pod"
[ "$(k get pod -n fairway-reservation gpu-0-gpu0 -o jsonpath='{.spec.containers[0].resources.limits.nvidia\.com/gpu}')" = 1 ] \
  || fail "reservation pod does not hold one whole GPU"
for p in a b c d; do
  [ "$(k get pod -n team "$p" -o jsonpath='{.metadata.labels.fairway\.dev/gpu-group}')" = gpu-0-gpu0 ] \
    || fail "pod $p is not labelled with its GPU group"
  [ "$(k get configmap -n team "$p-fairway-gpu" -o jsonpath='{.data.NVIDIA_VISIBLE_DEVICES}')" = "$uuid" ] \
    || fail "ConfigMap of $p does not point at $uuid"
done
[ "$(k get configmap -n team c-fairway-gpu -o jsonpath='{.data.GPU_MEMORY_MIB}')" = 8000 ] \
  || fail "ConfigMap of c lacks GPU_MEMORY_MIB=8000"
grep -q "reserved GPU $uuid for pod fairway-reservation/gpu-0-gpu0 (verified through NVML)" \
  "$WORK/agent-gpu-0-gpu0.log" || fail "agent did not verify its GPU through NVML"
wait_for 10 "the app container to hold the GPU" grep -q "holding GPU $uuid (verified through NVML)" \
  "$WORK/agent-gpu-0-gpu0.log"
# No token beyond its one use: none automounted, the projected one in the init container only.
reservation() { k get pod -n fairway-reservation gpu-0-gpu0 -o jsonpath="$1"; }
[ "$(reservation '{.spec.automountServiceAccountToken}')" = false ] || fail "a token is automounted"
[ "$(reservation '{.spec.initContainers[0].volumeMounts[0].mountPath}')" = /var/run/secrets/kubernetes.io/serviceaccount ] \
  || fail "the reporting init container has no token"
[ -z "$(reservation '{.spec.containers[*].volumeMounts}')" ] || fail "the holding container mounts a volume"
[ "$(reservation '{.spec.initContainers[0].resources.limits.nvidia\.com/gpu}')" = 1 ] \
  || fail "the init container does not ask for the GPU it reports"
echo "the reservation pod's token is in its init container only: ok"
# A shared-GPU bind is reported like any other: `kubectl describe` shows Scheduled.
for p in a b c d; do
  wait_for 10 "the Scheduled Event of pod $p" bash -c "'$KUBECTL' --kubeconfig '$WORK/kc' get events -n team \
    --field-selector involvedObject.name=$p,reason=Scheduled -o name | grep -q ."
done
echo "four pods share one GPU behind one reservation pod: ok"

# kubectl-created pods went through the webhook: envFrom points at the pod's ConfigMap.
[ "$(k get pod -n team a -o jsonpath='{.spec.containers[0].envFrom[0].configMapRef.name}')" = a-fairway-gpu ] \
  || fail "the webhook did not add envFrom to pod a"
[ "$(k get pod -n team a -o jsonpath='{.metadata.annotations.fairway\.dev/gpu-configmap}')" = a-fairway-gpu ] \
  || fail "the webhook did not record the ConfigMap name"
if out="$(sharer bad 0 | sed 's/gpu-memory: "0"/gpu-fraction: "1.5"/' | k apply -f - 2>&1)"; then
  fail "a pod with gpu-fraction 1.5 was admitted"
fi
grep -q 'must be a number greater than 0 and less than 1' <<<"$out" || fail "unclear denial: $out"
echo "the webhook mutates kubectl-created pods and rejects invalid shares: ok"

sharer e 4000 | k apply -f - >/dev/null
wait_for 30 "pod e bound" bound e
[ "$(k get pod -n team e -o jsonpath='{.metadata.labels.fairway\.dev/gpu-group}')" = gpu-0-gpu1 ] \
  || fail "pod e should open a second shared GPU"
uuid1="$(k get pod -n fairway-reservation gpu-0-gpu1 -o jsonpath='{.metadata.annotations.fairway\.dev/gpu-uuid}')"
[ -n "$uuid1" ] && [ "$uuid1" != "$uuid" ] || fail "second GPU has UUID '$uuid1' (first: $uuid)"
echo "a fifth pod opens a second GPU: ok"

# No GPU left: a sixth pod waits, and says why.
sharer f 15000 | k apply -f - >/dev/null
wait_for 30 "pod f explained" bash -c "'$KUBECTL' --kubeconfig '$WORK/kc' get pod -n team f -o jsonpath='{.status.conditions[0].message}' | grep -q 'Insufficient shared nvidia.com/gpu'"
k delete pod -n team f --grace-period=0 --force >/dev/null 2>&1

for p in a b c d; do k delete pod -n team "$p" --grace-period=0 --force >/dev/null 2>&1; done
gone() { ! k get pod -n fairway-reservation gpu-0-gpu0 >/dev/null 2>&1; }
wait_for 30 "reservation pod gpu-0-gpu0 deleted" gone
k get pod -n fairway-reservation gpu-0-gpu1 >/dev/null || fail "the reservation of pod e must stay"
wait_for 10 "agent of gpu-0-gpu0 to exit on SIGTERM" bash -c "! kill -0 $(cat "$WORK/agent-gpu-0-gpu0.pid") 2>/dev/null"
grep -q "terminated: releasing the GPU" "$WORK/agent-gpu-0-gpu0.log" || fail "agent did not exit cleanly"
echo "deleting the sharers deletes the reservation pod: ok"

# A refused PATCH is said in the Status's words (never the raw body), at once (no retries).
if out="$(NVIDIA_VISIBLE_DEVICES=GPU-fake-hgx-0 timeout 10 "$FAIRWAY" reservation-agent --once \
  --kubeconfig "$WORK/kc" --pod-name nope --pod-namespace fairway-reservation 2>&1)"; then
  fail "the agent reported on a pod that does not exist"
fi
[[ $out == *'PATCH /api/v1/namespaces/fairway-reservation/pods/nope: 404 NotFound: pods "nope" not found'* ]] \
  || fail "unclear agent error: $out"
[[ $out != *'"kind"'* ]] || fail "the agent printed a raw Status: $out"
echo "the agent's errors name the API server's reason: ok"

# A reservation pod that never reports its UUID (no agent): rolled back, nothing half-done.
k delete pod -n team e --grace-period=0 --force >/dev/null 2>&1
wait_for 30 "reservation pod gpu-0-gpu1 deleted" bash -c "! '$KUBECTL' --kubeconfig '$WORK/kc' get pod -n fairway-reservation gpu-0-gpu1"
echo gpu-0-gpu0 >"$WORK/no-agent"
sharer g 1000 | k apply -f - >/dev/null
wait_for 30 "the UUID timeout" grep -q "did not report its GPU UUID" "$WORK/sched.log"
[ -z "$(node_of g)" ] || fail "pod g was bound without a GPU UUID"
k get configmap -n team g-fairway-gpu >/dev/null 2>&1 && fail "a ConfigMap was left behind after the rollback"
echo "a reservation that never reports its UUID is rolled back: ok"

# Every call made above (reservation pods, ConfigMaps, evictions, ...) is one the chart grants.
source "$REPO/tests/integration/lib/chart_rbac.sh"
check_chart_rbac "$WORK/audit.jsonl" --client fairway-scheduler=fairway-system/fairway \
  --client fairway-reservation-agent=fairway-reservation/fairway-reservation
echo "the chart's RBAC grants every call made: ok"
