// Capacity held for jobs the preemption pass (scheduler/planner) made room for: taken off the
// ledger when the cycle starts, given back just before the job is tried, taken again if it waits.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/state/job_gate.h"

namespace fairway::cycle_internal {

void CycleRunner::hold_nominations() {
  if (options_.nominations == nullptr || options_.nominations->empty()) return;
  // Only for jobs still waiting: a job that placed no longer needs its room held.
  // Nor for a job that may not be scheduled at all (a queue its namespace may not use, an
  // invalid queue or pod): the planner makes no such nomination, and one made before the job
  // was refused (a namespace relabelled, a Queue's selector changed) holds nothing.
  std::unordered_set<std::string_view> nominated;
  for (const Nomination& nomination : *options_.nominations) nominated.insert(nomination.job);
  std::unordered_set<std::string_view> waiting;
  for (const auto& [queue, jobs] : state_.pending_jobs()) {
    for (JobId id : jobs) {
      const JobRecord& job = state_.jobs()[id];
      if (nominated.contains(job.key) && !waiting_job_refusal(state_, tree_, job)) {
        waiting.insert(job.key);
      }
    }
  }
  for (const Nomination& nomination : *options_.nominations) {
    if (!waiting.contains(nomination.job)) continue;
    const NodeRecord* record = state_.find_node(nomination.node);
    if (record == nullptr || !record->schedulable()) continue;
    const auto node = static_cast<NodeId>(record - state_.nodes().data());
    // The GPUs bought there may still be shared GPUs whose sharers are leaving: no fractional
    // pod joins the node's shared GPUs meanwhile, or the GPU would never come free.
    if (nomination.amount[kGpu] > 0) gpu_nominated_.insert(node);
    // Only what is free now: the victims may still be terminating, and their share of the
    // nomination is held once they are gone (the next cycle).
    const ResourceVector& free = ledger_.free(node);
    auto& holds = held_[nomination.job];
    holds.emplace_back();
    holds.back().first = node;
    ResourceVector& held = holds.back().second;
    for (size_t i = 0; i < nomination.amount.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      held.set(r, std::clamp<int64_t>(free[r], 0, std::max<int64_t>(nomination.amount[r], 0)));
    }
    adjust_free(node, held, true);
  }
}

bool CycleRunner::release_nominated(JobId job) {
  const auto it = held_.find(state_.jobs()[job].key);
  if (it == held_.end()) return false;
  for (const auto& [node, amount] : it->second) adjust_free(node, amount, false);
  return true;
}

void CycleRunner::hold_nominated(JobId job) {
  const auto it = held_.find(state_.jobs()[job].key);
  if (it == held_.end()) return;
  for (auto& [node, amount] : it->second) {
    const ResourceVector& free = ledger_.free(node);
    for (size_t i = 0; i < amount.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      amount.set(r, std::clamp<int64_t>(free[r], 0, amount[r]));
    }
    adjust_free(node, amount, true);
  }
}

void CycleRunner::adjust_free(NodeId node, const ResourceVector& amount, bool take) {
  const int64_t before = whole_gpus(ledger_.free(node));
  if (held_on_node_.empty()) held_on_node_.resize(state_.nodes().size());
  if (take) {
    ledger_.take(node, amount);
    held_on_node_[node] += amount;
  } else {
    ledger_.give(node, amount);
    held_on_node_[node] -= amount;
  }
  const int64_t after = whole_gpus(ledger_.free(node));
  for (FabricCapacity* capacity : active_capacities_) capacity->adjust(node, after - before);
  // GPU sets of nodes with a known layout are recomputed from the free count on first use.
  if (!mask_ready_.empty() && after != before) mask_ready_[node] = 0;
}

}  // namespace fairway::cycle_internal
