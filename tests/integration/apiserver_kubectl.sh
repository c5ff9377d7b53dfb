#!/usr/bin/env bash
# The embedded API server against a real kubectl (Debian's kubernetes-client): apply the fairway
# CRD examples, create a namespace and a pod, get/label/patch/delete, watch, api-resources and the
# Queue printer columns. $1: the fairway binary. kubectl: $KUBECTL, else <repo>/.tools/bin/kubectl.
set -euo pipefail

FAIRWAY=${1:?usage: apiserver_kubectl.sh FAIRWAY_BINARY}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
KUBECTL=${KUBECTL:-$REPO/.tools/bin/kubectl}
if [[ ! -x $KUBECTL ]]; then
  echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2
  exit 1
fi

TMP=$(mktemp -d)
SERVER_PID=""
WATCH_PID=""
cleanup() {
  [[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null || true
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$FAIRWAY" apiserver --port 0 --kubeconfig-out "$TMP/kc" --bookmark-interval 1s \
  >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  [[ -s $TMP/kc ]] && break
  sleep 0.1
done
[[ -s $TMP/kc ]] || { echo "apiserver did not start:"; cat "$TMP/server.out" "$TMP/server.err"; exit 1; }

k() { "$KUBECTL" --kubeconfig "$TMP/kc" --request-timeout=10s "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect PATTERN TEXT...
  local pattern=$1
  shift
  grep -Eq -- "$pattern" <<<"$*" || fail "expected /$pattern/ in: $*"
}

echo "--- discovery"
resources=$(k api-resources)
expect '^queues +q,fq +scheduling.fairway.dev/v1alpha1 +false +Queue' "$resources"
expect '^podgroups +pg +scheduling.fairway.dev/v1alpha1 +true +PodGroup' "$resources"
expect '^topologies +topo +scheduling.fairway.dev/v1alpha1 +false +Topology' "$resources"
expect '^pods +po +v1 +true +Pod' "$resources"

echo "--- fairway custom resources"
k apply -f "$REPO/examples/queues/"
queues=$(k get queues)
echo "$queues"
expect '^NAME +PARENT +VALID +REASON +GPU QUOTA +GPU ALLOCATED +GPU FAIR SHARE +GPU USAGE +PENDING +WARNING +AGE$' "$queues"
# No scheduler runs here: the status columns are empty, the spec's columns are not.
expect '^vision +research +[0-9]+s$' "$queues"
wide=$(k get queues -o wide)
expect '^NAME +PARENT +VALID +REASON +GPU QUOTA +GPU LIMIT +GPU ALLOCATED' "$wide"
expect '^research +112 +[0-9]+s$' "$wide"
# A second apply is a no-op (client-side apply: GET + merge patch).
expect 'queue.scheduling.fairway.dev/research unchanged' "$(k apply -f "$REPO/examples/queues/queue-tree.yaml")"
expect '^resnet-train +vision +4 ' "$(k get pg -n default)"
expect 'nvidia.com/gpu.clique' "$(k get topology default -o yaml)"

echo "--- namespace and pod"
k create namespace team-a
k get ns team-a
cat >"$TMP/pod.yaml" <<'POD'
apiVersion: v1
kind: Pod
metadata:
  name: train-0
  namespace: team-a
  labels: {app: train, fairway.dev/queue: vision}
spec:
  schedulerName: fairway
  containers:
  - name: main
    image: busybox
    resources:
      limits: {nvidia.com/gpu: 1}
POD
k get pods -n team-a -w --output-watch-events >"$TMP/watch.out" 2>&1 &
WATCH_PID=$!
sleep 1
k apply -f "$TMP/pod.yaml"
json=$(k get pod train-0 -n team-a -o json)
expect '"schedulerName": "fairway"' "$json"
expect '"phase": "Pending"' "$json"
expect '"nvidia.com/gpu": "1"' "$json"
k label pod train-0 -n team-a tier=gold
expect 'tier=gold' "$(k get pod train-0 -n team-a --show-labels)"
k patch pod train-0 -n team-a --type merge -p '{"metadata":{"annotations":{"fairway.dev/note":"patched"}}}'
expect '"fairway.dev/note": "patched"' "$(k get pod train-0 -n team-a -o json)"
expect 'pod/train-0 configured|pod/train-0 unchanged' "$(k apply -f "$TMP/pod.yaml")"
expect '^Name: +train-0' "$(k describe pod train-0 -n team-a)"
expect 'train-0' "$(k get pods -A -l app=train)"
expect 'train-0' "$(k get pods -A --field-selector spec.schedulerName=fairway)"
k delete pod train-0 -n team-a
expect 'No resources found' "$(k get pods -n team-a 2>&1)"

echo "--- watch saw the pod come and go"
sleep 1
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=""
cat "$TMP/watch.out"
expect 'ADDED +train-0' "$(cat "$TMP/watch.out")"
expect 'DELETED +train-0' "$(cat "$TMP/watch.out")"

echo "--- storage: pv, pvc, sc, csinode"
expect '^persistentvolumes +pv +v1 +false +PersistentVolume' "$resources"
expect '^persistentvolumeclaims +pvc +v1 +true +PersistentVolumeClaim' "$resources"
expect '^storageclasses +sc +storage.k8s.io/v1 +false +StorageClass' "$resources"
expect '^csinodes +storage.k8s.io/v1 +false +CSINode' "$resources"
cat >"$TMP/storage.yaml" <<'STORAGE'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-0
  labels: {topology.kubernetes.io/zone: z1}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {path: /mnt/disk0}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-0]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: team-a
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  resources:
    requests: {storage: 10Gi}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata:
  name: node-0
spec:
  drivers:
  - {name: ebs.csi.aws.com, nodeID: i-0, allocatable: {count: 25}}
STORAGE
k apply -f "$TMP/storage.yaml"
storage=$(k get pv,pvc,sc -A)
echo "$storage"
expect 'persistentvolume/local-0 +100Gi +RWO +Retain +Available +local ' "$storage"
expect 'team-a +persistentvolumeclaim/data +' "$storage"
expect 'storageclass.storage.k8s.io/local \(default\) +kubernetes.io/no-provisioner +Delete +WaitForFirstConsumer +false ' "$storage"
expect '^node-0 +1 ' "$(k get csinodes --no-headers)"
expect 'local-0' "$(k get pv -l topology.kubernetes.io/zone=z1 -o name)"
expect 'persistentvolumeclaim/data unchanged' "$(k apply -f "$TMP/storage.yaml")"
k patch pvc data -n team-a --type merge -p '{"spec":{"volumeName":"local-0"}}'
expect '"volumeName": "local-0"' "$(k get pvc data -n team-a -o json)"
k delete -f "$TMP/storage.yaml"
expect 'No resources found' "$(k get pv 2>&1)"

echo "--- everyday commands (kubectl 1.32's typed create commands send protobuf bodies)"
k create namespace team-b
k create configmap settings -n team-b --from-literal=mode=fast --from-literal=level=3
expect '"mode": "fast"' "$(k get configmap settings -n team-b -o json)"
k create secret generic creds -n team-b --from-literal=user=admin --from-literal=password='p@ss w0rd'
secret=$(k get secret creds -n team-b -o yaml)
expect '^  user: YWRtaW4=$' "$secret"
expect '^  password: cEBzcyB3MHJk$' "$secret"
expect '^type: Opaque$' "$secret"
expect '^user: +5 bytes' "$(k describe secret creds -n team-b)"
# stringData is merged into base64 data by the server, as kube-apiserver's conversion does.
k apply -f - <<'SECRET'
apiVersion: v1
kind: Secret
metadata: {name: plain, namespace: team-b}
stringData: {token: abc}
SECRET
expect '"token": "YWJj"' "$(k get secret plain -n team-b -o json)"
expect 'illegal base64 data' "$(k create -f - 2>&1 <<'SECRET' || true
{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bad","namespace":"team-b"},"data":{"k":"not base64!"}}
SECRET
)"
k create serviceaccount runner -n team-b
expect '^Name: +runner' "$(k describe serviceaccount runner -n team-b)"
k create priorityclass gold --value=1000 --description="gold tier"
expect '^gold +1000 +false' "$(k get priorityclass gold --no-headers)"
expect 'system-node-critical +2000001000' "$(k get priorityclasses --no-headers)"
k run web -n team-b --image=nginx:1.25 --labels=app=web --port=80 --env=MODE=fast \
  --overrides='{"spec":{"priorityClassName":"gold"}}'
pod=$(k get pod web -n team-b -o yaml)
expect '^  priority: 1000$' "$pod"
expect '^  preemptionPolicy: PreemptLowerPriority$' "$pod"
expect 'image: nginx:1.25' "$pod"
k label pod web -n team-b tier=frontend
k annotate pod web -n team-b owner=team-b
pod=$(k get pod web -n team-b -o yaml)
expect '^    tier: frontend$' "$pod"
expect '^    owner: team-b$' "$pod"
described=$(k describe pod web -n team-b)
expect '^Priority: +1000' "$described"
expect '^Priority Class Name: +gold' "$described"
expect 'MODE: +fast' "$described"
k delete pod web -n team-b
k delete configmap settings -n team-b
k delete secret creds plain -n team-b
k delete serviceaccount runner -n team-b
k delete priorityclass gold
expect 'No resources found' "$(k get pods,configmaps,secrets,serviceaccounts -n team-b 2>&1)"

echo "--- kubectl drain (an Eviction, protobuf from kubectl 1.32)"
k create -f - <<'NODE'
{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-d"},
 "status":{"allocatable":{"cpu":"8","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}}
NODE
k run drained -n team-b --image=busybox
k create -f - <<'BINDING'
{"apiVersion":"v1","kind":"Binding","metadata":{"name":"drained","namespace":"team-b"},
 "target":{"kind":"Node","name":"node-d"}}
BINDING
expect 'pod/drained evicted' "$(k drain node-d --force --grace-period=0 --timeout=30s 2>&1)"
expect 'NotFound' "$(k get pod drained -n team-b 2>&1 || true)"
k delete node node-d

echo "--- admission as a default cluster: NamespaceLifecycle and Priority"
expect 'namespaces "nowhere" not found' "$(k create configmap c -n nowhere 2>&1 || true)"
expect 'pods "p" is forbidden: no PriorityClass with name missing was found' \
  "$(k run p -n team-b --image=busybox --overrides='{"spec":{"priorityClassName":"missing"}}' 2>&1 || true)"
expect 'namespaces "default" is forbidden: this namespace may not be deleted' \
  "$(k delete namespace default 2>&1 || true)"
k create configmap doomed -n team-b --from-literal=a=b
k delete namespace team-b
expect 'namespaces "team-b" not found' "$(k get namespace team-b 2>&1 || true)"
expect 'NotFound' "$(k get configmap doomed -n team-b 2>&1 || true)"

echo "--- fieldValidation: unknown fields of a custom resource"
queue_with() {  # a Queue with an unknown field
  printf '%s\n' "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" \
    "metadata: {name: $1}" "spec: {colour: blue, resources: {nvidia.com/gpu: {quota: 1}}}"
}
minor=$("$KUBECTL" version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))')
if (( minor >= 27 )); then
  # kubectl sends fieldValidation=Strict by default: refused, as kube-apiserver does.
  out=$(queue_with strict | k create -f - 2>&1 || true)
  expect 'BadRequest.*Queue in version "v1alpha1" cannot be handled as a Queue: strict decoding error: unknown field "spec.colour"' "$out"
  expect 'NotFound' "$(k get queue strict 2>&1 || true)"
  out=$(queue_with warned | k create --validate=warn -f - 2>&1)
else
  out=$(queue_with warned | k create -f - 2>&1)  # no fieldValidation sent: the server warns
fi
expect 'Warning: unknown field "spec.colour"' "$out"
expect 'queue.scheduling.fairway.dev/warned created' "$out"
[[ $(k get queue warned -o jsonpath='{.spec}') != *colour* ]] || fail "the unknown field was stored"

if (( minor >= 27 )); then  # kubectl 1.20 finds no dry-run support in the (empty) OpenAPI
  echo "--- dryRun: checked like a create, nothing stored; refused where it would write"
  out=$(printf '%s\n' "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" \
    "metadata: {name: dry}" "spec: {resources: {nvidia.com/gpu: {quota: 1}}}" |
    k create --dry-run=server -f - 2>&1)
  expect 'queue.scheduling.fairway.dev/dry created \(server dry run\)' "$out"
  expect 'NotFound' "$(k get queue dry 2>&1 || true)"
  out=$(k create --dry-run=server -n team-a -f - 2>&1 <<'JSON' || true
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dry"},
 "spec":{"containers":[{"name":"dry","image":"busybox","resources":{"requests":{"cpu":"one"}}}]}}
JSON
)
  expect 'Pod in version "v1" cannot be handled as a Pod: quantities must match' "$out"
  out=$(k delete queue warned --dry-run=server 2>&1 || true)
  expect 'dryRun is supported on create only' "$out"
fi
k get queue warned >/dev/null || fail "a refused dry-run delete deleted the queue"
k delete queue warned >/dev/null

echo "--- errors are kube Status objects"
expect 'NotFound' "$(k get pod nope -n team-a 2>&1 || true)"
expect 'AlreadyExists' "$(k create namespace team-a 2>&1 || true)"

echo "PASS"
