// Why a pod does not fit, node by node, in kube-scheduler's words: counted over every node of its
// scope for a pending pod's message ("0/3 nodes are available: 2 Insufficient nvidia.com/gpu,
// ..."), for whole and shared GPUs, and per node for /debug/pods (diagnose_pod). Both read the
// same per-node verdict (node_verdict), so the two cannot drift apart.
#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/state/gpu_sharing.h"
#include "scheduler/state/node_filters.h"

namespace fairway::cycle_internal {

// One node in kube-scheduler's filter order: the node filters, NodePorts, then what
// `shortfalls(id, record, add)` finds short, then the other inter-pod and volume checks. Each
// reason goes to `add`; returns true when a reason of those other checks was given.
template <typename Shortfalls, typename Add>
bool CycleRunner::node_verdict(const PodRecord& pod, NodeId id, PodConstraints* constraints,
                               Shortfalls&& shortfalls, Add&& add) {
  const NodeRecord& record = state_.nodes()[id];
  if (const NodeFilterResult filtered = filter_node(pod.pod, record.node); !filtered.fits()) {
    add(failure_reason(filtered));
    return false;
  }
  // kube-scheduler's filter order: NodePorts before the resources, every other check after.
  const ConstraintCode code =
      constraints != nullptr ? constraints->filter(id) : ConstraintCode::kFits;
  if (code == ConstraintCode::kPorts) {
    add(constraints->reason(code));
    return false;
  }
  if (!shortfalls(id, record, add) && code != ConstraintCode::kFits) {
    add(constraints->reason(code));
    return true;
  }
  return false;
}

template <typename Shortfalls>
std::string CycleRunner::count_reasons(const PodRecord& pod, const Scope& scope,
                                       Shortfalls&& shortfalls) {
  ReasonCounts reasons;
  int64_t total = 0;
  const auto& nodes = state_.nodes();
  PodConstraints* constraints = constraints_for(id_of(pod));
  const bool pod_failed = constraints != nullptr && constraints->pod_failure().has_value();
  last_diagnosis_constrained_ = pod_failed;
  auto count = [&reasons](std::string reason) { ++reasons[std::move(reason)]; };
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.present) continue;
    if (scope.tree != nullptr &&
        scope.tree->domain_of(static_cast<size_t>(scope.level), id) != scope.domain) {
      continue;
    }
    ++total;
    if (pod_failed) continue;  // a pod-level failure, said once below
    if (node_verdict(pod, id, constraints, shortfalls, count)) last_diagnosis_constrained_ = true;
  }
  // A check no node can pass (a missing claim...) is said once, as kube-scheduler's PreFilter.
  if (pod_failed) {
    return fmt::format("0/{} nodes are available: {}.", total, *constraints->pod_failure());
  }
  return summarize_unschedulable(total, reasons);
}

// What a whole-GPU (or GPU-less) pod finds short on a node that passes the filters: room held for
// a preemption in progress, else each resource it asks more of than is free.
template <typename Add>
bool CycleRunner::resource_shortfalls(const PodRecord& pod, NodeId id, Add&& add) {
  const ResourceVector& free = ledger_.free(id);
  if (!held_on_node_.empty() && !pod.requests.fits_in(free) &&
      pod.requests.fits_in(free + held_on_node_[id])) {
    add("Capacity held for a preemption in progress");
    return true;
  }
  bool short_of = false;
  for (size_t i = 0; i < pod.requests.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (pod.requests[r] > 0 && pod.requests[r] > free[r]) {
      add(r == kPods ? std::string("Too many pods") : "Insufficient " + state_.registry().name(r));
      short_of = true;
    }
  }
  return short_of;
}

// What a fractional pod (`base`: what it costs the node besides its GPU share) finds short on a
// node that passes the filters: another resource, GPUs,
// GPU memory, GPUs held for a preemptor, or room on shared GPUs. False when the GPUs have room
// and another check (inter-pod, volumes) is what stops it.
template <typename Add>
bool CycleRunner::shared_shortfalls(const PodRecord& pod, const ResourceVector& base, NodeId id,
                                    const NodeRecord& record, Add&& add) {
  const GpuFraction& share = *pod.intent.gpu_fraction;
  const ResourceVector& free = ledger_.free(id);
  bool short_of_other = false;
  for (size_t i = 0; i < base.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (r == kGpu || base[r] <= 0 || base[r] <= free[r]) continue;
    short_of_other = true;
    add(r == kPods ? std::string("Too many pods") : "Insufficient " + state_.registry().name(r));
  }
  if (short_of_other) return true;
  if (record.allocatable[kGpu] <= 0) {
    add("Insufficient " + std::string(kGpuResourceName));
  } else if (share.memory_mib && record.gpu_memory_mib == 0) {
    add(fmt::format("GPU memory unknown (no label {})", kGpuMemoryLabel));
  } else if (share.memory_mib && record.gpu_memory_mib < *share.memory_mib) {
    add("Insufficient GPU memory");
  } else if (gpu_nominated_.contains(id)) {
    add("Capacity held for a preemption in progress");
  } else {
    // The GPUs have room: what stopped the pod is another check, if any.
    PodConstraints* constraints = constraints_for(id_of(pod));
    if (constraints != nullptr && constraints->filter(id) != ConstraintCode::kFits) return false;
    add("Insufficient shared " + std::string(kGpuResourceName));
  }
  return true;
}

// Why no node fits, counted over every node (of the scope), in kube-scheduler's words.
std::string CycleRunner::diagnose(const PodRecord& pod, const Scope& scope) {
  return count_reasons(pod, scope, [&](NodeId id, const NodeRecord&, auto& add) {
    return resource_shortfalls(pod, id, add);
  });
}

// Why a fractional pod fits nowhere, node by node, in kube-scheduler's words.
std::string CycleRunner::diagnose_shared(const PodRecord& pod, const Scope& scope) {
  const ResourceVector base = node_charge(pod);
  return count_reasons(pod, scope, [&](NodeId id, const NodeRecord& record, auto& add) {
    return shared_shortfalls(pod, base, id, record, add);
  });
}

// The per-node verdicts of one pod before anything is placed, with the capacity held for other
// waiting jobs taken off as the cycle holds it when it tries the pod's job.
std::vector<NodeDiagnosis> CycleRunner::diagnose_nodes(PodId id) {
  const PodRecord& pod = state_.pods()[id];
  hold_nominations();
  if (pod.job < state_.jobs().size()) release_nominated(pod.job);
  PodConstraints* constraints = constraints_for(id);
  const std::optional<std::string> pod_failure =
      constraints != nullptr ? constraints->pod_failure() : std::nullopt;
  const ResourceVector base = node_charge(pod);
  std::vector<NodeDiagnosis> verdicts;
  const auto& nodes = state_.nodes();
  for (NodeId node = 0; node < nodes.size(); ++node) {
    if (!nodes[node].present) continue;
    NodeDiagnosis& verdict = verdicts.emplace_back();
    verdict.node = node;
    auto add = [&verdict](std::string reason) { verdict.reasons.push_back(std::move(reason)); };
    if (pod_failure) {
      add(*pod_failure);  // a check no node can pass: every node's reason
    } else if (is_sharer(pod)) {
      node_verdict(
          pod, node, constraints,
          [&](NodeId at, const NodeRecord& record, auto& sink) {
            return shared_shortfalls(pod, base, at, record, sink);
          },
          add);
    } else {
      node_verdict(
          pod, node, constraints,
          [&](NodeId at, const NodeRecord&, auto& sink) {
            return resource_shortfalls(pod, at, sink);
          },
          add);
    }
  }
  return verdicts;
}

}  // namespace fairway::cycle_internal
