// Stale gangs (PreemptionAction::kStaleGang): a gang bound below its minMember past its grace
// gives its bound pods back, so it can start again whole.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "scheduler/planner/planner_internal.h"
#include "scheduler/state/job_gate.h"

namespace fairway::planner_internal {

std::unordered_set<JobId> Planner::stale_gangs() {
  std::unordered_set<JobId> stale;
  if (options_.stale_gang_grace_ms <= 0) return stale;
  for (JobId id = 0; id < state_.jobs().size(); ++id) {
    const JobRecord& job = state_.jobs()[id];
    const auto since = memory_.partial_since(job.key);
    if (!job.present || !since) continue;
    TimeMs grace = options_.stale_gang_grace_ms;
    if (const PodGroup* group = state_.find_pod_group(job.key);
        group != nullptr && group->schedule_timeout_seconds &&
        *group->schedule_timeout_seconds > 0) {
      grace = *group->schedule_timeout_seconds * 1000;
    }
    if (start_ - *since < grace) continue;
    PreemptionPlan plan;
    plan.action = PreemptionAction::kStaleGang;
    plan.preemptor = job.key;
    plan.queue = job.queue;
    for (PodId pod : job.all) {
      const PodRecord& record = state_.pods()[pod];
      // Terminating already (an earlier round), or a bind still in flight: not taken back.
      if (!record.counted_bound || record.pod.deleting || record.assumed) continue;
      plan.victims.push_back({record.pod.key(), record.pod.uid,
                              state_.nodes()[record.node].node.name, job.key, job.queue, ""});
    }
    if (plan.victims.empty()) continue;
    stale.insert(id);
    for (Unit& unit : units_) {
      if (unit.job == id) unit.used = true;  // no other plan counts on these pods
    }
    plan.message = fmt::format(
        "stale-gang for {}: evicting its {} bound pod(s): {} of minMember {} bound for {} s "
        "(grace {} s), so the gang can start again whole",
        job.key, plan.victims.size(), job.bound, job.min_member, (start_ - *since) / 1000,
        grace / 1000);
    result_.plans.push_back(std::move(plan));
  }
  return stale;
}

}  // namespace fairway::planner_internal
