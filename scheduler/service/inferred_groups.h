#pragma once
// fairway's own PodGroup for every gang inferred from its pods' owners (scheduler/state/gangs.h,
// docs/gangs.md), owned by the top workload, so users see the gang as an object.

#include <chrono>
#include <string>
#include <unordered_map>

#include "scheduler/service/actuator.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

// What was last asked for each inferred gang's PodGroup, so it is asked again only when it
// changed or the object still has not appeared after a while.
struct InferredGroupWrites {
  struct Asked {
    std::string body;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Asked> asked;  // by gang key
};

// The body of fairway's PodGroup for an inferred gang.
std::string inferred_pod_group_body(const JobRecord& job);

// Asks `actuator` to write the PodGroup of every inferred gang whose object is missing or whose
// minMember or queue differ from the gang's.
void publish_inferred_groups(const ClusterState& state, InferredGroupWrites& writes,
                             Actuator& actuator, std::chrono::steady_clock::time_point now);

}  // namespace fairway
