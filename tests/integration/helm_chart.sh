#!/usr/bin/env bash
# The Helm chart (charts/fairway): `helm lint` and `helm template` in the configurations users
# pick (defaults; cert-manager, ServiceMonitor, PrometheusRule, dashboards and topology agent;
# webhook off; one replica), checks on what is rendered (hardened pods, probes, webhook scope,
# TLS), and RBAC coverage: the scheduler and the topology agent run against the embedded API
# server with an audit log (plus a live `fairway sim` run of the demo scenario), and
# fairway_rbac_check fails on any call the rendered ClusterRoles/Roles do not grant.
# $1: the fairway binary; helm: $HELM, else <repo>/.tools/bin/helm; kubectl: $KUBECTL;
# the checker: $FAIRWAY_RBAC_CHECK (set by tests/CMakeLists.txt).
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: helm_chart.sh FAIRWAY_BINARY}")"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HELM="${HELM:-$REPO/.tools/bin/helm}"
KUBECTL="${KUBECTL:-$REPO/.tools/bin/kubectl}"
RBAC_CHECK="${FAIRWAY_RBAC_CHECK:-$(dirname "$FAIRWAY")/tests/fairway_rbac_check}"
for tool in "$HELM" "$KUBECTL" "$RBAC_CHECK"; do
  [[ -x $tool ]] || { echo "missing $tool (run 'make tools' and 'make build')" >&2; exit 1; }
done

WORK="$(mktemp -d)"
API_PID=""
SCHED_PID=""
cleanup() {
  [[ -n $SCHED_PID ]] && kill "$SCHED_PID" 2>/dev/null || true
  [[ -n $API_PID ]] && kill "$API_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect PATTERN FILE
  grep -Eq -- "$1" "$2" || fail "expected /$1/ in $2: $(head -50 "$2")"
}
reject() {  # reject PATTERN FILE
  if grep -Eq -- "$1" "$2"; then fail "did not expect /$1/ in $2"; fi
}
CHART="$REPO/charts/fairway"
NS=fairway-system
render() {  # render OUT [helm template flags...]
  local out=$1
  shift
  "$HELM" template fairway "$CHART" --namespace "$NS" "$@" >"$out" || fail "helm template $*"
}

echo "--- helm lint"
"$HELM" lint "$CHART" --strict
"$HELM" lint "$CHART" --strict --set topologyAgent.enabled=true,webhook.enabled=false

echo "--- defaults"
render "$WORK/default.yaml"
for kind in Deployment ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding Service \
  MutatingWebhookConfiguration Secret Namespace PriorityClass Queue PodDisruptionBudget; do
  expect "^kind: $kind\$" "$WORK/default.yaml"
done
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/deployment.yaml >"$WORK/deploy.yaml"
expect '^  replicas: 2$' "$WORK/deploy.yaml"
expect '- --leader-elect=true' "$WORK/deploy.yaml"
expect "- --leader-elect-resource-namespace=$NS" "$WORK/deploy.yaml"
expect '- --metrics-bind-address=0' "$WORK/deploy.yaml"
expect '- --secure-port=10259' "$WORK/deploy.yaml"
reject '- --tls-cert-file' "$WORK/deploy.yaml"  # self-signed in memory unless a Secret is named
expect '- --webhook-bind-address=:9443' "$WORK/deploy.yaml"
expect '- --webhook-tls-cert-file=/etc/fairway/webhook-tls/tls.crt' "$WORK/deploy.yaml"
expect '- --webhook-trusted-users=system:serviceaccount:'"$NS"':fairway' "$WORK/deploy.yaml"
expect '- --reservation-namespace=fairway-reservation' "$WORK/deploy.yaml"
expect '- --reservation-priority-class=fairway-reservation' "$WORK/deploy.yaml"
expect '- --gpu-sharing-strategy=binpack' "$WORK/deploy.yaml"
expect '- --preemption-period=5s' "$WORK/deploy.yaml"
expect 'path: /healthz, port: health' "$WORK/deploy.yaml"
expect 'path: /readyz, port: health' "$WORK/deploy.yaml"
expect '- --health-probe-bind-address=:8081' "$WORK/deploy.yaml"
expect 'runAsNonRoot: true' "$WORK/deploy.yaml"
expect 'readOnlyRootFilesystem: true' "$WORK/deploy.yaml"
expect 'allowPrivilegeEscalation: false' "$WORK/deploy.yaml"
expect 'type: RuntimeDefault' "$WORK/deploy.yaml"
expect 'memory: 4Gi' "$WORK/deploy.yaml"
echo "ok: Deployment: 2 replicas, leader election, probes, hardened security context"

# Every flag the chart passes must be one `fairway scheduler` knows, or the pods crash-loop.
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/deployment.yaml \
  --set scheduler.schedulePeriod=50ms,reservation.runtimeClassName=nvidia \
  --set preemption.nonPreemptiblePriority=1000000 --set 'scheduler.extraArgs={--bind-workers=16}' \
  --set scheduler.utilization.prometheus=http://prometheus:9090 \
  --set scheduler.utilization.tokenSecret.name=prometheus-token \
  --set 'scheduler.utilization.seriesSelector=job=dcgm' >"$WORK/deploy-all.yaml"
expect '- --idle-gpu-after=30m' "$WORK/deploy-all.yaml"
expect '- "--utilization-series-selector=job=dcgm"' "$WORK/deploy-all.yaml"
known=$("$FAIRWAY" scheduler --help 2>&1 | grep -oE '^  --[a-z0-9-]+' | sed 's/^ *//')
checked=0
for flag in $(grep -oE '^ +- "?--[a-z0-9-]+' "$WORK/deploy-all.yaml" | awk '{print $2}' | tr -d '"'); do
  checked=$((checked + 1))
  grep -qx -- "$flag" <<<"$known" && continue
  fail "the Deployment passes $flag, which 'fairway scheduler --help' does not list"
done
[[ $checked -ge 20 ]] || fail "only $checked flags found in the Deployment"
echo "ok: $checked Deployment flags checked against 'fairway scheduler --help'"

"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/webhook.yaml >"$WORK/webhook.yaml"
expect 'failurePolicy: Fail' "$WORK/webhook.yaml"
expect 'path: /mutate' "$WORK/webhook.yaml"
# One entry per queue label key fairway reads, made disjoint so no pod is sent twice.
[[ $(grep -c '^  - name: pods-[0-9].fairway.dev$' "$WORK/webhook.yaml") == 3 ]] || fail "want 3 webhook entries"
expect 'key: fairway.dev/queue' "$WORK/webhook.yaml"
expect 'key: kai.scheduler/queue' "$WORK/webhook.yaml"
expect 'key: scheduling.volcano.sh/queue-name' "$WORK/webhook.yaml"
[[ $(grep -c 'operator: DoesNotExist' "$WORK/webhook.yaml") == 3 ]] || fail "webhook entries are not disjoint"
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/webhook.yaml \
  --set webhook.objectSelector.matchLabels.gpu-sharing=enabled >"$WORK/webhook-custom.yaml"
[[ $(grep -c '^  - name: pods-[0-9].fairway.dev$' "$WORK/webhook-custom.yaml") == 1 ]] ||
  fail "a custom objectSelector should give one webhook entry"
expect 'gpu-sharing: enabled' "$WORK/webhook-custom.yaml"
expect 'name: podgroups.fairway.dev' "$WORK/webhook.yaml"
# Agents held to their own node or pod (1.30+: ValidatingAdmissionPolicy), and a NetworkPolicy.
"$HELM" template fairway "$CHART" -n "$NS" --kube-version 1.31.0 \
  --show-only templates/agent-policies.yaml >"$WORK/agent-policies.yaml"
expect 'kind: ValidatingAdmissionPolicyBinding' "$WORK/agent-policies.yaml"
expect "system:serviceaccount:$NS:fairway-topology-agent" "$WORK/agent-policies.yaml"
expect 'authentication.kubernetes.io/node-name' "$WORK/agent-policies.yaml"
"$HELM" template fairway "$CHART" -n "$NS" --kube-version 1.29.0 >"$WORK/all-1.29.yaml"
reject 'kind: ValidatingAdmissionPolicy' "$WORK/all-1.29.yaml"
expect 'kind: NetworkPolicy' "$WORK/all-1.29.yaml"
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/networkpolicy.yaml \
  --set 'networkPolicy.webhookFrom[0].ipBlock.cidr=10.0.0.0/24' >"$WORK/netpol.yaml"
expect 'cidr: 10.0.0.0/24' "$WORK/netpol.yaml"
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/reservation.yaml >"$WORK/reservation.yaml"
expect 'pod-security.kubernetes.io/enforce: restricted' "$WORK/reservation.yaml"
expect 'operations: \[CREATE, UPDATE\]' "$WORK/webhook.yaml"
# From 1.28 pods are chosen by spec.schedulerName (matchConditions), labelled or not.
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/webhook.yaml \
  --kube-version 1.30.0 >"$WORK/webhook-1.30.yaml"
[[ $(grep -c '^  - name: pods-[0-9].fairway.dev$' "$WORK/webhook-1.30.yaml") == 1 ]] ||
  fail "from 1.28 one webhook entry selects fairway's pods"
expect "object.spec.schedulerName == 'fairway'" "$WORK/webhook-1.30.yaml"
reject 'objectSelector' "$WORK/webhook-1.30.yaml"
# The Helm-made CA in the caBundle must have signed the serving certificate in the Secret.
ca=$(awk '/^  ca.crt:/ {print $2}' "$WORK/webhook.yaml")
crt=$(awk '/^  tls.crt:/ {print $2}' "$WORK/webhook.yaml")
[[ $(awk '/caBundle:/ {print $2}' "$WORK/webhook.yaml" | sort -u) == "$ca" && -n $ca ]] ||
  fail "a caBundle is not the Secret's ca.crt"
base64 -d <<<"$ca" >"$WORK/ca.pem"
base64 -d <<<"$crt" >"$WORK/tls.pem"
openssl verify -CAfile "$WORK/ca.pem" "$WORK/tls.pem" >/dev/null || fail "tls.crt is not signed by the caBundle"
openssl x509 -in "$WORK/tls.pem" -noout -text | grep -q "DNS:fairway-webhook.$NS.svc" ||
  fail "the serving certificate does not name the webhook Service"
echo "ok: webhook scoped to fairway pods, Helm-generated TLS verifies against the caBundle"

echo "--- every option on (cert-manager, ServiceMonitor, PrometheusRule, dashboards, topology agent)"
# The alert rules and dashboards belong to the metrics work; a copy of the chart with stand-in
# files checks the wrapping whether or not the real ones exist yet.
cp -r "$CHART" "$WORK/chart"
mkdir -p "$WORK/chart/alerts" "$WORK/chart/dashboards"
[[ -f $WORK/chart/alerts/fairway-rules.yaml ]] || cat >"$WORK/chart/alerts/fairway-rules.yaml" <<'YAML'
groups:
  - name: fairway-standin
    rules:
      - alert: FairwayStandIn
        expr: up == 0
YAML
[[ -n "$(ls "$WORK/chart/dashboards"/*.json 2>/dev/null)" ]] ||
  echo '{"title": "fairway stand-in", "panels": []}' >"$WORK/chart/dashboards/standin.json"
"$HELM" lint "$WORK/chart" --strict
"$HELM" template fairway "$WORK/chart" -n "$NS" --api-versions cert-manager.io/v1 \
  --api-versions monitoring.coreos.com/v1 \
  --set topologyAgent.enabled=true,metrics.serviceMonitor.enabled=true \
  --set metrics.prometheusRule.enabled=true,metrics.dashboards.enabled=true >"$WORK/all.yaml" ||
  fail "helm template with every option"
for kind in Certificate Issuer ServiceMonitor PrometheusRule DaemonSet ConfigMap; do
  expect "^kind: $kind\$" "$WORK/all.yaml"
done
expect 'cert-manager.io/inject-ca-from: fairway-system/fairway-webhook' "$WORK/all.yaml"
reject 'caBundle:' "$WORK/all.yaml"
reject '^kind: Secret$' "$WORK/all.yaml"
expect '^ +- alert: ' "$WORK/all.yaml"
expect 'grafana_dashboard: "1"' "$WORK/all.yaml"
expect 'args: \[topology-agent, --interval, "300"\]' "$WORK/all.yaml"
echo "ok: cert-manager Certificate + CA injection, ServiceMonitor, PrometheusRule, dashboards, DaemonSet"

echo "--- bad values are refused by values.schema.json"
for bad in scheduler.scoring=best reservation.gpuSharingStrategy=random webhook.failurePolicy=Maybe \
  scheduler.replicas=0 reservation.timeout=soon; do
  if "$HELM" template fairway "$CHART" -n "$NS" --set "$bad" >/dev/null 2>"$WORK/bad.err"; then
    fail "helm template accepted --set $bad"
  fi
  expect "${bad%%=*}" "$WORK/bad.err"
done
echo "ok: 5 bad values refused with the key named"

echo "--- webhook off, one replica"
render "$WORK/small.yaml" --set webhook.enabled=false,scheduler.replicas=1
reject '^kind: MutatingWebhookConfiguration$' "$WORK/small.yaml"
reject '^kind: PodDisruptionBudget$' "$WORK/small.yaml"
expect '- --webhook-bind-address=0' "$WORK/small.yaml"
echo "ok"

echo "--- the default queue is valid for the embedded API server and kubectl"
"$FAIRWAY" apiserver --port 0 --kubeconfig-out "$WORK/kc" --audit-log "$WORK/audit.jsonl" \
  >"$WORK/api.log" 2>&1 &
API_PID=$!
k() { "$KUBECTL" --kubeconfig "$WORK/kc" --request-timeout=10s "$@"; }
for _ in $(seq 100); do [[ -s $WORK/kc ]] && k get namespaces >/dev/null 2>&1 && break; sleep 0.1; done
k get namespaces >/dev/null || fail "API server did not come up"
"$HELM" template fairway "$CHART" -n "$NS" --show-only templates/queues.yaml | k apply -f - >/dev/null
expect '^default ' <(k get queues --no-headers)

echo "--- RBAC covers every API call (audit of a real run)"
k create namespace "$NS" >/dev/null
for i in 0 1; do
  k create -f - >/dev/null <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-$i","labels":{"kubernetes.io/hostname":"gpu-$i"}},
 "status":{"allocatable":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "capacity":{"cpu":"64","memory":"512Gi","nvidia.com/gpu":"8","pods":"110"},
           "conditions":[{"type":"Ready","status":"True"}]}}
JSON
done
k apply -f "$REPO/examples/queues/" >/dev/null
# The scheduler as the chart runs it: leader election on a Lease in the release namespace, and
# the secure metrics port (its TokenReviews and SubjectAccessReviews are checked below).
secure_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=true \
  --leader-elect-resource-namespace="$NS" --schedule-period=20ms --metrics-bind-address=0 \
  --bind-address=127.0.0.1 --secure-port="$secure_port" >"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
# A pod that binds, a gang that binds (PodGroup status), a pod that cannot fit (condition +
# Event), so every path of the actuator runs.
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: single, namespace: default, labels: {fairway.dev/queue: vision}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "1"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge, namespace: default, labels: {fairway.dev/queue: vision}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "16"}}}]
---
apiVersion: scheduling.fairway.dev/v1alpha1
kind: PodGroup
metadata: {name: pair, namespace: default}
spec: {minMember: 2, queue: vision}
---
apiVersion: v1
kind: Pod
metadata: {name: pair-0, namespace: default, annotations: {fairway.dev/pod-group: pair}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "1"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: pair-1, namespace: default, annotations: {fairway.dev/pod-group: pair}}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "1"}}}]
YAML
for _ in $(seq 200); do
  node=$(k get pod single -o jsonpath='{.spec.nodeName}')
  why=$(k get pod huge -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')
  pg=$(k get podgroup pair -o jsonpath='{.status.phase}' 2>/dev/null || true)
  [[ -n $node && $why == Unschedulable && $pg == Running ]] && break
  sleep 0.1
done
[[ -n $node ]] || fail "the scheduler bound nothing (see $WORK/sched.log)"
[[ $why == Unschedulable ]] || fail "no PodScheduled=False on the pod that cannot fit"
[[ $pg == Running ]] || fail "PodGroup pair is '$pg', want Running"
token=$(awk '/token:/ {print $2}' "$WORK/kc")
code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  "https://127.0.0.1:$secure_port/metrics")
[[ $code == 200 ]] || fail "the secure port answered $code to the admin's scrape"
kill -TERM "$SCHED_PID" && wait "$SCHED_PID" || true
SCHED_PID=""
# The topology agent, as the DaemonSet runs it, on the fake NVML of the tests.
fake_nvml="$(dirname "$FAIRWAY")/tests/fake_nvml/libnvidia-ml.so.1"
[[ -f $fake_nvml ]] || fail "missing $fake_nvml (build the fake_nvml target)"
FAKE_NVML_MACHINE=hgx NODE_NAME=gpu-0 "$FAIRWAY" topology-agent --once --kubeconfig "$WORK/kc" \
  --nvml-library "$fake_nvml"
kill "$API_PID" && wait "$API_PID" 2>/dev/null || true
API_PID=""

# The demo scenario, live: the scheduler's calls under simulated load, including the reclaim's
# evictions, the shared GPU's reservation pod and ConfigMaps, and inferred PodGroups
# (docs/simulator.md). The rarer paths are driven by gpu_sharing.sh and preemption_e2e.sh. The
# sim's driver and its stand-in node agent (the kubelet's and device plugin's part,
# docs/embedded-apiserver.md) are not clients of the chart.
"$FAIRWAY" sim --audit-log "$WORK/audit.jsonl" --speed 200 >"$WORK/sim.log" 2>&1 ||
  fail "fairway sim failed: $(tail -20 "$WORK/sim.log")"

render "$WORK/rbac.yaml" --set topologyAgent.enabled=true
"$RBAC_CHECK" --manifests "$WORK/rbac.yaml" --audit "$WORK/audit.jsonl" \
  --client "fairway-scheduler=$NS/fairway" \
  --client "fairway-topology-agent=$NS/fairway-topology-agent" \
  --ignore fairway-sim-driver --ignore fairway-dev-node-agent --least-privilege true \
  --unreached "patch core pods=a sharer's gpu-group label: gpu_sharing.sh" \
  --unreached "get core configmaps=a sharer's ConfigMap already there: ReservationManagerTest" \
  --unreached "update core configmaps=a sharer's ConfigMap replaced: ReservationManagerTest" \
  --unreached "delete core configmaps=a placement rolled back: ReservationManagerTest" \
  --unreached "patch core persistentvolumes=volume binding: kube_parity.sh" \
  --unreached "patch core persistentvolumeclaims=volume binding: kube_parity.sh" \
  --unreached "patch core pods=the reservation agent's GPU annotation: gpu_sharing.sh" \
  --unreached "* kubeflow.org *=workloads grouped by owner (not served here): owner_gangs.sh" \
  --unreached "* trainer.kubeflow.org *=TrainJobs (not served here): gangs_test" \
  --unreached "* jobset.x-k8s.io *=workloads grouped by owner (not served here): owner_gangs.sh" \
  --unreached "* leaderworkerset.x-k8s.io *=LeaderWorkerSets (not served here): gangs_test" \
  --unreached "* ray.io *=Ray clusters (not served here): gangs_test" \
  --unreached "* scheduling.k8s.io podgroups=upstream gangs (not served here): owner_gangs.sh" \
  --unreached "* scheduling.run.ai podgroups=KAI PodGroups (not served here): gangs_test" \
  --unreached "* scheduling.volcano.sh podgroups=Volcano PodGroups (not served here): gangs_test" \
  --unreached "* scheduling.x-k8s.io podgroups=scheduler-plugins PodGroups (not served here): gangs_test" \
  --unreached "patch scheduling.fairway.dev podgroups=inferred PodGroups: owner_gangs.sh" \
  --unreached "list admissionregistration.k8s.io mutatingwebhookconfigurations=preflight with the webhook on: doctor.sh" \
  --unreached "get resource.k8s.io resourceclaims=a claim read before its status is written (no DRA pods here): dra_scheduling.sh" \
  --unreached "update resource.k8s.io resourceclaims=a claim's delete-protection finalizer (no DRA pods here): dra_scheduling.sh" \
  --unreached "update resource.k8s.io resourceclaims/status=a claim's allocation and reservedFor (no DRA pods here): dra_scheduling.sh" \
  --maybe "patch core events=an identical Event repeated within the correlation window patches its count (EventCorrelator tests); whether the demo repeats one depends on timing" \
  | tee "$WORK/rbac-check.out" ||
  fail "the chart's RBAC grants a call the code never makes, or misses one it makes"
expect 'pods/binding' "$WORK/rbac-check.out"
expect 'leases' "$WORK/rbac-check.out"
expect 'queues/status' "$WORK/rbac-check.out"
expect 'podgroups/status' "$WORK/rbac-check.out"
expect 'patch core nodes' "$WORK/rbac-check.out"

# The checker itself must fail when a rule is missing: drop pods/binding from the ClusterRole.
sed 's/resources: \[pods\/binding\]/resources: [pods\/nothing]/' "$WORK/rbac.yaml" >"$WORK/rbac-broken.yaml"
if "$RBAC_CHECK" --manifests "$WORK/rbac-broken.yaml" --audit "$WORK/audit.jsonl" \
  --client "fairway-scheduler=$NS/fairway" \
  --client "fairway-topology-agent=$NS/fairway-topology-agent" \
  --ignore fairway-sim-driver >"$WORK/broken.out"; then
  fail "fairway_rbac_check passed without the pods/binding rule"
fi
expect '^DENIED +fairway-scheduler .*create core pods/binding' "$WORK/broken.out"
# ... and when a rule grants more than the code uses: give the informers' rule `get` again.
sed '0,/verbs: \[list, watch\]/s//verbs: [get, list, watch]/' "$WORK/rbac.yaml" >"$WORK/rbac-wide.yaml"
if "$RBAC_CHECK" --manifests "$WORK/rbac-wide.yaml" --audit "$WORK/audit.jsonl" \
  --client "fairway-scheduler=$NS/fairway" \
  --client "fairway-topology-agent=$NS/fairway-topology-agent" \
  --ignore fairway-sim-driver --least-privilege true >"$WORK/wide.out"; then
  fail "fairway_rbac_check passed a rule that grants get, which nothing calls"
fi
expect '^UNUSED +ClusterRole/fairway-scheduler rule 0: get core pods' "$WORK/wide.out"
echo "ok: the rendered RBAC grants every call and nothing more; a missing or wider rule is caught"
echo "helm_chart: PASS"
