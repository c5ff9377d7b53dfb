#!/usr/bin/env bash
# Fair share over time on the embedded API server, read back with kubectl (docs/scheduling.md):
# one 8-GPU node, queues a and b (no quota). a's pod holds all 8 GPUs, with a 10 s half-life.
#  1. a's past use shows in Queue status.usage, in `kubectl get queues` and in /metrics.
#  2. A restarted scheduler continues from status.usage: a's share does not start again at 0.
#  3. With --usage-strength=1, when a and b both want 8 more, b (no past use) gets 6 of the 8
#     and a 2: weights 1 - (1 - 1/2) = 0.5 and 1 + 1/2 = 1.5, whatever a's share is.
# $1: the fairway binary; kubectl: $KUBECTL.
set -euo pipefail

FAIRWAY="$(realpath "${1:?usage: usage_over_time.sh FAIRWAY_BINARY}")"
source "$(dirname "$0")/lib/common.sh"
[[ -x $KUBECTL ]] || { echo "kubectl not found at $KUBECTL (run 'make tools' or set KUBECTL)" >&2; exit 1; }
on_fail() { k get queues; k get queue a -o jsonpath='{.status}'; echo; k get pods -A -o wide; }

start_apiserver
gpu_node gpu-0 8
k create namespace team >/dev/null
{
  printf '%s\n' "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" "metadata: {name: a}" \
    "spec: {resources: {nvidia.com/gpu: {quota: 0}}}" "---" \
    "apiVersion: scheduling.fairway.dev/v1alpha1" "kind: Queue" "metadata: {name: b}" \
    "spec: {resources: {nvidia.com/gpu: {quota: 0}}}" "---"
  queue_pod holds-8 a 8
} | k apply -f - >/dev/null

metrics_port=$(free_port)
scheduler() {
  "$FAIRWAY" scheduler --kubeconfig "$WORK/kc" --leader-elect=false --schedule-period=20ms \
    --preemption-period=0 --usage-half-life=10s --metrics-bind-address="127.0.0.1:$metrics_port" \
    "$@" >>"$WORK/sched.log" 2>&1 &
  SCHED_PID=$!
}
share_of() { k get queue "$1" -o jsonpath='{.status.usage.shares.nvidia\.com/gpu}'; }
fair_share_of() { k get queue "$1" -o jsonpath='{.status.fairShare.nvidia\.com/gpu}'; }
above() { [[ -n $1 ]] && python3 -c "import sys; sys.exit(0 if float('$1') > float('$2') else 1)"; }
# Conditions wait_for polls (each call reads afresh).
bound() { [[ -n $(k get pod -n team "$1" -o jsonpath='{.spec.nodeName}') ]]; }
share_above() { above "$(share_of "$1")" "$2"; }
share_is_not() { [[ $(share_of "$1") != "$2" ]]; }
fair_share_is() { [[ $(fair_share_of "$1") == "$2" ]]; }

# 1. Past use builds up while a holds the whole cluster: after ~4 s, 1 - 2^(-0.4) ≈ 0.24.
scheduler
wait_for 15 "holds-8 bound" bound holds-8
wait_for 20 "a's past use above 0.2" share_above a 0.2
[[ $(k get queue a -o jsonpath='{.status.usage.time}') =~ ^20[0-9-]+T[0-9:]+Z$ ]] ||
  fail "status.usage.time is not an RFC 3339 time"
[[ -z $(k get queue b -o jsonpath='{.status.usage}') ]] || fail "b has past use it never had"
# Read whole before matching: with pipefail, grep -q closing the pipe early fails the reader.
queues=$(k get queues)
grep -Eq '^a +True +Valid +0\.00 +8\.00 +[0-9.]+ +[1-9][0-9]?\.[0-9]% +0 ' <<<"$queues" ||
  fail "kubectl get queues shows no GPU usage for a: $queues"
metrics=$(curl -sf "http://127.0.0.1:$metrics_port/metrics")
grep -Eq '^fairway_queue_usage_share\{queue="a",resource="nvidia.com/gpu"\} 0\.[2-9]' <<<"$metrics" ||
  fail "no fairway_queue_usage_share series for a"
echo "ok: past use in status.usage ($(share_of a)), kubectl get queues and /metrics"

# 2. A restart continues from status.usage (the pod still holds the GPUs, so it only grows).
kill "$SCHED_PID"
wait "$SCHED_PID" 2>/dev/null || true
before=$(share_of a)
scheduler
wait_for 20 "the restarted scheduler's status write" share_is_not a "$before"
after=$(share_of a)
above "$after" "$before" || fail "after a restart a's share is $after, below the $before it had"
echo "ok: a restarted scheduler continued a's history ($before → $after)"

# 3. The strength moves the split of what is left: b, with no past use, gets 6 of the 8.
kill "$SCHED_PID"
wait "$SCHED_PID" 2>/dev/null || true
{ queue_pod wants-8a a 8; queue_pod wants-8b b 8; } | k apply -f - >/dev/null
scheduler --usage-strength=1
wait_for 20 "b's fair share of 6" fair_share_is b 6
fair_share_is a 2 || fail "a's fair share is $(fair_share_of a), want 2"
echo "ok: with --usage-strength=1 the queue that used nothing gets 6 of 8 GPUs, the one that used all 2"
echo PASS
