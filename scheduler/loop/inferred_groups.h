#pragma once
// fairway's own PodGroup for every gang inferred from its pods' owners (scheduler/state/gangs.h,
// docs/gangs.md), owned by the top workload, so users see the gang as an object.

#include <chrono>
#include <string>
#include <unordered_map>

#include "scheduler/loop/decisions.h"
#include "scheduler/state/clock.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

// What was last asked for each inferred gang's PodGroup, so it is asked again only when it
// changed or the object still has not appeared after a while.
struct InferredGroupWrites {
  struct Asked {
    std::string body;
    Clock::time_point at;
  };
  std::unordered_map<std::string, Asked> asked;  // by gang key
};

// The body of fairway's PodGroup for an inferred gang.
std::string inferred_pod_group_body(const JobRecord& job);

// Appends to `out` the PodGroup of every inferred gang whose object is missing or whose
// minMember or queue differ from the gang's (create, or merge-patch when it exists).
void publish_inferred_groups(const ClusterState& state, InferredGroupWrites& writes,
                             Clock::time_point now, std::vector<ObjectWrite>& out);

}  // namespace fairway
