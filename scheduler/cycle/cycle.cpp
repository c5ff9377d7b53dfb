// The cycle's entry points (cycle.h): run_cycle, place_on_ledger, diagnose_pod and assume_all, over
// the CycleRunner of cycle_runner.h, whose phases live in the files that header lists.
#include "scheduler/cycle/cycle.h"

#include <string>
#include <utility>
#include <vector>

#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/cycle/reasons.h"

namespace fairway {

static_assert(reasons::kPending.size() == static_cast<size_t>(PendingReason::kSchedulingGated) + 1,
              "one name per PendingReason");

const char* reason_name(PendingReason reason) {
  const auto index = static_cast<size_t>(reason);
  // Every entry of reasons::kPending is a string literal: data() is NUL-terminated.
  return index < reasons::kPending.size() ? reasons::kPending[index].data() : "Unknown";
}

CycleResult run_cycle(ClusterState& state, const CycleOptions& options) {
  return cycle_internal::CycleRunner(state, options).run();
}

std::optional<std::vector<Binding>> place_on_ledger(ClusterState& state, NodeLedger& ledger,
                                                    JobId job, const std::vector<PodId>& pods,
                                                    const CycleOptions& options, std::string* why) {
  return cycle_internal::CycleRunner(state, options, &ledger).place_only(job, pods, why);
}

std::vector<NodeDiagnosis> diagnose_pod(ClusterState& state, PodId pod,
                                        const CycleOptions& options) {
  return cycle_internal::CycleRunner(state, options).diagnose_nodes(pod);
}

void assume_all(ClusterState& state, const CycleResult& result) {
  for (const Binding& binding : result.bindings) {
    std::vector<std::string> groups;
    for (const GpuShare& share : binding.shares) groups.push_back(share.group);
    state.assume(binding.pod, binding.node, std::move(groups));
    if (!binding.volume_bindings.empty()) state.assume_volumes(binding.volume_bindings);
    if (!binding.claim_allocations.empty()) {
      const auto slash = binding.pod.find('/');
      state.assume_claims(binding.claim_allocations, binding.pod.substr(slash + 1), binding.uid);
    }
  }
}

}  // namespace fairway
