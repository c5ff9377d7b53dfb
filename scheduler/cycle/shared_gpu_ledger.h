#pragma once
// The cycle's scratch view of shared GPUs (scheduler/state/gpu_sharing.h): free share units per
// GPU group, and the groups this cycle opens on whole free GPUs. Fractional pods go first to the
// open group with the least room that still holds them (bin-pack), so shared GPUs fill up before
// another whole GPU is split; spread walks the same order from the other end.
//
// Groups live in an ordered set by free units: finding the best fit is a lower_bound plus the
// groups whose node turns the pod away, not a scan of every GPU.

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scheduler/state/cluster_state.h"

namespace fairway {

class SharedGpuLedger {
 public:
  struct Slot {
    std::string group;
    NodeId node = kNoNode;
    int index = 0;
    int64_t free = 0;    // share units
    bool fresh = false;  // opened by this cycle: its reservation pod does not exist yet
    bool alive = true;
  };
  using SlotId = uint32_t;

  explicit SharedGpuLedger(const ClusterState& state);

  const Slot& slot(SlotId id) const { return slots_[id]; }
  // Visits open groups with at least `min_free` units, least free first (or most free first),
  // until `visit` returns true; returns that group.
  std::optional<SlotId> find(int64_t min_free, bool most_free_first,
                             const std::function<bool(SlotId)>& visit) const;
  // A new group on a whole free GPU of `node` (the caller takes that GPU from the node ledger).
  SlotId open(NodeId node);
  void take(SlotId id, int64_t units);
  // Returns true when a group this cycle opened is empty again and closed (its GPU goes back).
  bool give(SlotId id, int64_t units);

 private:
  const ClusterState& state_;
  std::vector<Slot> slots_;
  std::set<std::pair<int64_t, SlotId>> open_;
  std::unordered_map<NodeId, std::vector<SlotId>> fresh_by_node_;
};

}  // namespace fairway
