#!/usr/bin/env bash
# `fairway sim` end to end: the built-in demo prints tables and a summary, reclaims GPUs for
# production through the real scheduler's preemption pass, draws its picture; every example
# scenario runs, JSON output parses, and bad input gives the documented exit codes.
# Usage: sim_demo.sh PATH/TO/fairway   (ctest passes it; run from the repository root)
set -euo pipefail

fairway=${1:?usage: sim_demo.sh PATH/TO/fairway}
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() {  # expect_in FILE TEXT
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "\"$2\" not in output"; }
}

# The demo as `make run` shows it: live, over the embedded API server (faster than make run), on
# the API server port asked for.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$fairway" sim --speed 40 --kubeconfig-out "$tmp/kc" --svg "$tmp/live.svg" \
  --apiserver-port "$port" > "$tmp/live.txt"
grep -qF "server: https://127.0.0.1:$port" "$tmp/kc" || { cat "$tmp/kc" >&2; fail "the API server is not on port $port"; }
for line in "live: embedded API server + scheduler over HTTPS" "fairShare(GPU)" "Summary: demo" \
            "all jobs finished" "wait time (s)" "picture: $tmp/live.svg"; do
  expect_in "$tmp/live.txt" "$line"
done
expect_line() {  # expect_line FILE REGEX
  grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "no line matching /$2/"; }
}
# Every job ended: completed, or evicted (never "completed" after its pods were evicted).
expect_line "$tmp/live.txt" '^  jobs +72 total: [0-9]+ completed, [1-9][0-9]* evicted, 0 running, 0 pending$'
completed=$(sed -nE 's/^  jobs +72 total: ([0-9]+) completed, ([0-9]+) evicted.*/\1+\2/p' "$tmp/live.txt")
[ $((completed)) -eq 72 ] || fail "completed + evicted = $((completed)), want 72"
# The reclaim, done by the scheduler service's preemption pass over the API (Eviction, Event
# Reclaimed): research pods evicted for production, which then reached its fair share.
expect_line "$tmp/live.txt" '^  reclaim for queue production: fairway evicted [1-9][0-9]* pod\(s\) of queue (nlp|vision)'
expect_line "$tmp/live.txt" '^    [0-9]:[0-9]{2} +(vision|nlp)-[a-z]+-[0-9]+ \((vision|nlp)\) for (serve-[0-9]+|prod-gang)$'
expect_line "$tmp/live.txt" '^    production reached its fair share \([0-9.]+ GPUs\) at 0:[3-5][0-9]$'
# The picture draws production's series and marks the reclaim.
grep -q 'class="allocation" data-queue="production"' "$tmp/live.svg" || fail "live picture lacks production"
grep -q 'class="eviction" data-action="reclaim"' "$tmp/live.svg" || fail "live picture lacks the reclaim"

# The workloads of the demo, as the scheduler saw them over HTTP: the PyTorchJob's pods (no
# PodGroup written) are one gang inferred from their owner, the plain Job's pods are no gang
# (minMember 1; whether they bind apart depends on live timing, the in-process run checks it).
expect_line "$tmp/live.txt" '^  llama-ft +4 +4 .*inferred from PyTorchJob sim/llama-ft$'
expect_line "$tmp/live.txt" '^  etl +2 +1 +(apart|together) +inferred from Job sim/etl$'
# The quarter-GPU pods share one GPU: the scheduler's reservation pod, its UUID from the driver
# playing the device plugin and agent, the sharers labelled with its group.
expect_line "$tmp/live.txt" '^  [a-z0-9]+-[0-9]+-gpu[0-9]+ +infer-1 \(0.25 GPU\), infer-2 \(0.25 GPU\), infer-3 \(0.25 GPU\), infer-4 \(0.25 GPU\)$'

# The same demo in-process: deterministic, so it can be compared byte for byte below.
"$fairway" sim --in-process --svg "$tmp/demo.svg" > "$tmp/demo.txt"
for line in "fairShare(GPU)" "allocated(GPU)" "pending pods" "Summary: demo" \
            "all jobs finished" "GPU utilization  average" "wait time (s)" "overall" \
            "avg fairShare(GPU)" "cycles"; do
  expect_in "$tmp/demo.txt" "$line"
done
# The gangs: the PyTorchJob bound all 4 pods in one cycle, the Job's 2 pods in different ones.
expect_line "$tmp/demo.txt" '^  llama-ft +4 +4 +together +inferred from PyTorchJob sim/llama-ft$'
expect_line "$tmp/demo.txt" '^  etl +2 +1 +apart +inferred from Job sim/etl$'
expect_line "$tmp/demo.txt" '^  h100-[0-9]-gpu0 +infer-1 \(0.25 GPU\), infer-2 \(0.25 GPU\), infer-3 \(0.25 GPU\), infer-4 \(0.25 GPU\)$'
expect_line "$tmp/demo.txt" '^  reclaim for queue production: fairway evicted 4 pod\(s\) of queue nlp, vision at 0:30-0:45$'
expect_line "$tmp/demo.txt" '^    production reached its fair share \(40 GPUs\) at 0:36$'
tables=$(grep -c '^time ' "$tmp/demo.txt")
[ "$tables" -ge 5 ] && [ "$tables" -le 15 ] || fail "demo printed $tables tables, want about 10"

# JSON summary parses and says every demo job completed.
"$fairway" sim --in-process --output=json --svg none > "$tmp/demo.json"
# (nlohmann prints one key per line with --output json; "pending" is the count of pending jobs.)
expect_in "$tmp/demo.json" '"scenario": "demo"'
expect_in "$tmp/demo.json" '"pending": 0,'
expect_in "$tmp/demo.json" '"running": 0,'
expect_in "$tmp/demo.json" '"stop_reason": "all jobs finished"'
[ "$(jq '.eviction_summary[0].for_queue' "$tmp/demo.json")" = '"production"' ] || fail "reclaim summary"
[ "$(jq '[.job_outcomes[] | select(.evicted_seconds != null and .finished_seconds != null)] | length' \
    "$tmp/demo.json")" = 0 ] || fail "an evicted job completed later"
# All or nothing: the PyTorchJob waited (it arrived with the cluster full), then its first and
# last pods were bound at the same time; the plain Job's first pod started before its last.
outcome() { jq -r --arg job "$1" ".job_outcomes[] | select(.name == \$job) | $2" "$tmp/demo.json"; }
[ "$(outcome llama-ft '.gang')" = "inferred from PyTorchJob sim/llama-ft" ] || fail "llama-ft gang"
[ "$(outcome llama-ft '.min_member')" = 4 ] || fail "llama-ft minMember"
[ "$(outcome llama-ft '.wait_seconds > 0 and .first_bound_seconds == .all_bound_seconds')" = true ] ||
  fail "llama-ft did not wait whole and bind all at once: $(outcome llama-ft .)"
[ "$(outcome etl '.min_member')" = 1 ] || fail "etl minMember"
[ "$(outcome etl '.first_bound_seconds < .all_bound_seconds')" = true ] ||
  fail "etl's pods did not bind independently: $(outcome etl .)"

# Every example scenario runs and ends with a summary.
for scenario in "$repo"/examples/sim/*.yaml; do
  "$fairway" sim --in-process "$scenario" --report-every 60 --svg none > "$tmp/example.txt" || fail "$scenario exited $?"
  expect_in "$tmp/example.txt" "Summary: "
done
# The demo file and the built-in demo are the same scenario.
"$fairway" sim --in-process "$repo/examples/sim/demo.yaml" --svg "$tmp/demo.svg" > "$tmp/demo-file.txt"
cmp -s "$tmp/demo.txt" "$tmp/demo-file.txt" || fail "examples/sim/demo.yaml differs from the built-in demo"

# A bad scenario: exit 1 and a message naming the field.
printf 'nodes: [{allocatable: {cpu: lots}}]\njobs: [{name: j}]\n' > "$tmp/bad.yaml"
set +e
"$fairway" sim "$tmp/bad.yaml" > "$tmp/bad.out" 2> "$tmp/bad.err"
code=$?
set -e
[ "$code" -eq 1 ] || fail "bad scenario exited $code, want 1"
expect_in "$tmp/bad.err" 'nodes[0].allocatable.cpu: quantity "lots"'

# A missing file: exit 1; a bad flag: exit 2.
set +e
"$fairway" sim "$tmp/missing.yaml" 2> "$tmp/missing.err"; missing=$?
"$fairway" sim --output=xml 2> /dev/null; usage=$?
set -e
[ "$missing" -eq 1 ] || fail "missing file exited $missing, want 1"
expect_in "$tmp/missing.err" "cannot read scenario"
[ "$usage" -eq 2 ] || fail "bad flag exited $usage, want 2"

echo "sim_demo: ok"
