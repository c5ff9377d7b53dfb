// Placements taken on and given back to the cycle's scratch ledger, so that fabric capacities,
// GPU sets on the link graph, shared GPUs, volumes and devices follow; NVLink island classes.
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

uint64_t& CycleRunner::free_gpu_mask(NodeId node) {
  if (mask_ready_.empty()) {
    mask_ready_.assign(state_.nodes().size(), 0);
    free_masks_.assign(state_.nodes().size(), 0);
  }
  if (mask_ready_[node] == 0) {
    // Which GPUs running pods hold is not known (the device plugin picked them); assume islands
    // were filled smallest first, as fairway itself would have done.
    const GpuLinkGraph& graph = *state_.nodes()[node].gpu_graph;
    const int64_t free = std::min<int64_t>(whole_gpus(ledger_.free(node)), graph.gpu_count());
    free_masks_[node] =
        graph.all_gpus() & ~graph.assume_used(graph.gpu_count() - static_cast<int>(free));
    mask_ready_[node] = 1;
  }
  return free_masks_[node];
}

int CycleRunner::island_class(NodeId node, int64_t gpus) {
  const auto& graph = state_.nodes()[node].gpu_graph;
  if (graph == nullptr) return 1;
  if (graph->one_island()) return 0;
  return graph->largest_free_island(free_gpu_mask(node)) >= gpus ? 0 : 2;
}

void CycleRunner::take(Placed& placed) {
  const PodRecord& record = state_.pods()[placed.pod];
  if (!record.pod.volume_claims.empty()) {
    placed.volumes = constraints_for(placed.pod)->volume_bindings(placed.node);
    for (const VolumeBinding& binding : placed.volumes) {
      if (!binding.volume.empty()) taken_volumes_.insert(binding.volume);
    }
  }
  if (!record.pod.resource_claims.empty()) {
    placed.claims = constraints_for(placed.pod)->claim_allocations(placed.node);
    devices_.take(record.pod, placed.claims);
  }
  tentative_.add(placed.pod, placed.node);
  ++tentative_version_;
  const int64_t gpus = whole_gpus(record.requests);
  const auto& graph = state_.nodes()[placed.node].gpu_graph;
  if (!placed.shared.empty()) {
    // A group opened this cycle takes its whole GPU from the node with its first sharer.
    ResourceVector charge = node_charge(record);
    for (SharedGpuLedger::SlotId id : placed.shared) {
      const auto& slot = shared_.slot(id);
      if (slot.fresh && slot.free == kFullGpu) charge.add(kGpu, 1000);
      shared_.take(id, placed.share_units);
    }
    const int64_t before = whole_gpus(ledger_.free(placed.node));
    ledger_.take(placed.node, charge);
    const int64_t after = whole_gpus(ledger_.free(placed.node));
    for (FabricCapacity* capacity : active_capacities_) {
      capacity->adjust(placed.node, after - before);
    }
    return;
  }
  if (gpus > 0 && graph != nullptr) {
    uint64_t& free = free_gpu_mask(placed.node);
    placed.gpus = graph->choose(free, static_cast<int>(gpus));
    free &= ~placed.gpus;
  }
  const int64_t before = whole_gpus(ledger_.free(placed.node));
  ledger_.take(placed.node, record.requests);
  const int64_t after = whole_gpus(ledger_.free(placed.node));
  for (FabricCapacity* capacity : active_capacities_) capacity->adjust(placed.node, after - before);
}

void CycleRunner::give(const Placed& placed) {
  for (const VolumeBinding& binding : placed.volumes) taken_volumes_.erase(binding.volume);
  devices_.give(state_.pods()[placed.pod].pod, placed.claims);
  tentative_.remove(placed.pod);
  ++tentative_version_;
  const int64_t before = whole_gpus(ledger_.free(placed.node));
  if (!placed.shared.empty()) {
    ResourceVector charge = node_charge(state_.pods()[placed.pod]);
    for (SharedGpuLedger::SlotId id : placed.shared) {
      if (shared_.give(id, placed.share_units)) charge.add(kGpu, 1000);
    }
    ledger_.give(placed.node, charge);
    const int64_t after = whole_gpus(ledger_.free(placed.node));
    for (FabricCapacity* capacity : active_capacities_) {
      capacity->adjust(placed.node, after - before);
    }
    return;
  }
  ledger_.give(placed.node, state_.pods()[placed.pod].requests);
  const int64_t after = whole_gpus(ledger_.free(placed.node));
  for (FabricCapacity* capacity : active_capacities_) capacity->adjust(placed.node, after - before);
  if (placed.gpus != 0) free_gpu_mask(placed.node) |= placed.gpus;
}

void CycleRunner::roll_back(std::vector<Placed>& placed, size_t keep) {
  while (placed.size() > keep) {
    give(placed.back());
    placed.pop_back();
  }
}

}  // namespace fairway::cycle_internal
