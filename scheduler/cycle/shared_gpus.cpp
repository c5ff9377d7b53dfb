// Fractional pods (docs/gpu-sharing.md): the shared GPUs of one node a pod joins, or the whole
// free GPUs it opens as new groups, in bin-pack or spread order.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/state/gpu_sharing.h"

namespace fairway::cycle_internal {

// A fractional pod joins shared GPUs of one node: with bin-pack, open groups with the least
// room that holds it first, and only then a whole free GPU becomes a new group (chosen like a
// one-GPU pod: the fullest node that has one). Spread does it the other way round. A pod asking
// for N devices needs N distinct groups on one node, existing ones first.
std::optional<CycleRunner::Placed> CycleRunner::choose_shared(PodId id, const Scope& scope) {
  const PodRecord& record = state_.pods()[id];
  const GpuFraction& share = *record.intent.gpu_fraction;
  const auto devices = static_cast<size_t>(share.num_devices);
  const bool spread = options_.gpu_sharing_strategy == ScoringStrategy::kSpread;
  const ResourceVector base = node_charge(record);
  const auto& nodes = state_.nodes();

  // The fewest units the share can take anywhere (a memory share is smallest on the biggest
  // GPU); each candidate is then checked with its own node's GPU memory.
  const auto least = share_units(share, state_.max_gpu_memory_mib());
  if (!least) return std::nullopt;
  auto units_on = [&](NodeId node) { return share_units(share, nodes[node].gpu_memory_mib); };
  auto node_takes = [&](NodeId node, int64_t whole) {
    const NodeRecord& n = nodes[node];
    if (!n.schedulable()) return false;
    if (scope.tree != nullptr &&
        scope.tree->domain_of(static_cast<size_t>(scope.level), node) != scope.domain) {
      return false;
    }
    ResourceVector need = base;
    need.add(kGpu, 1000 * whole);
    return fit_score(record, need, node).has_value();
  };
  // A group that existed before this cycle, on a node whose GPUs are nominated to a preemptor.
  auto held_for_preemptor = [&](const SharedGpuLedger::Slot& slot) {
    return !slot.fresh && gpu_nominated_.contains(slot.node);
  };
  auto joined = [&](NodeId node, std::vector<SharedGpuLedger::SlotId> slots, size_t fresh) {
    Placed placed{id, node, 0, {}, 0, {}, {}};
    placed.share_units = *units_on(node);
    placed.shared = std::move(slots);
    for (size_t k = 0; k < fresh; ++k) placed.shared.push_back(shared_.open(node));
    return placed;
  };
  auto existing = [&]() -> std::optional<Placed> {
    if (devices == 1) {
      const auto found = shared_.find(*least, spread, [&](SharedGpuLedger::SlotId s) {
        const SharedGpuLedger::Slot& slot = shared_.slot(s);
        if (held_for_preemptor(slot)) return false;
        const auto units = units_on(slot.node);
        return units && slot.free >= *units && node_takes(slot.node, 0);
      });
      if (!found) return std::nullopt;
      return joined(shared_.slot(*found).node, {*found}, 0);
    }
    // Several devices: gather fitting groups per node in visiting order, then take the first
    // node where they, plus whole free GPUs for the rest, hold every device.
    std::vector<NodeId> order;
    std::unordered_map<NodeId, std::vector<SharedGpuLedger::SlotId>> fitting;
    shared_.find(*least, spread, [&](SharedGpuLedger::SlotId s) {
      const SharedGpuLedger::Slot& slot = shared_.slot(s);
      if (held_for_preemptor(slot)) return false;
      const auto units = units_on(slot.node);
      if (!units || slot.free < *units) return false;
      auto& list = fitting[slot.node];
      if (list.empty()) order.push_back(slot.node);
      if (list.size() < devices) list.push_back(s);
      return false;
    });
    for (NodeId node : order) {
      auto& list = fitting[node];
      const size_t fresh = devices - list.size();
      if (node_takes(node, static_cast<int64_t>(fresh))) return joined(node, list, fresh);
    }
    return std::nullopt;
  };
  auto fresh = [&]() -> std::optional<Placed> {
    ResourceVector need = base;
    need.add(kGpu, 1000 * static_cast<int64_t>(devices));
    const auto node = choose_node(record, scope, need);
    if (!node || !units_on(*node)) return std::nullopt;
    return joined(*node, {}, devices);
  };
  if (spread) {
    if (auto placed = fresh()) return placed;
    return existing();
  }
  if (auto placed = existing()) return placed;
  return fresh();
}

}  // namespace fairway::cycle_internal
