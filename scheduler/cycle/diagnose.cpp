// Why no node fits a pod, counted over every node of its scope in kube-scheduler's words
// ("0/3 nodes are available: 2 Insufficient nvidia.com/gpu, ..."), for whole and shared GPUs.
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
#include "scheduler/state/node_filters.h"

namespace fairway::cycle_internal {

template <typename Shortfalls>
std::string CycleRunner::count_reasons(const PodRecord& pod, const Scope& scope,
                                       Shortfalls&& shortfalls) {
  ReasonCounts reasons;
  int64_t total = 0;
  const auto& nodes = state_.nodes();
  PodConstraints* constraints = constraints_for(id_of(pod));
  const bool pod_failed = constraints != nullptr && constraints->pod_failure().has_value();
  last_diagnosis_constrained_ = pod_failed;
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.present) continue;
    if (scope.tree != nullptr &&
        scope.tree->domain_of(static_cast<size_t>(scope.level), id) != scope.domain) {
      continue;
    }
    ++total;
    if (pod_failed) continue;  // a pod-level failure, said once below
    if (const NodeFilterResult filtered = filter_node(pod.pod, record.node); !filtered.fits()) {
      ++reasons[failure_reason(filtered)];
      continue;
    }
    // kube-scheduler's filter order: NodePorts before the resources, every other check after.
    const ConstraintCode code =
        constraints != nullptr ? constraints->filter(id) : ConstraintCode::kFits;
    if (code == ConstraintCode::kPorts) {
      ++reasons[constraints->reason(code)];
      continue;
    }
    if (!shortfalls(id, record, reasons) && code != ConstraintCode::kFits) {
      ++reasons[constraints->reason(code)];
      last_diagnosis_constrained_ = true;
    }
  }
  // A check no node can pass (a missing claim...) is said once, as kube-scheduler's PreFilter.
  if (pod_failed) {
    return fmt::format("0/{} nodes are available: {}.", total, *constraints->pod_failure());
  }
  return summarize_unschedulable(total, reasons);
}

// Why no node fits, counted over every node (of the scope), in kube-scheduler's words.
std::string CycleRunner::diagnose(const PodRecord& pod, const Scope& scope) {
  return count_reasons(pod, scope, [&](NodeId id, const NodeRecord&, ReasonCounts& reasons) {
    const ResourceVector& free = ledger_.free(id);
    if (!held_on_node_.empty() && !pod.requests.fits_in(free) &&
        pod.requests.fits_in(free + held_on_node_[id])) {
      ++reasons["Capacity held for a preemption in progress"];
      return true;
    }
    bool short_of = false;
    for (size_t i = 0; i < pod.requests.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (pod.requests[r] > 0 && pod.requests[r] > free[r]) {
        ++reasons[r == kPods ? std::string("Too many pods")
                             : "Insufficient " + state_.registry().name(r)];
        short_of = true;
      }
    }
    return short_of;
  });
}

// Why a fractional pod fits nowhere, node by node, in kube-scheduler's words.
std::string CycleRunner::diagnose_shared(const PodRecord& pod, const Scope& scope) {
  const GpuFraction& share = *pod.intent.gpu_fraction;
  const ResourceVector base = node_charge(pod);
  return count_reasons(pod, scope, [&](NodeId id, const NodeRecord& record, ReasonCounts& reasons) {
    const ResourceVector& free = ledger_.free(id);
    bool short_of_other = false;
    for (size_t i = 0; i < base.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (r == kGpu || base[r] <= 0 || base[r] <= free[r]) continue;
      short_of_other = true;
      ++reasons[r == kPods ? std::string("Too many pods")
                           : "Insufficient " + state_.registry().name(r)];
    }
    if (short_of_other) return true;
    if (record.allocatable[kGpu] <= 0) {
      ++reasons["Insufficient " + std::string(kGpuResourceName)];
    } else if (share.memory_mib && record.gpu_memory_mib == 0) {
      ++reasons[fmt::format("GPU memory unknown (no label {})", kGpuMemoryLabel)];
    } else if (share.memory_mib && record.gpu_memory_mib < *share.memory_mib) {
      ++reasons["Insufficient GPU memory"];
    } else if (gpu_nominated_.contains(id)) {
      ++reasons["Capacity held for a preemption in progress"];
    } else {
      // The GPUs have room: what stopped the pod is another check, if any.
      PodConstraints* constraints = constraints_for(id_of(pod));
      if (constraints != nullptr && constraints->filter(id) != ConstraintCode::kFits) return false;
      ++reasons["Insufficient shared " + std::string(kGpuResourceName)];
    }
    return true;
  });
}

}  // namespace fairway::cycle_internal
