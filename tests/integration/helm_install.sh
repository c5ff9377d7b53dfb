#!/usr/bin/env bash
# `helm install` of the chart (charts/fairway, default values) into the embedded API server, as
# a user installs it into a cluster: answering as the current release and as Kubernetes 1.24 (the
# chart's oldest kubeVersion), every object the chart renders exists afterwards (checked with
# kubectl), `helm upgrade` patches them, and `helm uninstall` removes all but what the chart
# keeps on purpose (helm.sh/resource-policy: keep) and the CRDs. On 1.19 helm refuses the chart
# by its kubeVersion, from the server's /version.
# $1: the fairway binary; helm: $HELM, else <repo>/.tools/bin/helm; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: helm_install.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
HELM="${HELM:-$REPO/.tools/bin/helm}"
for tool in "$HELM" "$KUBECTL"; do
  [[ -x $tool ]] || { echo "missing $tool (run 'make tools')" >&2; exit 1; }
done
CHART="$REPO/charts/fairway"
NS=fairway-system
h() { "$HELM" --kubeconfig "$WORK/kc" "$@"; }
stop_apiserver() {
  kill "$API_PID" && wait "$API_PID" 2>/dev/null || true
  API_PID=""
  rm -f "$WORK/kc"
}
# exists KIND NAME [-n NS]: kubectl finds it.
exists() { k get "$@" -o name >/dev/null 2>&1; }

# What the chart installs with default values (templates/), by kind and name.
NAMESPACED=(deployment/fairway-scheduler serviceaccount/fairway secret/fairway-webhook-tls
  service/fairway-webhook service/fairway-metrics role/fairway-leader-election
  rolebinding/fairway-leader-election poddisruptionbudget/fairway-scheduler)
CLUSTER=(clusterrole/fairway-scheduler clusterrolebinding/fairway-scheduler
  clusterrole/fairway-auth-delegator clusterrolebinding/fairway-auth-delegator
  clusterrole/fairway-metrics-reader
  mutatingwebhookconfiguration/fairway priorityclass/fairway-reservation)
KEPT=(namespace/fairway-reservation queue/default)  # helm.sh/resource-policy: keep
CRDS=(crd/queues.scheduling.fairway.dev crd/podgroups.scheduling.fairway.dev
  crd/topologies.scheduling.fairway.dev)

install_and_uninstall() {  # install_and_uninstall KUBERNETES_VERSION
  local version=$1
  echo "--- Kubernetes $version: helm install"
  start_apiserver --kubernetes-version "$version"
  k version -o json 2>/dev/null | grep -q "\"gitVersion\": \"v$version.0-fairway\"" || fail "/version is not $version"
  # The chart's CRDs come from crds/: drop the ones the server compiles in so helm installs them.
  k delete crd --all >/dev/null
  h install fairway "$CHART" -n "$NS" --create-namespace --wait=false >"$WORK/install.out" 2>&1 ||
    fail "helm install on $version: $(cat "$WORK/install.out")"
  grep -q '^STATUS: deployed' "$WORK/install.out" || fail "not deployed: $(cat "$WORK/install.out")"
  for o in "${NAMESPACED[@]}"; do exists "$o" -n "$NS" || fail "$o missing in $NS after install"; done
  for o in "${CLUSTER[@]}" "${KEPT[@]}" "${CRDS[@]}"; do exists "$o" || fail "$o missing after install"; done
  # Helm's own ownership records: the release Secret and the annotations it reads on upgrade.
  exists secret/sh.helm.release.v1.fairway.v1 -n "$NS" || fail "no release Secret"
  [[ $(k get deployment fairway-scheduler -n "$NS" \
    -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}') == fairway ]] ||
    fail "the Deployment lacks helm's release annotation"
  [[ $(k get secret fairway-webhook-tls -n "$NS" -o jsonpath='{.type}') == kubernetes.io/tls ]] ||
    fail "the webhook Secret is not kubernetes.io/tls"
  h list -n "$NS" | grep -Eq '^fairway\s.*deployed' || fail "helm list does not show the release"

  echo "--- Kubernetes $version: helm upgrade"
  h upgrade fairway "$CHART" -n "$NS" --set scheduler.replicas=1 >"$WORK/upgrade.out" 2>&1 ||
    fail "helm upgrade on $version: $(cat "$WORK/upgrade.out")"
  [[ $(k get deployment fairway-scheduler -n "$NS" -o jsonpath='{.spec.replicas}') == 1 ]] ||
    fail "helm upgrade did not patch the Deployment's replicas"
  exists poddisruptionbudget/fairway-scheduler -n "$NS" &&
    fail "helm upgrade to one replica left the PodDisruptionBudget"

  echo "--- Kubernetes $version: helm uninstall"
  h uninstall fairway -n "$NS" >"$WORK/uninstall.out" 2>&1 ||
    fail "helm uninstall on $version: $(cat "$WORK/uninstall.out")"
  for o in "${NAMESPACED[@]}"; do
    exists "$o" -n "$NS" && fail "$o still in $NS after uninstall"
  done
  for o in "${CLUSTER[@]}"; do exists "$o" && fail "$o still there after uninstall"; done
  for o in "${KEPT[@]}" "${CRDS[@]}"; do exists "$o" || fail "$o should be kept by uninstall"; done
  exists secret/sh.helm.release.v1.fairway.v1 -n "$NS" && fail "the release Secret is left"
  stop_apiserver
  echo "ok: Kubernetes $version"
}

install_and_uninstall 1.35
install_and_uninstall 1.24

echo "--- Kubernetes 1.19: the chart's kubeVersion refuses it"
start_apiserver --kubernetes-version 1.19
if h install fairway "$CHART" -n "$NS" --create-namespace >"$WORK/old.out" 2>&1; then
  fail "helm installed the chart on Kubernetes 1.19"
fi
grep -q 'incompatible with Kubernetes v1.19' "$WORK/old.out" || fail "unexpected: $(cat "$WORK/old.out")"
echo "ok: helm install, upgrade and uninstall of the chart against the embedded API server"
