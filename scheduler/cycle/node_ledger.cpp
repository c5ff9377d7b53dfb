#include "scheduler/cycle/node_ledger.h"

#include <algorithm>

namespace fairway {
namespace {

// kubelet's default --max-pods, for nodes that do not report a "pods" allocatable.
constexpr int64_t kDefaultMaxPods = 110 * 1000;

}  // namespace

NodeLedger::NodeLedger(const ClusterState& state) {
  const auto& nodes = state.nodes();
  free_.resize(nodes.size());
  bucket_of_.assign(nodes.size(), kNotIndexed);
  position_.assign(nodes.size(), 0);
  int64_t max_gpus = 0;
  for (const NodeRecord& record : nodes) {
    if (record.schedulable()) max_gpus = std::max(max_gpus, record.allocatable[kGpu] / 1000);
  }
  buckets_.resize(static_cast<size_t>(max_gpus) + 1);
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.schedulable()) continue;
    ResourceVector free = record.allocatable;
    if (free[kPods] == 0) free.set(kPods, kDefaultMaxPods);
    free -= record.used;
    free_[id] = std::move(free);
    if (record.allocatable[kGpu] == 0) {
      bucket_of_[id] = kCpuOnly;
      cpu_nodes_.push_back(id);
    } else {
      const int bucket = bucket_for(id);
      bucket_of_[id] = bucket;
      position_[id] = static_cast<uint32_t>(buckets_[bucket].size());
      buckets_[bucket].push_back(id);
    }
  }
}

int NodeLedger::bucket_for(NodeId node) const {
  const int64_t whole = std::max<int64_t>(free_[node][kGpu], 0) / 1000;
  return static_cast<int>(std::min<int64_t>(whole, max_free_gpus()));
}

void NodeLedger::reindex(NodeId node) {
  const int old_bucket = bucket_of_[node];
  if (old_bucket < 0) return;  // CPU-only nodes are not bucketed
  const int new_bucket = bucket_for(node);
  if (new_bucket == old_bucket) return;
  // Swap-remove from the old bucket, append to the new one.
  auto& from = buckets_[old_bucket];
  const uint32_t at = position_[node];
  from[at] = from.back();
  position_[from[at]] = at;
  from.pop_back();
  position_[node] = static_cast<uint32_t>(buckets_[new_bucket].size());
  buckets_[new_bucket].push_back(node);
  bucket_of_[node] = new_bucket;
}

void NodeLedger::take(NodeId node, const ResourceVector& amount) {
  free_[node] -= amount;
  reindex(node);
}

void NodeLedger::give(NodeId node, const ResourceVector& amount) {
  free_[node] += amount;
  reindex(node);
}

void NodeLedger::set_evicted(const Pod& pod, bool evicted) {
  if (pod.resource_claims.empty()) return;
  if (evicted) {
    evicted_.insert(pod.uid);
  } else {
    evicted_.erase(pod.uid);
  }
}

}  // namespace fairway
