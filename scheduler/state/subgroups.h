#pragma once
// The parts of a gang (model.h SubGroup): which pending pods make each subgroup's minimum, and
// what keeps a gang of subgroups from being tried at all. The scheduling cycle and the
// preemption planner both use these, so the planner evicts for exactly the pods the cycle places.
//
// Rules (docs/scheduling.md, "Subgroups"):
//   - a pod belongs to the subgroup its `subgroup` names; pods naming none belong to the gang only;
//   - a pod naming a subgroup its gang does not define is refused (InvalidPod) with the reason;
//   - a gang waits (GangIncomplete) until every subgroup has minMember pods (bound or pending);
//   - the minimum to place as a whole is each subgroup's missing minimum, then, while the gang's
//     own minMember is not reached, further pending pods in name order. Both must hold, so the
//     sum of the subgroups' minimums may exceed the gang's minMember (as in KAI Scheduler).

#include <string>
#include <vector>

#include "scheduler/state/cluster_state.h"

namespace fairway {

struct GangPart {
  const SubGroup* subgroup = nullptr;  // null: the gang's pods outside every subgroup
  std::vector<PodId> core;             // pending pods its minimum (or the gang's) still needs
  std::vector<PodId> extra;            // pending pods beyond that, placed when they fit
  uint32_t bound = 0;                  // its pods bound or assumed
};

// "pod w-0 names subgroup \"x\", which PodGroup ml/g does not define (subgroups: a, b)" for the
// first such pod of `pods`; empty when there is none. Only for gangs whose definition is known.
std::string undefined_subgroup(const ClusterState& state, const JobRecord& job,
                               const std::vector<PodId>& pods);

// The parts of `job` for its pending pods `pending` (in the order they are tried); one per
// subgroup of the job, in its order, then one for pods outside every subgroup when it has any.
std::vector<GangPart> split_gang(const ClusterState& state, const JobRecord& job,
                                 const std::vector<PodId>& pending);

// "waiting for subgroup \"workers\": 2 of minMember 4 pods exist" for the first part with too
// few pods; empty when every subgroup can reach its minimum.
std::string incomplete_subgroup(const std::vector<GangPart>& parts);

}  // namespace fairway
