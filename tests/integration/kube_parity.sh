#!/usr/bin/env bash
# kube-scheduler parity over HTTP (issue 17's scenario): 12 nodes in 3 zones and pods with
# everyday constraints, created and read back with kubectl. Every constraint holds, and pods that
# cannot fit stay pending with kube-scheduler's message: topology spread over zones, required
# anti-affinity on hostname, required affinity to an anchor pod, host ports, taints, a
# WaitForFirstConsumer local volume, a pre-bound zonal volume, a missing claim and an unbound
# Immediate claim.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
start_apiserver

on_fail() {
  k get pods -o wide || true
  k get pods -o jsonpath='{range .items[*]}{.metadata.name}: {.status.conditions[?(@.type=="PodScheduled")].message}{"\n"}{end}' || true
}

for zone in a b c; do
  for i in 0 1 2 3; do
    pool=$([ "$i" -lt 2 ] && echo anti || echo other)
    [ "$zone" = c ] && pool=other
    cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: node-$zone$i
  labels: {kubernetes.io/hostname: node-$zone$i, topology.kubernetes.io/zone: zone-$zone, pool: $pool}
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
YAML
  done
done | k create -f - >/dev/null
k taint nodes node-c3 dedicated=infer:NoSchedule >/dev/null

pod() {  # name labels(yaml map) extra-spec(yaml lines, indented 2)
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default, labels: $2}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {requests: {cpu: 100m}}}]
$3
---
YAML
}

{
  for i in 1 2 3 4 5 6; do
    pod "spread-$i" "{app: spread}" "  topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: spread}}}"
  done
  for i in 1 2 3 4 5; do
    pod "anti-$i" "{app: anti}" "  nodeSelector: {pool: anti}
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: anti}}}"
  done
  pod anchor "{app: anchor}" "  nodeSelector: {kubernetes.io/hostname: node-b2}"
  for i in 1 2 3; do
    pod "follower-$i" "{app: follower}" "  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: anchor}}}"
  done
  for i in 1 2 3 4 5; do
    cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: port-$i, namespace: default}
spec:
  schedulerName: fairway
  nodeSelector: {kubernetes.io/hostname: node-a3}
  containers: [{name: main, image: nginx, ports: [{containerPort: 80, hostPort: 8080}], resources: {requests: {cpu: 100m}}}]
---
YAML
  done
  pod tolerant "{app: t}" "  nodeSelector: {kubernetes.io/hostname: node-c3}
  tolerations: [{key: dedicated, operator: Equal, value: infer, effect: NoSchedule}]"
  pod intolerant "{app: t}" "  nodeSelector: {kubernetes.io/hostname: node-c3}"
} | k create -f - >/dev/null

# Storage: a local WaitForFirstConsumer volume on node-b1, a volume pre-bound in zone-a, a claim
# that does not exist and an Immediate claim with no volume.
cat <<'YAML' | k create -f - >/dev/null
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: immediate}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {path: /mnt/disk}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-b1]}]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: local-claim, namespace: default}
spec: {storageClassName: local, accessModes: [ReadWriteOnce], resources: {requests: {storage: 5Gi}}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: zonal-pv, labels: {topology.kubernetes.io/zone: zone-a}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  claimRef: {namespace: default, name: zonal-claim}
  csi: {driver: disk.csi.example.com, volumeHandle: vol-1}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: zonal-claim, namespace: default}
spec: {storageClassName: "", volumeName: zonal-pv, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: waiting-claim, namespace: default}
spec: {storageClassName: immediate, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
YAML
{
  for claim in local-claim zonal-claim nope waiting-claim; do
    pod "uses-$claim" "{app: storage}" "  volumes: [{name: data, persistentVolumeClaim: {claimName: $claim}}]"
  done
} | k create -f - >/dev/null

"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
  >>"$WORK/sched.log" 2>&1 &
SCHED_PID=$!

node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}'; echo; }
message_of() { k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}'; }
# Waits until every named pod is bound, or has a PodScheduled message.
settle() {
  for _ in $(seq 300); do
    local open=0
    for p in "$@"; do
      [ -n "$(node_of "$p")" ] || [ -n "$(message_of "$p")" ] || open=1
    done
    [ "$open" = 0 ] && return 0
    sleep 0.1
  done
  fail "pods did not settle: $*"
}
expect_pending() {  # pod substring
  local msg
  [ -z "$(node_of "$1")" ] || fail "$1 is bound to $(node_of "$1"), want pending"
  msg=$(message_of "$1")
  case "$msg" in *"$2"*) ;; *) fail "$1 says '$msg', want '$2'" ;; esac
}

settle spread-{1..6} anti-{1..5} anchor follower-{1..3} port-{1..5} tolerant intolerant \
  uses-local-claim uses-zonal-claim uses-nope uses-waiting-claim

# 1. Topology spread: two pods per zone.
counts=$(for i in 1 2 3 4 5 6; do node_of "spread-$i" | cut -c6; done | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')
[ "$counts" = "2 2 2 " ] || fail "spread over zones is '$counts', want 2 2 2"
echo "ok: topology spread put 2 pods in each zone"

# 2. Anti-affinity: four pods on four distinct nodes, the fifth pending.
bound=$(for i in 1 2 3 4 5; do node_of "anti-$i"; done | grep -c . || true)
distinct=$(for i in 1 2 3 4 5; do node_of "anti-$i"; done | grep . | sort -u | wc -l)
[ "$bound" = 4 ] && [ "$distinct" = 4 ] || fail "anti-affinity: $bound bound on $distinct nodes"
for i in 1 2 3 4 5; do
  [ -n "$(node_of "anti-$i")" ] || expect_pending "anti-$i" "didn't match pod anti-affinity rules"
done
echo "ok: required anti-affinity: 4 pods on 4 nodes, the 5th says why"

# 3. Affinity: followers in the anchor's zone.
for i in 1 2 3; do
  case "$(node_of "follower-$i")" in node-b*) ;; *) fail "follower-$i on '$(node_of "follower-$i")', want zone-b" ;; esac
done
echo "ok: required affinity put the followers in the anchor's zone"

# 4. Host ports: one pod per node.
bound=$(for i in 1 2 3 4 5; do node_of "port-$i"; done | grep -c . || true)
[ "$bound" = 1 ] || fail "host ports: $bound pods with hostPort 8080 bound to node-a3"
for i in 1 2 3 4 5; do
  [ -n "$(node_of "port-$i")" ] || expect_pending "port-$i" "didn't have free ports for the requested pod ports"
done
echo "ok: host ports: 1 pod bound, 4 pending with kube-scheduler's message"

# 5. Taints.
[ "$(node_of tolerant)" = node-c3 ] || fail "tolerant pod not on node-c3"
expect_pending intolerant "had untolerated taint {dedicated: infer}"
echo "ok: taints hold"

# 6. Volumes.
[ "$(node_of uses-local-claim)" = node-b1 ] || fail "local volume pod on '$(node_of uses-local-claim)', want node-b1"
[ "$(k get pv local-pv -o jsonpath='{.spec.claimRef.name}')" = local-claim ] || fail "local-pv claimRef not set"
[ "$(k get pvc local-claim -o jsonpath='{.spec.volumeName}')" = local-pv ] || fail "local-claim volumeName not set"
echo "ok: WaitForFirstConsumer: the pod went to the volume's node and the volume was bound"
case "$(node_of uses-zonal-claim)" in node-a*) ;; *) fail "zonal volume pod on '$(node_of uses-zonal-claim)'" ;; esac
echo "ok: a pre-bound zonal volume keeps its pod in zone-a"
expect_pending uses-nope 'persistentvolumeclaim "nope" not found'
expect_pending uses-waiting-claim "pod has unbound immediate PersistentVolumeClaims"
echo "ok: a missing claim and an unbound Immediate claim keep their pods pending"
k get pods -o wide >/dev/null
