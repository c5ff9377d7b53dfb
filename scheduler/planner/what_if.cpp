// The what-if every action shares: evictions on the pass's scratch ledger, the preemptor placed
// by the cycle's own code (place_on_ledger), victims chosen greedily or node by node, queue
// limits, and a plan committed to the pass's view.
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
#include "scheduler/state/subgroups.h"

namespace fairway::planner_internal {

void Planner::evict_on_ledger(const Unit& unit, bool evict) {
  for (PodId pod : unit.pods) {
    const PodRecord& record = state_.pods()[pod];
    if (evict) {
      ledger_.give(record.node, record.requests);
    } else {
      ledger_.take(record.node, record.requests);
    }
    ledger_.set_evicted(record.pod, evict);
  }
}

// The what-if: evict `victims` on the scratch ledger, place the preemptor with the cycle's own
// placement code, and (consolidation) every moved pod after it; then undo everything. Returns the
// preemptor's placements when all of it fits.
std::optional<std::vector<Binding>> Planner::simulate(const Preemptor& p,
                                                      const std::vector<size_t>& victims,
                                                      bool place_victims) {
  ++result_.stats.simulations;
  for (size_t v : victims) evict_on_ledger(units_[v], true);
  std::vector<Binding> placed;
  auto placed_all = place_on_ledger(state_, ledger_, p.job, p.pods, cycle_options_);
  bool ok = placed_all.has_value();
  if (ok) placed = *placed_all;
  std::vector<Binding> moved;
  if (ok && place_victims) {
    for (size_t v : victims) {
      auto again = place_on_ledger(state_, ledger_, units_[v].job, units_[v].pods, cycle_options_);
      if (!again) {
        ok = false;
        break;
      }
      moved.insert(moved.end(), again->begin(), again->end());
    }
  }
  auto undo = [this](const std::vector<Binding>& bindings) {
    for (const Binding& b : bindings) {
      ledger_.give(node_id(b.node), state_.find_pod(b.pod)->requests);
    }
  };
  undo(moved);
  undo(placed);
  for (size_t v : victims) evict_on_ledger(units_[v], false);
  if (!ok) return std::nullopt;
  return placed;
}

// Queue limits hold on the preemptor's queue and every ancestor once its victims are gone.
bool Planner::within_limits(const Preemptor& p, const std::vector<size_t>& victims) const {
  for (QueueIndex q : path(p.leaf)) {
    ResourceVector after = allocated_[q] + p.charge;
    for (size_t v : victims) {
      for (QueueIndex vq : path(units_[v].leaf)) {
        if (vq == q) after -= units_[v].charge;
      }
    }
    for (size_t i = 0; i < p.charge.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (p.charge[r] > 0 && after[r] > tree_.node(q).limit_of(r)) return false;
    }
  }
  return true;
}

// Greedy: take candidates in victim order while `accept` allows, simulating once the freed
// capacity could be enough (then after every doubling of the victim count); on success, drop the
// victims the placement did not need, newest choice first.
std::optional<std::vector<size_t>> Planner::choose_victims(const Preemptor& p,
                                                           const std::vector<size_t>& candidates,
                                                           const Accept& accept,
                                                           std::vector<Binding>* placements) {
  ResourceVector free_total = free_total_;
  std::vector<size_t> chosen;
  size_t pods = 0;
  size_t next_trial = 1;
  std::optional<std::vector<Binding>> placed;
  bool tested_last = true;
  for (size_t candidate : candidates) {
    const Unit& unit = units_[candidate];
    if (unit.part == 2 && std::find(chosen.begin(), chosen.end(), unit.sibling) == chosen.end()) {
      continue;  // a gang's minimum goes only after its extras
    }
    if (pods + unit.pods.size() > options_.max_victims) continue;
    if (!accept.allows(candidate)) continue;
    accept.take(candidate);
    chosen.push_back(candidate);
    pods += unit.pods.size();
    free_total += unit.charge;
    tested_last = false;
    if (!p.charge.fits_in(free_total) || chosen.size() < next_trial) continue;
    if (!within_limits(p, chosen)) continue;
    tested_last = true;
    placed = simulate(p, chosen, false);
    if (placed) break;
    next_trial = chosen.size() * 2;
    if (out_of_time()) return std::nullopt;
  }
  if (!placed && !tested_last && p.charge.fits_in(free_total) && within_limits(p, chosen)) {
    placed = simulate(p, chosen, false);
  }
  if (!placed) {
    // Enough capacity in victim order did not make the job fit: the freed room is scattered
    // over nodes. Choose victims node by node instead.
    if (out_of_time()) return std::nullopt;
    return victims_by_node(p, candidates, accept, placements);
  }
  size_t trials = 0;
  for (size_t k = chosen.size(); k-- > 0 && trials < kMaxTrimTrials && chosen.size() > 1;) {
    const Unit& unit = units_[chosen[k]];
    // Keeping a gang's extras while evicting its minimum would leave it below minMember.
    if (unit.part == 1 && std::find(chosen.begin(), chosen.end(), unit.sibling) != chosen.end()) {
      continue;
    }
    std::vector<size_t> fewer = chosen;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(k));
    if (!within_limits(p, fewer)) continue;
    ++trials;
    if (auto again = simulate(p, fewer, false)) {
      chosen = std::move(fewer);
      placed = std::move(again);
    }
    if (out_of_time()) break;
  }
  *placements = std::move(*placed);
  return chosen;
}

// For each pod of the preemptor in turn: the node where it fits with the fewest victims' pods
// (victim order inside a node; a node where it fits already costs nothing). Then one simulation
// of the whole placement decides.
std::optional<std::vector<size_t>> Planner::victims_by_node(const Preemptor& p,
                                                            const std::vector<size_t>& candidates,
                                                            const Accept& accept,
                                                            std::vector<Binding>* placements) {
  accept.reset();
  const auto& pods = state_.pods();
  const auto& nodes = state_.nodes();
  std::unordered_map<NodeId, std::vector<size_t>> on_node;
  for (size_t c : candidates) {
    std::vector<NodeId> seen;
    for (PodId pod : units_[c].pods) {
      const NodeId node = pods[pod].node;
      if (std::find(seen.begin(), seen.end(), node) != seen.end()) continue;
      seen.push_back(node);
      on_node[node].push_back(c);
    }
  }
  auto freed_on = [&](const Unit& unit, NodeId node) {
    ResourceVector freed;
    for (PodId pod : unit.pods) {
      if (pods[pod].node == node) freed += pods[pod].requests;
    }
    return freed;
  };
  std::vector<char> is_chosen(units_.size(), 0);
  std::vector<size_t> chosen;
  size_t victim_pods = 0;
  std::vector<ResourceVector> delta(nodes.size());  // freed by victims minus planned pods
  for (PodId wanted : p.pods) {
    const PodRecord& pod = pods[wanted];
    size_t best_cost = std::numeric_limits<size_t>::max();
    NodeId best_node = kNoNode;
    std::vector<size_t> best_units;
    for (NodeId node = 0; node < nodes.size() && best_cost > 0; ++node) {
      if (!nodes[node].schedulable()) continue;
      ResourceVector free = ledger_.free(node) + delta[node];
      const bool fits_now = pod.requests.fits_in(free);
      const auto it = on_node.find(node);
      if (!fits_now && it == on_node.end()) continue;
      if (!filter_node(pod.pod, nodes[node].node).fits()) continue;
      if (fits_now) {
        best_cost = 0;
        best_node = node;
        best_units.clear();
        break;
      }
      std::vector<size_t> picks;
      size_t cost = 0;
      for (size_t u : it->second) {
        if (is_chosen[u] != 0) continue;
        const Unit& unit = units_[u];
        if (unit.part == 2 && is_chosen[unit.sibling] == 0 &&
            std::find(picks.begin(), picks.end(), unit.sibling) == picks.end()) {
          continue;
        }
        if (!accept.allows(u)) continue;
        picks.push_back(u);
        cost += unit.pods.size();
        if (cost >= best_cost) break;
        free += freed_on(unit, node);
        if (pod.requests.fits_in(free)) break;
      }
      if (cost < best_cost && pod.requests.fits_in(free)) {
        best_cost = cost;
        best_node = node;
        best_units = std::move(picks);
      }
    }
    if (best_node == kNoNode) return std::nullopt;
    for (size_t u : best_units) {
      if (!accept.allows(u)) return std::nullopt;
      accept.take(u);
      is_chosen[u] = 1;
      chosen.push_back(u);
      victim_pods += units_[u].pods.size();
      for (PodId pod_id : units_[u].pods) delta[pods[pod_id].node] += pods[pod_id].requests;
    }
    delta[best_node] -= pod.requests;
    if (victim_pods > options_.max_victims || out_of_time()) return std::nullopt;
  }
  if (chosen.empty() || !within_limits(p, chosen)) return std::nullopt;
  auto placed = simulate(p, chosen, false);
  if (!placed) return std::nullopt;
  *placements = std::move(*placed);
  return chosen;
}

// Applies a plan to the pass's view (ledger and queue totals), so later plans build on it.
PreemptionPlan Planner::commit(PreemptionAction action, const Preemptor& p,
                               const std::vector<size_t>& victims, std::vector<Binding> placements,
                               bool place_victims) {
  const JobRecord& job = state_.jobs()[p.job];
  PreemptionPlan plan;
  plan.action = action;
  plan.preemptor = job.key;
  plan.queue = job.queue;
  for (PodId pod : p.pods) plan.preemptor_pods.push_back(state_.pods()[pod].pod.key());
  std::set<std::string> victim_jobs;
  std::set<std::string> victim_queues;
  for (size_t v : victims) {
    Unit& unit = units_[v];
    unit.used = true;
    evict_on_ledger(unit, true);
    free_total_ += unit.charge;
    const JobRecord& victim_job = state_.jobs()[unit.job];
    victim_jobs.insert(victim_job.key);
    victim_queues.insert(victim_job.queue);
    for (PodId pod : unit.pods) {
      const PodRecord& record = state_.pods()[pod];
      const bool idle_first = unit.idle_first && action != PreemptionAction::kPreempt;
      plan.victims.push_back({record.pod.key(), record.pod.uid,
                              state_.nodes()[record.node].node.name, victim_job.key,
                              victim_job.queue, idle_first ? unit.idle_note : std::string()});
    }
    if (!place_victims) {
      for (QueueIndex q : path(unit.leaf)) allocated_[q] -= unit.charge;
    }
  }
  for (const Binding& b : placements) {
    const ResourceVector& requests = state_.find_pod(b.pod)->requests;
    ledger_.take(node_id(b.node), requests);
    free_total_ -= queue_charge(requests);
    Nomination& nomination = plan.nominations.emplace_back();
    nomination.job = job.key;
    nomination.node = b.node;
    nomination.amount += requests;
  }
  if (place_victims) {
    // Moved pods need their new places too; keep them out of later plans' reach.
    for (size_t v : victims) {
      if (place_on_ledger(state_, ledger_, units_[v].job, units_[v].pods, cycle_options_)) {
        free_total_ -= units_[v].charge;
      }
    }
  }
  for (QueueIndex q : path(p.leaf)) allocated_[q] += p.charge;
  plan.placements = std::move(placements);

  std::string queues;
  for (const std::string& q : victim_queues) queues += (queues.empty() ? "\"" : ", \"") + q + "\"";
  const char* why = action == PreemptionAction::kPreempt ? "of lower priority in the same queue"
                    : action == PreemptionAction::kReclaim
                        ? "above their fair share"
                        : "moved so the job's GPUs are not scattered";
  plan.message = fmt::format("{} for {}: evicting {} pod(s) of {} job(s) in queue(s) {} ({})",
                             action_name(action), job.key, plan.victims.size(), victim_jobs.size(),
                             queues, why);
  return plan;
}

}  // namespace fairway::planner_internal
