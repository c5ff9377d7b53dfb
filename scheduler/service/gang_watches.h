#pragma once
// The edge of gangs from many sources (scheduler/state/gangs.h, docs/gangs.md). Discovery, read
// once at start (one GET per API group version), says which workload kinds and which other
// schedulers' PodGroup kinds the API server serves; each served one gets a reflector (list and
// watch), so owner inference reads its local copy and never GETs per pod or per cycle. Also
// writes fairway's own PodGroup for every inferred gang, owned by the top workload.

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "k8s-client/reflector.h"
#include "k8s-client/rest_client.h"
#include "scheduler/service/actuator.h"
#include "scheduler/service/inbox.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

struct GangWatches {
  std::vector<std::unique_ptr<k8s::Reflector<Workload>>> workloads;
  std::vector<std::unique_ptr<k8s::Reflector<PodGroup>>> peer_groups;

  bool synced() const;
  void start(std::vector<std::jthread>& threads);
};

// Reads discovery and builds a reflector for every served kind; marks the served workload kinds
// watched in `state`. Call before the loop and the reflectors start (it touches `state`).
GangWatches discover_gang_watches(k8s::RestClient& client, Inbox& inbox, ClusterState& state);

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
