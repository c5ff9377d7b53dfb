// Preempt (planner.h, action 1): evict preemptible jobs of strictly lower priority in the
// preemptor's own leaf queue.
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

namespace fairway::planner_internal {

std::optional<PreemptionPlan> Planner::preempt(const Preemptor& p) {
  const std::string& job = state_.jobs()[p.job].key;
  std::vector<size_t> candidates;
  for (size_t i = 0; i < units_.size(); ++i) {
    const Unit& unit = units_[i];
    if (unit.used || unit.leaf != p.leaf || unit.priority >= p.priority) continue;
    if (unit.preempt_protected) continue;
    if (memory_.cooling_down(job, state_.jobs()[unit.job].key, start_)) continue;
    candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;
  order(candidates, false);
  std::vector<Binding> placements;
  const auto victims = choose_victims(p, candidates, accept_all(), &placements);
  if (!victims) return std::nullopt;
  return commit(PreemptionAction::kPreempt, p, *victims, std::move(placements), false);
}

}  // namespace fairway::planner_internal
