#!/usr/bin/env bash
# The secure port (--secure-port), as kube-scheduler's 10259 is served: HTTPS with a self-signed
# certificate made in memory, bearer tokens authenticated by TokenReview and each path authorised
# by SubjectAccessReview, both answered by the embedded API server from a static token file
# (--token-auth-file) and the RBAC objects applied with kubectl:
#   no token → 403 for system:anonymous; a token nobody issued → 401; bob (no binding) → 403;
#   alice (bound to fairway-metrics-reader) → 200 and Prometheus text that promtool accepts;
#   /healthz → 200 without a token; /debug/queues and `fairway explain` (--token) only for the
#   group granted /debug/*.
# The reviews themselves are checked with kubectl create (TokenReview, SubjectAccessReview).
# Usage: secure_metrics.sh PATH/TO/fairway
set -euo pipefail
FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"
PROMTOOL="${PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}"
[ -x "$PROMTOOL" ] || fail "promtool not found (Debian package prometheus)"

cat >"$WORK/tokens.csv" <<'CSV'
alice-token,alice,u-alice,"monitoring,staff"
bob-token,bob,u-bob
CSV
start_apiserver --token-auth-file "$WORK/tokens.csv"

echo "--- RBAC: alice may read /metrics, the group monitoring /debug/*"
k apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: fairway-metrics-reader}
rules: [{nonResourceURLs: [/metrics], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: alice-reads-metrics}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fairway-metrics-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: fairway-debug-reader}
rules: [{nonResourceURLs: ["/debug/*"], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring-reads-debug}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: fairway-debug-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: monitoring}]
YAML

echo "--- the reviews, through kubectl"
review() {  # review USER VERB PATH → allowed (true/false) of a SubjectAccessReview
  k create -o jsonpath='{.status.allowed}' -f - <<YAML
apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec: {user: $1, groups: [system:authenticated], nonResourceAttributes: {verb: $2, path: $3}}
YAML
}
[ "$(review alice get /metrics)" = true ] || fail "SubjectAccessReview: alice may not get /metrics"
[ "$(review bob get /metrics)" = false ] || fail "SubjectAccessReview: bob may get /metrics"
[ "$(review alice post /metrics)" = false ] || fail "SubjectAccessReview: alice may post /metrics"
who=$(k create -o jsonpath='{.status.user.username} {.status.user.groups}' -f - <<'YAML'
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec: {token: alice-token}
YAML
)
case "$who" in
  alice*monitoring*staff*system:authenticated*) ;;
  *) fail "TokenReview of alice's token: '$who'" ;;
esac
k api-resources --api-group=authorization.k8s.io -o name | grep -qx subjectaccessreviews.authorization.k8s.io ||
  fail "discovery does not list subjectaccessreviews"
echo "ok: SubjectAccessReview and TokenReview answered from RBAC and the token file"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --metrics-bind-address=0 \
  --bind-address=127.0.0.1 --secure-port="$port" >"$WORK/sched.log" 2>&1 &
SCHED_PID=$!
url="https://127.0.0.1:$port"
for _ in $(seq 200); do curl -skf "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -skf "$url/healthz" >/dev/null || fail "/healthz over HTTPS never answered"
grep -q 'self-signed in memory' "$WORK/sched.log" || fail "no self-signed certificate logged"

get() {  # get PATH [TOKEN] → the HTTP status; the body in $WORK/body
  local auth=()
  [ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")
  curl -sk -o "$WORK/body" -w '%{http_code}' "${auth[@]}" "$url$1"
}
expect_status() {  # expect_status CODE PATH [TOKEN]
  local code
  code=$(get "$2" "${3:-}")
  [ "$code" = "$1" ] || fail "GET $2 (token '${3:-}'): $code, want $1: $(cat "$WORK/body")"
}
expect_message() {
  grep -qF "\"message\": \"$1\"" "$WORK/body" || fail "want message '$1' in $(cat "$WORK/body")"
}

echo "--- who may read what"
expect_status 200 /healthz
expect_status 200 /readyz bob-token
expect_status 401 /healthz forged-token
expect_status 403 /metrics
expect_message 'forbidden: User \"system:anonymous\" cannot get path \"/metrics\"'
expect_status 401 /metrics forged-token
expect_message Unauthorized
expect_status 403 /metrics bob-token
expect_message 'forbidden: User \"bob\" cannot get path \"/metrics\"'
grep -q '"reason": "Forbidden"' "$WORK/body" || fail "403 without reason Forbidden"
expect_status 200 /metrics alice-token
"$PROMTOOL" check metrics <"$WORK/body" >"$WORK/promtool.txt" 2>&1 ||
  { cat "$WORK/promtool.txt" >&2; fail "promtool check metrics found problems"; }
grep -q '^fairway_' "$WORK/body" || fail "no fairway_ series in /metrics"
expect_status 403 /debug/queues bob-token
expect_status 200 /debug/queues alice-token
echo "ok: 401 for a forged token, 403 for the anonymous user and bob, 200 for alice; probes open"

echo "--- fairway explain over the secure port"
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: waiting, namespace: default}
spec:
  schedulerName: fairway
  containers: [{name: main, image: pause, resources: {limits: {nvidia.com/gpu: "1"}}}]
YAML
explain() {  # explain TOKEN → fairway explain's exit status; its output in $WORK/explain
  local code=0
  "$FAIRWAY" explain default/waiting --address "$url" --token "$1" --insecure-skip-tls-verify \
    >"$WORK/explain" 2>&1 || code=$?
  echo "$code"
}
for _ in $(seq 100); do [ "$(explain alice-token)" = 0 ] && break; sleep 0.1; done
[ "$(explain alice-token)" = 0 ] || fail "fairway explain as alice: $(cat "$WORK/explain")"
grep -q 'default/waiting' "$WORK/explain" || fail "explain does not name the pod: $(cat "$WORK/explain")"
[ "$(explain bob-token)" = 1 ] || fail "fairway explain as bob succeeded"
grep -q 'answered HTTP 403' "$WORK/explain" || fail "explain as bob: $(cat "$WORK/explain")"
echo "ok: fairway explain reads /debug/pods with alice's token, not with bob's"
