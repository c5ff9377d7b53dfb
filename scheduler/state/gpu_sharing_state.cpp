// ClusterState's side of GPU sharing: what a fractional pod is charged, and feeding the sharing
// index from pod events (gpu_sharing.h). Kept apart from cluster_state.cpp so the accounting of
// shares reads in one place.

#include <cmath>

#include "scheduler/state/cluster_state.h"

namespace fairway {

// A sharer's requests carry its share as milli-GPUs, per device times devices, rounded up so a
// queue never gets more than its quota. A gpu-memory share is converted on its node's GPU, or,
// while pending, on the largest GPU known (the least it can cost); unknown memory costs a GPU.
void ClusterState::charge_share(PodRecord& record) {
  if (!record.ours || !record.intent.gpu_fraction) {
    record.shared_gpu_milli = 0;
    return;
  }
  const GpuFraction& share = *record.intent.gpu_fraction;
  const int64_t memory =
      record.node != kNoNode ? nodes_[record.node].gpu_memory_mib : max_gpu_memory_mib_;
  const int64_t units = share_units(share, memory).value_or(kFullGpu);
  const int64_t milli = (units * 1000 + kFullGpu - 1) / kFullGpu * share.num_devices;
  record.requests.set(kGpu, milli);
  record.shared_gpu_milli = milli;
}

void ClusterState::share_account(PodId id, int sign) {
  PodRecord& record = pods_[id];
  const NodeId node = record.node;
  int placeholders = 0;
  if (record.reservation) {
    const std::string& group = record.pod.labels.find(kGpuGroupLabel)->second;
    if (sign > 0) {
      const auto uuid = record.pod.annotations.find(kGpuUuidAnnotation);
      placeholders += sharing_.add_reservation(
          group, node, id, uuid == record.pod.annotations.end() ? std::string() : uuid->second,
          record.pod.deleting);
    } else {
      placeholders += sharing_.remove_reservation(group, id);
    }
  } else if (record.ours && record.intent.gpu_fraction && !record.gpu_groups.empty()) {
    if (sign > 0) {
      const GpuFraction& share = *record.intent.gpu_fraction;
      const int64_t memory = nodes_[node].gpu_memory_mib;
      record.share_units = share_units(share, memory).value_or(kFullGpu);
      record.share_memory_mib =
          share.memory_mib
              ? *share.memory_mib
              : static_cast<int64_t>(std::ceil(*share.fraction * static_cast<double>(memory)));
      for (const std::string& group : record.gpu_groups) {
        placeholders +=
            sharing_.add_sharer(group, node, id, record.share_units, record.share_memory_mib);
      }
    } else {
      for (const std::string& group : record.gpu_groups) {
        placeholders +=
            sharing_.remove_sharer(group, id, record.share_units, record.share_memory_mib);
      }
    }
  }
  if (placeholders != 0) nodes_[node].used.add(kGpu, 1000 * static_cast<int64_t>(placeholders));
}

}  // namespace fairway
