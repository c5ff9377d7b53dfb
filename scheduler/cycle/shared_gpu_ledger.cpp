#include "scheduler/cycle/shared_gpu_ledger.h"

#include <algorithm>

namespace fairway {

SharedGpuLedger::SharedGpuLedger(const ClusterState& state) : state_(state) {
  for (const SharedGpu& gpu : state.gpu_sharing().gpus()) {
    if (!gpu.open()) continue;
    const auto id = static_cast<SlotId>(slots_.size());
    slots_.push_back(
        {gpu.group, gpu.node, gpu.index, std::max<int64_t>(kFullGpu - gpu.used, 0), false, true});
    open_.emplace(slots_.back().free, id);
  }
}

std::optional<SharedGpuLedger::SlotId> SharedGpuLedger::find(
    int64_t min_free, bool most_free_first, const std::function<bool(SlotId)>& visit) const {
  if (most_free_first) {
    for (auto it = open_.rbegin(); it != open_.rend() && it->first >= min_free; ++it) {
      if (visit(it->second)) return it->second;
    }
    return std::nullopt;
  }
  for (auto it = open_.lower_bound({min_free, 0}); it != open_.end(); ++it) {
    if (visit(it->second)) return it->second;
  }
  return std::nullopt;
}

SharedGpuLedger::SlotId SharedGpuLedger::open(NodeId node) {
  // The lowest slot index not used on the node by an existing group or one opened this cycle.
  std::vector<int> used;
  const auto& groups = state_.gpu_sharing().gpus();
  for (GroupId id : state_.gpu_sharing().on_node(node)) used.push_back(groups[id].index);
  auto& fresh = fresh_by_node_[node];
  for (SlotId id : fresh) used.push_back(slots_[id].index);
  std::sort(used.begin(), used.end());
  int index = 0;
  for (int taken : used) {
    if (taken == index)
      ++index;
    else if (taken > index)
      break;
  }
  const auto id = static_cast<SlotId>(slots_.size());
  slots_.push_back(
      {gpu_group_name(state_.nodes()[node].node.name, index), node, index, kFullGpu, true, true});
  fresh.push_back(id);
  open_.emplace(kFullGpu, id);
  return id;
}

void SharedGpuLedger::take(SlotId id, int64_t units) {
  Slot& slot = slots_[id];
  open_.erase({slot.free, id});
  slot.free -= units;
  open_.emplace(slot.free, id);
}

bool SharedGpuLedger::give(SlotId id, int64_t units) {
  Slot& slot = slots_[id];
  open_.erase({slot.free, id});
  slot.free += units;
  if (slot.fresh && slot.free >= kFullGpu) {
    slot.alive = false;
    std::erase(fresh_by_node_[slot.node], id);
    return true;
  }
  open_.emplace(slot.free, id);
  return false;
}

}  // namespace fairway
