#!/usr/bin/env bash
# `fairway doctor` (docs/operations.md, "Troubleshooting") against the embedded API server: on a
# bare cluster every missing object is a FAIL row with its fix and the exit code is 1; once the
# objects the chart installs are created with kubectl (the fixes it printed), every row passes and
# the exit code is 0.
set -euo pipefail

FAIRWAY="$(realpath "$1")"
source "$(dirname "$0")/lib/common.sh"

start_apiserver
# A bare cluster: the embedded server serves fairway's CRDs from the start; remove them.
k delete crd queues.scheduling.fairway.dev podgroups.scheduling.fairway.dev \
  topologies.scheduling.fairway.dev >/dev/null

doctor() { "$FAIRWAY" doctor --kubeconfig "$WORK/kc" "$@"; }
# row CHECK STATUS [DETAIL...]: the table has the row, with DETAIL (and FIX) in it.
row() {
  local check=$1 status=$2 line
  shift 2
  line="$(grep -E "^$check +$status " "$WORK/out")" || fail "no row '$check $status' in:
$(cat "$WORK/out")"
  for text in "$@"; do
    grep -qF -- "$text" <<<"$line" || fail "row $check lacks '$text': $line"
  done
}

if doctor >"$WORK/out" 2>&1; then fail "doctor passed on a bare cluster: $(cat "$WORK/out")"; fi
head -1 "$WORK/out" | grep -qE '^CHECK +STATUS +DETAIL +FIX$' || fail "no table header: $(head -1 "$WORK/out")"
row lease-namespace FAIL "namespace fairway-system not found" "kubectl create namespace fairway-system"
for crd in queues podgroups topologies; do
  row "crd/$crd" FAIL "scheduling.fairway.dev/v1alpha1 $crd not served" "kubectl apply -f charts/fairway/crds/"
done
row reservation-namespace FAIL "namespace fairway-reservation not found" "kubectl create namespace fairway-reservation"
row reservation-priorityclass FAIL "PriorityClass fairway-reservation not found" \
  "kubectl create priorityclass fairway-reservation --value=1000000000 --preemption-policy=Never"
row reservation-serviceaccount FAIL "ServiceAccount fairway-reservation/fairway-reservation not found"
row webhook FAIL "no MutatingWebhookConfiguration has a *.fairway.dev webhook"
grep -q '^8 of 8 checks failed$' "$WORK/out" || fail "no summary: $(tail -1 "$WORK/out")"
cp "$WORK/out" "$WORK/before.txt"
echo "a bare cluster: every check fails with its fix: ok"

# Flags say what this scheduler runs with: no leader election, no webhook.
doctor --leader-elect=false --webhook=false >"$WORK/out" 2>&1 || true
row lease-namespace PASS "leader election off"
row webhook PASS "admission webhook not served"

# The fixes the table printed, applied with kubectl (apply: JSON bodies, for every kubectl).
k apply -f "$REPO/charts/fairway/crds/" >/dev/null
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: fairway-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: fairway-reservation}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: fairway-reservation}
value: 1000000000
preemptionPolicy: Never
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: fairway-reservation, namespace: fairway-reservation}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: fairway}
webhooks:
- name: pods-0.fairway.dev
  clientConfig: {url: "https://127.0.0.1:9443/mutate"}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
YAML
# The CRDs are served once established.
for _ in $(seq 50); do doctor >"$WORK/out" 2>&1 && break; sleep 0.1; done
doctor >"$WORK/out" 2>&1 || fail "doctor failed after the fixes: $(cat "$WORK/out")"
row lease-namespace PASS "namespace fairway-system exists"
for crd in queues podgroups topologies; do row "crd/$crd" PASS "$crd served"; done
row reservation-namespace PASS "namespace fairway-reservation exists"
row reservation-priorityclass PASS "PriorityClass fairway-reservation exists"
row reservation-serviceaccount PASS "ServiceAccount fairway-reservation/fairway-reservation exists"
row webhook PASS "registers fairway/pods-0.fairway.dev"
grep -q '^all checks passed$' "$WORK/out" || fail "no summary: $(tail -1 "$WORK/out")"
cp "$WORK/out" "$WORK/after.txt"
echo "after the fixes every check passes: ok"

# An unreachable server is one clear line, not a table of failures.
kill "$API_PID"
wait "$API_PID" 2>/dev/null || true
API_PID=""
if doctor >"$WORK/out" 2>&1; then fail "doctor passed without a server"; fi
grep -q "cannot reach the API server at" "$WORK/out" || fail "unclear: $(cat "$WORK/out")"
echo "an unreachable server: ok"

# For docs/operations.md: DOCTOR_OUT=DIR keeps both tables.
if [ -n "${DOCTOR_OUT:-}" ]; then cp "$WORK/before.txt" "$WORK/after.txt" "$DOCTOR_OUT/"; fi
echo "PASS doctor"
