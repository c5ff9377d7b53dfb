#pragma once
// The watches of kinds a cluster may or may not serve, started where discovery (one GET per API
// group version) finds them served and this scheduler may list them:
//   - gang sources (scheduler/state/gangs.h, docs/gangs.md): workload kinds, other schedulers'
//     PodGroup kinds and 1.35's Workload objects, so owner inference reads its local copy and
//     never GETs per pod or per cycle;
//   - Dynamic Resource Allocation (docs/dra.md): resource.k8s.io/v1 ResourceSlices,
//     DeviceClasses, ResourceClaims and ResourceClaimTemplates, served from Kubernetes 1.34.
// Each gets a reflector (list and watch). Discovery is read again every --discovery-interval, as
// kube-controller-manager's garbage collector does: a kind served later (a CRD installed, an
// upgraded API server) is watched from then on; one that vanishes stops being watched and its
// objects are forgotten.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "k8s-client/reflector.h"
#include "k8s-client/rest_client.h"
#include "scheduler/service/inbox.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

class DiscoveredWatches {
 public:
  DiscoveredWatches(k8s::RestClient& client, Inbox& inbox) : client_(client), inbox_(inbox) {}
  ~DiscoveredWatches() { stop(); }
  DiscoveredWatches(const DiscoveredWatches&) = delete;
  DiscoveredWatches& operator=(const DiscoveredWatches&) = delete;

  // Reads discovery; starts a reflector for every kind that appeared since the last call and
  // stops those that vanished, telling the state through the inbox (so it learns a kind is
  // watched before any of its objects, and forgets them after the last one). Logs what is
  // watched at the first call ("gang sources watched", "DRA kinds watched"), then what changed.
  void rediscover();
  // Calls rediscover every `interval` until `stop` is requested.
  void run(std::stop_token stop, std::chrono::milliseconds interval);
  // Whether every watch has listed once.
  bool synced() const;
  // The resources watched now ("jobs", "resourceslices.resource.k8s.io"), sorted.
  std::vector<std::string> watched() const;
  void stop();

  struct Source;  // a kind fairway can watch (discovered_watches.cpp)

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

}  // namespace fairway
