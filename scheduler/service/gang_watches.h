#pragma once
// The edge of gangs from many sources (scheduler/state/gangs.h, docs/gangs.md). Discovery (one
// GET per API group version) says which workload kinds, which other schedulers' PodGroup kinds
// and whether 1.35's Workload objects the API server serves; each served one gets a reflector
// (list and watch), so owner inference reads its local copy and never GETs per pod or per
// cycle. Discovery is read again every --discovery-interval, as kube-controller-manager's
// garbage collector does: a CRD installed later is watched from then on, one removed stops
// being watched. Also writes fairway's own PodGroup for every inferred gang, owned by the top
// workload.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
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

class GangWatches {
 public:
  GangWatches(k8s::RestClient& client, Inbox& inbox) : client_(client), inbox_(inbox) {}
  ~GangWatches() { stop(); }
  GangWatches(const GangWatches&) = delete;
  GangWatches& operator=(const GangWatches&) = delete;

  // Reads discovery; starts a reflector for every gang source that appeared since the last
  // call and stops those that vanished, telling the state through the inbox (so it learns a
  // kind is watched before any of its objects, and forgets them after the last one). Logs what
  // changed.
  void rediscover();
  // Calls rediscover every `interval` until `stop` is requested.
  void run(std::stop_token stop, std::chrono::milliseconds interval);
  // Whether every watch has listed once.
  bool synced() const;
  void stop();

  struct Source;  // a kind fairway can watch (gang_watches.cpp)

 private:
  // One watched source: its reflector and the thread running it (declared after it, so the
  // thread is joined before the reflector goes).
  struct Watch {
    std::shared_ptr<void> reflector;
    std::function<bool()> synced;
    std::function<void(ClusterState&)> forget;  // posted once the thread has stopped
    std::jthread thread;
  };
  Watch start_watch(const Source& source);

  k8s::RestClient& client_;
  Inbox& inbox_;
  mutable std::mutex mutex_;
  std::map<std::string, Watch> watches_;  // by resource name
  // Touched only by the thread that calls rediscover.
  std::set<std::string> refused_;  // served but not readable: warned once
  bool first_ = true;
};

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
