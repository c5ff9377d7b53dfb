# Sourced by integration tests that drive a feature's API calls against an audited embedded API
# server (`fairway apiserver --audit-log`): checks that the Helm chart's rendered RBAC grants
# every call the listed fairway clients made, so a new call without its rule fails the test that
# exercises it. Needs $REPO, $WORK, $FAIRWAY and fail() from the caller.
#
#   check_chart_rbac AUDIT_LOG --client USER_AGENT=NAMESPACE/SERVICEACCOUNT ...
#
# The chart is rendered into the release namespace fairway-system (ServiceAccount "fairway").
check_chart_rbac() {
  local audit=$1
  shift
  local helm="${HELM:-$REPO/.tools/bin/helm}"
  local checker="${FAIRWAY_RBAC_CHECK:-$(dirname "$FAIRWAY")/tests/fairway_rbac_check}"
  [[ -x $helm ]] || fail "helm not found at $helm (make tools)"
  [[ -x $checker ]] || fail "fairway_rbac_check not found at $checker"
  "$helm" template fairway "$REPO/charts/fairway" --namespace fairway-system \
    >"$WORK/chart.yaml" || fail "helm template failed"
  if ! "$checker" --manifests "$WORK/chart.yaml" --audit "$audit" "$@" >"$WORK/rbac-check.out"; then
    cat "$WORK/rbac-check.out" >&2
    fail "the chart's RBAC does not grant every call the code made"
  fi
}
