#pragma once
// The cycle's scratch view of free capacity: a copy of each schedulable node's free resources
// (small: one vector per node, no pods), plus an index of nodes by whole free GPUs, so a GPU pod
// visits only nodes that can hold it, in bin-pack or spread order, instead of every node.

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "queues/resources.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

class NodeLedger {
 public:
  explicit NodeLedger(const ClusterState& state);

  const ResourceVector& free(NodeId node) const { return free_[node]; }
  void take(NodeId node, const ResourceVector& amount);
  void give(NodeId node, const ResourceVector& amount);

  // Schedulable nodes with GPUs, by whole free GPUs: bucket(k) holds nodes with exactly k free.
  int max_free_gpus() const { return static_cast<int>(buckets_.size()) - 1; }
  const std::vector<NodeId>& bucket(int free_gpus) const { return buckets_[free_gpus]; }
  // Schedulable nodes without any GPU.
  const std::vector<NodeId>& cpu_nodes() const { return cpu_nodes_; }

  // Pods with ResourceClaims a planner's what-if has evicted (by uid): the devices of claims
  // that only they reserve are free to placements on this ledger (device_ledger.h).
  void set_evicted(const Pod& pod, bool evicted);
  const std::unordered_set<std::string>& evicted() const { return evicted_; }

 private:
  static constexpr int kNotIndexed = -1;
  static constexpr int kCpuOnly = -2;
  int bucket_for(NodeId node) const;
  void reindex(NodeId node);

  std::vector<ResourceVector> free_;
  std::vector<int> bucket_of_;
  std::vector<uint32_t> position_;
  std::vector<std::vector<NodeId>> buckets_;
  std::vector<NodeId> cpu_nodes_;
  std::unordered_set<std::string> evicted_;
};

}  // namespace fairway
