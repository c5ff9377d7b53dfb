#pragma once
// The scheduler's informers: one reflector per kind the ClusterState is built from (pods, nodes,
// queues, PodGroups, Topologies, PriorityClasses, namespaces, PersistentVolumes and their claims,
// StorageClasses, CSINodes), each on a thread of its own posting decoded changes to the loop's
// Inbox, plus the kinds discovery finds served (discovered_watches.h: gang sources, DRA). Only the
// loop thread applies the changes to the state.

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "k8s-client/reflector.h"
#include "k8s-client/rest_client.h"
#include "scheduler/metrics/scheduler_metrics.h"
#include "scheduler/service/discovered_watches.h"
#include "scheduler/service/inbox.h"

namespace fairway {

class Informers {
 public:
  // Starts every watch (and reads discovery once, before any pod arrives); reflector counters
  // go to `metrics`. `discovery_interval`: how often discovery is read again (0: only now).
  Informers(k8s::RestClient& client, Inbox& inbox, metrics::SchedulerMetrics& metrics,
            std::chrono::milliseconds discovery_interval);
  ~Informers() { join(); }
  Informers(const Informers&) = delete;
  Informers& operator=(const Informers&) = delete;

  // Every informer has listed at least once: a cycle on fewer would see part of the cluster.
  bool synced() const;
  // Shutdown in two steps around closing the client: ask the threads to stop, then (once the
  // client no longer blocks them) wait for them.
  void request_stop();
  void join();

 private:
  DiscoveredWatches discovered_watches_;
  std::unique_ptr<k8s::Reflector<Pod>> pods_;
  std::unique_ptr<k8s::Reflector<Node>> nodes_;
  std::unique_ptr<k8s::Reflector<QueueSpec>> queues_;
  std::unique_ptr<k8s::Reflector<PodGroup>> groups_;
  std::unique_ptr<k8s::Reflector<TopologySpec>> topologies_;
  std::unique_ptr<k8s::Reflector<PriorityClass>> priorities_;
  std::unique_ptr<k8s::Reflector<Namespace>> namespaces_;
  std::unique_ptr<k8s::Reflector<PersistentVolume>> volumes_;
  std::unique_ptr<k8s::Reflector<PersistentVolumeClaim>> claims_;
  std::unique_ptr<k8s::Reflector<StorageClass>> storage_classes_;
  std::unique_ptr<k8s::Reflector<CsiNode>> csi_nodes_;
  std::vector<std::jthread> threads_;  // last: joined before the reflectors go
};

}  // namespace fairway
