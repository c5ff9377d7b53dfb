// Reclaim (planner.h, action 2): evict jobs of queues above their fair share, compared at the
// level where the two queues' paths diverge, for a queue below its own.
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

// Reclaim compares the two queues at the level where their paths diverge: below that level, the
// reclaimer's side must stay within its fair share (or its deserved quota) with the job placed,
// and the victim's side must be above its fair share and stay at or above it after the evictions.
// Only resources the preemptor asks for count, and on the victim's side only those it is
// rationed on (its fair share is below its demand): a queue that gets all it asks of a resource
// is not over its share of it.
std::optional<PreemptionPlan> Planner::reclaim(const Preemptor& p) {
  const std::string& job = state_.jobs()[p.job].key;
  const std::vector<QueueIndex> mine = path(p.leaf);
  std::vector<ResourceId> asked;
  for (size_t i = 0; i < p.charge.size(); ++i) {
    if (p.charge[static_cast<ResourceId>(i)] > 0) asked.push_back(static_cast<ResourceId>(i));
  }
  // Reclaimer side, queue by queue from the leaf up: allowed while within share or quota.
  std::vector<char> may_reclaim(mine.size(), 0);
  bool ok = true;
  for (size_t k = 0; k < mine.size(); ++k) {
    const QueueIndex q = mine[k];
    for (ResourceId r : asked) {
      const double after = static_cast<double>(allocated_[q][r] + p.charge[r]);
      const double bound =
          std::max(shares_.share(q, r), static_cast<double>(shares_.deserved[q][r]));
      if (above(after, bound)) ok = false;
    }
    may_reclaim[k] = ok ? 1 : 0;
    if (k == 0 && !ok) return std::nullopt;  // the leaf itself is at its share
  }

  // Per candidate: the victim-side path below the divergence point.
  std::unordered_map<size_t, std::vector<QueueIndex>> sides;
  std::vector<size_t> candidates;
  for (size_t i = 0; i < units_.size(); ++i) {
    const Unit& unit = units_[i];
    if (unit.used || unit.leaf == p.leaf || unit.reclaim_protected) continue;
    if (memory_.cooling_down(job, state_.jobs()[unit.job].key, start_)) continue;
    std::vector<QueueIndex> theirs = path(unit.leaf);
    // Strip the common ancestors: what is left are the two sides below the divergence.
    size_t common = 0;
    while (common < theirs.size() && common < mine.size() &&
           theirs[theirs.size() - 1 - common] == mine[mine.size() - 1 - common]) {
      ++common;
    }
    const size_t my_side = mine.size() - common;  // queues of mine below the divergence
    if (my_side == 0 || may_reclaim[my_side - 1] == 0) continue;
    theirs.resize(theirs.size() - common);
    const QueueIndex top = theirs.back();
    bool over = false;
    for (ResourceId r : asked) {
      if (above(static_cast<double>(allocated_[top][r]), shares_.share(top, r))) over = true;
    }
    if (!over) continue;
    sides.emplace(i, std::move(theirs));
    candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;
  order(candidates, true);

  // What the victims chosen so far take from each queue, to keep every victim queue at or above
  // its fair share.
  std::unordered_map<QueueIndex, ResourceVector> removed;
  Accept accept;
  accept.allows = [&](size_t candidate) {
    const Unit& unit = units_[candidate];
    for (QueueIndex q : sides.at(candidate)) {
      ResourceVector after = allocated_[q] - unit.charge;
      if (const auto it = removed.find(q); it != removed.end()) after -= it->second;
      for (ResourceId r : asked) {
        const double share = shares_.share(q, r);
        const bool rationed = above(static_cast<double>(shares_.demand[q][r]), share);
        if (unit.charge[r] > 0 && rationed && above(share, static_cast<double>(after[r]))) {
          return false;
        }
      }
    }
    return true;
  };
  accept.take = [&](size_t candidate) {
    for (QueueIndex q : sides.at(candidate)) removed[q] += units_[candidate].charge;
  };
  accept.reset = [&] { removed.clear(); };
  std::vector<Binding> placements;
  const auto victims = choose_victims(p, candidates, accept, &placements);
  if (!victims) return std::nullopt;
  return commit(PreemptionAction::kReclaim, p, *victims, std::move(placements), false);
}

}  // namespace fairway::planner_internal
