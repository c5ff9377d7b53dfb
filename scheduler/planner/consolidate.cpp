// Consolidate (planner.h, action 3): room exists in total, only scattered; move a few
// preemptible pods so the preemptor fits, when every moved pod has a place too.
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
#include "scheduler/state/node_filters.h"

namespace fairway::planner_internal {

// Consolidation: there is room in total, only scattered. For each pod of the preemptor, pick the
// node where the fewest movable pods (preemptible, not above the preemptor's priority, past their
// preemptMinRuntime) make it fit; commit only if the preemptor and every moved pod then place.
std::optional<PreemptionPlan> Planner::consolidate(const Preemptor& p) {
  if (!p.charge.fits_in(free_total_)) return std::nullopt;
  // Moved pods stay charged to their queues: a preemptor its queue limits keep out gains nothing.
  if (!within_limits(p, {})) return std::nullopt;
  const std::string& job = state_.jobs()[p.job].key;

  if (!units_by_node_ready_) {
    // Built once per pass: units (a gang's minimum excluded) by node, in victim order.
    for (size_t i = 0; i < units_.size(); ++i) {
      if (units_[i].part == 2) continue;
      std::vector<NodeId> seen;
      for (PodId pod : units_[i].pods) {
        const NodeId node = state_.pods()[pod].node;
        if (std::find(seen.begin(), seen.end(), node) != seen.end()) continue;
        seen.push_back(node);
        units_by_node_[node].push_back(i);
      }
    }
    for (auto& [node, units] : units_by_node_) order(units, true);
    units_by_node_ready_ = true;
  }
  const auto& by_node = units_by_node_;
  auto movable = [&](size_t u) {
    const Unit& unit = units_[u];
    return !unit.used && unit.priority <= p.priority && !unit.preempt_protected &&
           !memory_.cooling_down(job, state_.jobs()[unit.job].key, start_);
  };

  // Candidate moves for the first pod, cheapest first; the gang's other pods follow greedily.
  struct Option {
    size_t pods;
    NodeId node;
    std::vector<size_t> units;
  };
  auto options_for = [&](const PodRecord& pod, const std::vector<size_t>& already,
                         const std::unordered_map<NodeId, ResourceVector>& used) {
    std::vector<Option> found;
    for (const auto& [node, units] : by_node) {
      const NodeRecord& record = state_.nodes()[node];
      ResourceVector free = ledger_.free(node);
      if (auto it = used.find(node); it != used.end()) free -= it->second;
      for (size_t u : already) {
        for (PodId victim : units_[u].pods) {
          if (state_.pods()[victim].node == node) free += state_.pods()[victim].requests;
        }
      }
      Option option{0, node, {}};
      for (size_t u : units) {
        if (pod.requests.fits_in(free)) break;
        if (!movable(u)) continue;
        if (std::find(already.begin(), already.end(), u) != already.end()) continue;
        option.units.push_back(u);
        option.pods += units_[u].pods.size();
        for (PodId victim : units_[u].pods) {
          if (state_.pods()[victim].node == node) free += state_.pods()[victim].requests;
        }
      }
      if (option.units.empty() || !pod.requests.fits_in(free)) continue;
      if (!filter_node(pod.pod, record.node).fits()) continue;
      found.push_back(std::move(option));
    }
    std::sort(found.begin(), found.end(), [](const Option& a, const Option& b) {
      return std::tie(a.pods, a.node) < std::tie(b.pods, b.node);
    });
    return found;
  };

  const PodRecord& first = state_.pods()[p.pods.front()];
  const std::vector<Option> starts = options_for(first, {}, {});
  uint32_t trials = 0;
  for (const Option& start : starts) {
    if (trials++ >= options_.max_consolidation_trials || out_of_time()) break;
    std::vector<size_t> victims = start.units;
    std::unordered_map<NodeId, ResourceVector> used;
    used[start.node] += first.requests;
    bool ok = true;
    for (size_t k = 1; k < p.pods.size() && ok; ++k) {
      const PodRecord& pod = state_.pods()[p.pods[k]];
      // A pod that fits somewhere already needs no move.
      bool fits = false;
      for (NodeId node = 0; node < state_.nodes().size() && !fits; ++node) {
        if (!state_.nodes()[node].schedulable()) continue;
        ResourceVector free = ledger_.free(node);
        if (auto it = used.find(node); it != used.end()) free -= it->second;
        if (pod.requests.fits_in(free) && filter_node(pod.pod, state_.nodes()[node].node).fits()) {
          used[node] += pod.requests;
          fits = true;
        }
      }
      if (fits) continue;
      const std::vector<Option> next = options_for(pod, victims, used);
      if (next.empty()) {
        ok = false;
        break;
      }
      victims.insert(victims.end(), next.front().units.begin(), next.front().units.end());
      used[next.front().node] += pod.requests;
    }
    size_t pods = 0;
    for (size_t v : victims) pods += units_[v].pods.size();
    if (!ok || pods > options_.max_victims) continue;
    if (auto placements = simulate(p, victims, true)) {
      return commit(PreemptionAction::kConsolidate, p, victims, std::move(*placements), true);
    }
  }
  return std::nullopt;
}

}  // namespace fairway::planner_internal
