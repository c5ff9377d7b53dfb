#include "scheduler/service/informers.h"

#include "k8s-client/resource_paths.h"
#include "scheduler/service/informer_handler.h"
#include "scheduler/service/service_metrics.h"

namespace fairway {
namespace {

using k8s::kCsiNodesPath;
using k8s::kNamespacesPath;
using k8s::kNodesPath;
using k8s::kPersistentVolumeClaimsPath;
using k8s::kPersistentVolumesPath;
using k8s::kPodGroupsPath;
using k8s::kPodsPath;
using k8s::kPriorityClassesPath;
using k8s::kQueuesPath;
using k8s::kStorageClassesPath;
using k8s::kTopologiesPath;

template <typename T>
std::unique_ptr<k8s::Reflector<T>> make_reflector(
    k8s::RestClient& client, const char* resource, const char* path,
    typename k8s::Reflector<T>::Decoder decoder, Inbox& inbox,
    std::function<void(ClusterState&, k8s::EventType, T&&)> apply) {
  return std::make_unique<k8s::Reflector<T>>(
      client, resource, path, decoder, informer_handler<T>(inbox, resource, std::move(apply)));
}

}  // namespace

Informers::Informers(k8s::RestClient& client, Inbox& inbox, metrics::SchedulerMetrics& metrics,
                     std::chrono::milliseconds discovery_interval)
    : discovered_watches_(client, inbox) {
  // Priority classes (in the state) resolve pods' priorityClassName where admission left priority
  // unset, and PodGroups' priorityClassName; one that arrives after its pods updates them.
  pods_ = make_reflector<Pod>(client, "pods", kPodsPath, &k8s::decode_pod, inbox,
                              [](ClusterState& s, k8s::EventType type, Pod&& pod) {
                                if (type == k8s::EventType::kDeleted)
                                  s.remove_pod(pod.key());
                                else
                                  s.upsert_pod(std::move(pod));
                              });
  nodes_ = make_reflector<Node>(client, "nodes", kNodesPath, &k8s::decode_node, inbox,
                                [](ClusterState& s, k8s::EventType type, Node&& node) {
                                  if (type == k8s::EventType::kDeleted)
                                    s.remove_node(node.name);
                                  else
                                    s.upsert_node(std::move(node));
                                });
  queues_ = make_reflector<QueueSpec>(client, "queues", kQueuesPath, &k8s::decode_queue, inbox,
                                      [](ClusterState& s, k8s::EventType type, QueueSpec&& queue) {
                                        if (type == k8s::EventType::kDeleted)
                                          s.remove_queue(queue.name);
                                        else
                                          s.upsert_queue(std::move(queue));
                                      });
  groups_ =
      make_reflector<PodGroup>(client, "podgroups", kPodGroupsPath, &k8s::decode_pod_group, inbox,
                               [](ClusterState& s, k8s::EventType type, PodGroup&& group) {
                                 if (type == k8s::EventType::kDeleted)
                                   s.remove_pod_group(group.key());
                                 else
                                   s.upsert_pod_group(std::move(group));
                               });
  topologies_ = make_reflector<TopologySpec>(
      client, "topologies", kTopologiesPath, &k8s::decode_topology, inbox,
      [](ClusterState& s, k8s::EventType type, TopologySpec&& topology) {
        if (type == k8s::EventType::kDeleted)
          s.remove_topology(topology.name);
        else
          s.upsert_topology(std::move(topology));
      });
  priorities_ = make_reflector<PriorityClass>(
      client, "priorityclasses", kPriorityClassesPath, &k8s::decode_priority_class, inbox,
      [](ClusterState& s, k8s::EventType type, PriorityClass&& pc) {
        if (type == k8s::EventType::kDeleted)
          s.remove_priority_class(pc.name);
        else
          s.upsert_priority_class(std::move(pc));
      });

  namespaces_ =
      make_reflector<Namespace>(client, "namespaces", kNamespacesPath, &k8s::decode_namespace,
                                inbox, [](ClusterState& s, k8s::EventType type, Namespace&& ns) {
                                  if (type == k8s::EventType::kDeleted)
                                    s.remove_namespace(ns.name);
                                  else
                                    s.upsert_namespace(std::move(ns));
                                });
  volumes_ = make_reflector<PersistentVolume>(
      client, "persistentvolumes", kPersistentVolumesPath, &k8s::decode_persistent_volume, inbox,
      [](ClusterState& s, k8s::EventType type, PersistentVolume&& volume) {
        if (type == k8s::EventType::kDeleted)
          s.remove_persistent_volume(volume.name);
        else
          s.upsert_persistent_volume(std::move(volume));
      });
  claims_ = make_reflector<PersistentVolumeClaim>(
      client, "persistentvolumeclaims", kPersistentVolumeClaimsPath,
      &k8s::decode_persistent_volume_claim, inbox,
      [](ClusterState& s, k8s::EventType type, PersistentVolumeClaim&& claim) {
        if (type == k8s::EventType::kDeleted)
          s.remove_persistent_volume_claim(claim.key());
        else
          s.upsert_persistent_volume_claim(std::move(claim));
      });
  storage_classes_ = make_reflector<StorageClass>(
      client, "storageclasses", kStorageClassesPath, &k8s::decode_storage_class, inbox,
      [](ClusterState& s, k8s::EventType type, StorageClass&& storage_class) {
        if (type == k8s::EventType::kDeleted)
          s.remove_storage_class(storage_class.name);
        else
          s.upsert_storage_class(std::move(storage_class));
      });
  csi_nodes_ =
      make_reflector<CsiNode>(client, "csinodes", kCsiNodesPath, &k8s::decode_csi_node, inbox,
                              [](ClusterState& s, k8s::EventType type, CsiNode&& csi_node) {
                                if (type == k8s::EventType::kDeleted)
                                  s.remove_csi_node(csi_node.name);
                                else
                                  s.upsert_csi_node(std::move(csi_node));
                              });
  add_informer_sources(metrics, *pods_, *nodes_, *queues_, *groups_, *topologies_, *priorities_,
                       *namespaces_, *volumes_, *claims_, *storage_classes_, *csi_nodes_);
  // Workloads and other schedulers' PodGroups, for gangs nobody wrote a fairway PodGroup for, and
  // the DRA kinds where the cluster serves them. Discovery is read now, before any pod arrives,
  // and again every --discovery-interval.
  discovered_watches_.rediscover();
  auto start = [this](auto& reflector) {
    threads_.emplace_back([&reflector](std::stop_token token) { reflector->run(token); });
  };
  start(pods_);
  start(nodes_);
  start(queues_);
  start(groups_);
  start(topologies_);
  start(priorities_);
  start(namespaces_);
  start(volumes_);
  start(claims_);
  start(storage_classes_);
  start(csi_nodes_);
  if (discovery_interval.count() > 0) {
    threads_.emplace_back([this, discovery_interval](std::stop_token token) {
      discovered_watches_.run(token, discovery_interval);
    });
  }
}

bool Informers::synced() const {
  return pods_->synced() && nodes_->synced() && queues_->synced() && groups_->synced() &&
         topologies_->synced() && priorities_->synced() && namespaces_->synced() &&
         volumes_->synced() && claims_->synced() && storage_classes_->synced() &&
         csi_nodes_->synced() && discovered_watches_.synced();
}

void Informers::request_stop() {
  for (auto& thread : threads_) thread.request_stop();
}

void Informers::join() {
  request_stop();
  threads_.clear();  // joins
  discovered_watches_.stop();
}

}  // namespace fairway
