#!/usr/bin/env bash
# The alerting rules and dashboard in charts/fairway: `promtool check rules` accepts the rules
# file, `promtool test rules` shows the main alerts fire on the series fairway exports (and stay
# quiet when they should), and the Grafana dashboard is valid JSON whose queries name only
# metrics fairway exports or the rules record.
# Usage: alerts_rules.sh PATH/TO/fairway   (the binary is not needed; run from the repository root)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PROMTOOL="${PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}"
RULES="$REPO/charts/fairway/alerts/fairway-rules.yaml"
DASHBOARD="$REPO/charts/fairway/dashboards/fairway.json"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$PROMTOOL" ] || fail "promtool not found (Debian package prometheus; make deps installs it)"

"$PROMTOOL" check rules "$RULES" >/dev/null || fail "promtool check rules $RULES"

cat >"$WORK/tests.yaml" <<YAML
rule_files: [$RULES]
evaluation_interval: 1m
tests:
  # A queue with 2 of its 8 deserved GPUs and pods waiting: starved after 30 minutes; a queue
  # above its guarantee with pods waiting is not.
  - interval: 1m
    input_series:
      - {series: 'fairway_queue_allocated{queue="a",resource="nvidia.com/gpu"}', values: '2x60'}
      - {series: 'fairway_queue_deserved{queue="a",resource="nvidia.com/gpu"}', values: '8x60'}
      - {series: 'fairway_queue_pending_demand{queue="a",resource="nvidia.com/gpu"}', values: '4x60'}
      - {series: 'fairway_queue_allocated{queue="b",resource="nvidia.com/gpu"}', values: '12x60'}
      - {series: 'fairway_queue_deserved{queue="b",resource="nvidia.com/gpu"}', values: '8x60'}
      - {series: 'fairway_queue_pending_demand{queue="b",resource="nvidia.com/gpu"}', values: '4x60'}
    alert_rule_test:
      - eval_time: 20m
        alertname: FairwayQueueStarved
        exp_alerts: []
      - eval_time: 40m
        alertname: FairwayQueueStarved
        exp_alerts:
          - exp_labels: {severity: warning, queue: a, resource: nvidia.com/gpu}
            exp_annotations:
              summary: Queue a is below its deserved GPUs while it has pending demand.
              description: "a has 2 GPUs, less than 90% of what it deserves, and pods waiting for more. Others may be over their share: reclaim should free room."
  # Binding failures: 500s at 1/s fire; 409s (bound elsewhere) never do.
  - interval: 1m
    input_series:
      - {series: 'fairway_bind_errors_total{code="500"}', values: '0+60x30'}
      - {series: 'fairway_bind_errors_total{code="409"}', values: '0+600x30'}
    alert_rule_test:
      - eval_time: 20m
        alertname: FairwayBindErrors
        exp_alerts:
          - exp_labels: {severity: warning}
            exp_annotations:
              summary: fairway's binding calls are failing (1/s).
              description: "The API server rejects pods/binding (see the code label of fairway_bind_errors_total). Bound-elsewhere conflicts (409) are left out: they are harmless."
  - interval: 1m
    input_series:
      - {series: 'fairway_bind_errors_total{code="409"}', values: '0+600x30'}
    alert_rule_test:
      - eval_time: 20m
        alertname: FairwayBindErrors
        exp_alerts: []
  # 20 of 28 free GPUs stranded for 30 minutes.
  - interval: 1m
    input_series:
      - {series: 'fairway_cluster_gpus', values: '128x60'}
      - {series: 'fairway_cluster_gpus_allocated', values: '100x60'}
      - {series: 'fairway_cluster_gpus_fragmented', values: '20x60'}
    alert_rule_test:
      - eval_time: 45m
        alertname: FairwayGpuFragmentation
        exp_alerts:
          - exp_labels: {severity: info}
            exp_annotations:
              summary: Most free GPUs are on nodes where no pending pod fits.
              description: "71.43% of the free GPUs cannot be used by any pending pod (too few free per node). Consolidation can pack them; check fairway_node_gpus_allocated."
  # A relist a minute of pods; nodes never relist.
  - interval: 1m
    input_series:
      - {series: 'fairway_relists_total{resource="pods"}', values: '0+1x30'}
      - {series: 'fairway_relists_total{resource="nodes"}', values: '0x30'}
    alert_rule_test:
      - eval_time: 20m
        alertname: FairwayWatchRelists
        exp_alerts:
          - exp_labels: {severity: warning, resource: pods}
            exp_annotations:
              summary: fairway re-listed pods 15 times in 15 minutes.
              description: "Watches keep expiring (410 Gone) or breaking; each relist is a full LIST of the resource. Check the API server's watch cache and the network."
  # Pods created and bound within seconds: the p95 recording rule is small; no alert.
  - interval: 1m
    input_series:
      - {series: 'fairway_pod_scheduling_duration_seconds_bucket{le="1"}', values: '0+10x30'}
      - {series: 'fairway_pod_scheduling_duration_seconds_bucket{le="+Inf"}', values: '0+10x30'}
    promql_expr_test:
      - expr: round(fairway:pod_scheduling_duration_seconds:p95_5m * 100)
        eval_time: 20m
        exp_samples:
          - {labels: '{}', value: 95}
    alert_rule_test:
      - eval_time: 30m
        alertname: FairwayPodsPendingTooLong
        exp_alerts: []
YAML
"$PROMTOOL" test rules "$WORK/tests.yaml" || fail "promtool test rules"

# The dashboard: valid JSON, and every metric its queries use is exported or recorded.
python3 - "$DASHBOARD" "$REPO" <<'PY' || fail "dashboard check"
import json, re, sys, pathlib
dash = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
assert len(exprs) >= 15, len(exprs)
names = set()
for e in exprs:
    names |= set(re.findall(r"\b(fairway[:_][a-z0-9_:]+)", e))
repo = pathlib.Path(sys.argv[2])
source = "".join(p.read_text() for p in (repo / "scheduler").rglob("*") if p.suffix in (".cpp", ".h"))
rules = (repo / "charts/fairway/alerts/fairway-rules.yaml").read_text()
for name in sorted(names):
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    assert f'"{base}"' in source or f"record: {name}" in rules, f"dashboard uses unknown metric {name}"
print(f"dashboard: {len(dash['panels'])} panels, {len(names)} metrics, all exported")
PY
echo "alerts + dashboard: OK"
