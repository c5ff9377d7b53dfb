#pragma once
// Cluster state: nodes, pods, queues and pod groups, indexed incrementally.
//
// Every event (upsert/remove of an object, assume/forget of a placement) updates the indexes in
// time proportional to the object, never to the cluster: node usage, cluster capacity, per-queue
// allocated and pending totals, and the set of pending jobs per queue. A scheduling cycle reads
// these through const accessors and does not copy pods.
//
// "Assumed" placements: when the cycle decides to bind a pod, the caller assumes it here at once,
// so the next cycle sees the node as used even before the API server confirms the binding. A
// later pod update that carries the node name confirms it; forget() undoes it when binding fails.
//
// Jobs: pods sharing a pod group (PodGroup CR or annotation) form one job, a gang; any other pod
// is a job of one. A job is pending while it has pending pods.

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "queues/fair_share.h"
#include "queues/queue_spec.h"
#include "queues/queue_tree.h"
#include "queues/resources.h"
#include "queues/usage_history.h"
#include "scheduler/dra/dra_state.h"
#include "scheduler/state/gangs.h"
#include "scheduler/state/gpu_sharing.h"
#include "scheduler/state/ids.h"
#include "scheduler/state/model.h"
#include "scheduler/state/placed_pods.h"
#include "scheduler/state/pod_intent.h"
#include "scheduler/state/pod_queue.h"
#include "scheduler/state/storage_state.h"
#include "topology/fabric_tree.h"
#include "topology/gpu_topology.h"
#include "topology/topology_spec.h"

namespace fairway {

// Fair share over time (queues/usage_history.h, docs/scheduling.md).
struct UsageConfig {
  int64_t half_life_ms = 24LL * 3600 * 1000;  // --usage-half-life
  double strength = 0;                        // --usage-strength: k; 0 leaves weights as written
};

struct StateConfig {
  std::string scheduler_name = "fairway";
  UsageConfig usage;
  PodIntentConfig intent;
  // Pods here labelled fairway.dev/gpu-group are reservation pods (gpu_sharing.h).
  std::string reservation_namespace = std::string(kDefaultReservationNamespace);
  // DeviceClasses whose devices, claimed through ResourceClaims, charge the pod's queue as
  // nvidia.com/gpu (--dra-gpu-device-classes); gpu.nvidia.com is NVIDIA's DRA driver's class.
  std::set<std::string, std::less<>> gpu_device_classes = {"gpu.nvidia.com"};
};

// What a queue is charged for `requests`: all but the pods count (a node's limit, not shared).
ResourceVector queue_charge(const ResourceVector& requests);

struct NodeRecord {
  Node node;
  bool present = false;  // false: only known from pods that name it
  ResourceVector allocatable;
  ResourceVector used;  // requests of non-terminated pods bound or assumed here
  uint32_t pods = 0;
  // The node's GPU link graph (annotation, else GPU Feature Discovery labels); null: unknown.
  // Shared between nodes of the same layout.
  std::shared_ptr<const GpuLinkGraph> gpu_graph;
  GpuTopologySource gpu_source = GpuTopologySource::kUnknown;
  int64_t gpu_memory_mib = 0;  // per GPU, for gpu-memory shares; 0: unknown
  bool schedulable() const { return present && node.ready && !node.unschedulable; }
};

struct PodRecord {
  Pod pod;  // containers are dropped after the requests are computed
  bool present = false;
  ResourceVector requests;  // incl. one "pods"
  PodIntent intent;
  GangRef gang;           // which gang the pod belongs to (gangs.h)
  NodeId node = kNoNode;  // bound or assumed node
  bool assumed = false;   // placed by us, not yet confirmed by the API
  JobId job = std::numeric_limits<JobId>::max();
  bool ours = false;             // spec.schedulerName is ours
  bool counted_bound = false;    // currently charged to a node (and queue, if ours)
  bool counted_pending = false;  // currently in its job's pending set
  // GPU sharing (gpu_sharing.h). A sharer's requests carry its GPU share as nvidia.com/gpu
  // (charged to its queue); the node pays for the whole GPU through the group instead.
  std::vector<std::string> gpu_groups;  // groups it shares (labels, or assumed by us)
  int64_t shared_gpu_milli = 0;         // the share part of requests[nvidia.com/gpu]
  // GPUs of its ResourceClaims (StateConfig::gpu_device_classes), in milli-GPUs: charged to its
  // queue on top of `requests`, never to the node (the devices are in ResourceSlices).
  int64_t claimed_gpu_milli = 0;
  int64_t share_units = 0;       // per device, while counted in the sharing index
  int64_t share_memory_mib = 0;  // per device, while counted in the sharing index
  bool reservation = false;      // a reservation pod holding a shared GPU
  // Admission left spec.priority unset (0) and the pod names a PriorityClass: its priority is
  // that class's value, set again whenever the class arrives or changes.
  bool priority_from_class = false;
};

// What a pod asks of its queue: its requests plus the GPUs of its ResourceClaims.
inline ResourceVector queue_requests(const PodRecord& record) {
  ResourceVector out = record.requests;
  if (record.claimed_gpu_milli != 0) out.add(kGpu, record.claimed_gpu_milli);
  return out;
}
// queue_charge of those: what the pod counts against its queue's quota and limit.
inline ResourceVector queue_charge(const PodRecord& record) {
  return queue_charge(queue_requests(record));
}

struct JobRecord {
  std::string key;    // "ns/group" for gangs, "ns/pod" for single pods
  std::string group;  // empty for a job of one
  std::string namespace_;
  std::string queue;  // from the PodGroup CR if it names one, else the pods' label
  int32_t min_member = 1;
  // From the PodGroup CR when it sets one, else the pods' annotations (docs/topology.md).
  TopologyConstraint topology;
  // The PodGroup's subgroups (model.h SubGroup); empty for a gang of one part, the common case.
  std::vector<SubGroup> subgroups;
  uint32_t bound = 0;                 // pods of the job bound or assumed, not terminated
  std::unordered_set<PodId> pending;  // pods waiting for a node
  std::vector<PodId> all;             // every present pod of the job
  TimeMs creation_ms = 0;
  // The PodGroup's priorityClassName, resolved: the gang's priority, over its pods' own.
  std::optional<int32_t> priority;
  // The pods name a PodGroup that fairway has not seen and give no fairway.dev/min-member, or a
  // workload they belong to is not known yet: the gang's size is unknown, so it waits instead of
  // starting pod by pod. awaiting_reason says what it waits for.
  bool awaiting_group = false;
  std::string awaiting_reason;
  // Where the gang comes from (gangs.h): the sources naming it, in precedence order, and the
  // group object they name. For an inferred gang, the workload it comes from.
  std::vector<GangSource> sources;
  std::string group_object;
  std::string group_object_part;
  std::string inferred_from;  // "PyTorchJob team-a/llama-ft"; empty: not inferred
  OwnerRef owner;             // the top workload of an inferred gang
  bool inferred() const { return !inferred_from.empty(); }
  bool present = false;
};

class ClusterState {
 public:
  explicit ClusterState(StateConfig config = {});

  // --- events (from informers, the simulator or tests) ---
  // Room for this many nodes and pods (and as many jobs), before a first list of a large
  // cluster: the records are large, and growing to that size one doubling at a time would move
  // each of them about once more. Changes nothing else.
  void reserve(size_t nodes, size_t pods);
  void upsert_node(Node node);
  void remove_node(std::string_view name);
  void upsert_pod(Pod pod);
  void remove_pod(std::string_view key);
  void upsert_queue(QueueSpec queue);
  void remove_queue(std::string_view name);
  void upsert_pod_group(PodGroup group);
  void remove_pod_group(std::string_view key);
  // PodGroups of other schedulers and of the upstream gang API (source: kUpstream, kKai,
  // kVolcano, kSchedulerPlugins).
  void upsert_peer_group(GangSource source, PodGroup group);
  void remove_peer_group(GangSource source, std::string_view key);
  // Every group of a source, when the edge stops watching it (its CRD was removed).
  void forget_peer_groups(GangSource source);
  // 1.35's Workload objects: each pod group is a kUpstream group keyed "<ns>/<workload>#<group>";
  // groups a new version no longer has are removed.
  void upsert_upstream_workload(UpstreamWorkload workload);
  void remove_upstream_workload(std::string_view key);
  void forget_upstream_workloads();
  // Owner inference (gangs.h): the edge says which kinds it watches, then feeds their objects.
  // A change regroups the pods that have owners: a kind that appears (a CRD installed later)
  // extends their owner walk, one that vanishes ends it and drops its workloads.
  void set_workload_kind_watched(std::string_view group, std::string_view kind,
                                 bool watched = true);
  void upsert_workload(Workload workload);
  void remove_workload(std::string_view uid);
  const WorkloadIndex& workloads() const { return workloads_; }
  void upsert_topology(TopologySpec topology);
  void remove_topology(std::string_view name);
  void upsert_namespace(Namespace ns);
  void remove_namespace(std::string_view name);
  // PriorityClasses resolve pods' priorityClassName where admission left spec.priority unset,
  // and PodGroups' priorityClassName; one arriving late updates the pods and gangs naming it.
  void upsert_priority_class(PriorityClass priority_class);
  void remove_priority_class(std::string_view name);
  // Storage objects, for the volume checks (volume_binding.h); see storage_state.h.
  void upsert_persistent_volume(PersistentVolume volume);
  void remove_persistent_volume(std::string_view name);
  void upsert_persistent_volume_claim(PersistentVolumeClaim claim);
  void remove_persistent_volume_claim(std::string_view key);
  void upsert_storage_class(StorageClass storage_class);
  void remove_storage_class(std::string_view name);
  void upsert_csi_node(CsiNode node);
  void remove_csi_node(std::string_view name);
  // Dynamic Resource Allocation objects (resource.k8s.io/v1; scheduler/dra/dra_state.h).
  void upsert_resource_slice(dra::ResourceSlice slice) { dra_.upsert_slice(std::move(slice)); }
  void remove_resource_slice(std::string_view name) { dra_.remove_slice(name); }
  void upsert_device_class(dra::DeviceClass device_class) {
    dra_.upsert_class(std::move(device_class));
  }
  void remove_device_class(std::string_view name) { dra_.remove_class(name); }
  // Claims and templates also decide what their pods' queues are charged (charge_claims).
  void upsert_resource_claim(dra::ResourceClaim claim);
  void remove_resource_claim(std::string_view key);
  void upsert_resource_claim_template(dra::ResourceClaimTemplate claim_template);
  void remove_resource_claim_template(std::string_view key);
  // The watch of a kind stopped (discovery no longer shows it served or readable): its objects
  // go, and the pods whose claims they were are charged again.
  void forget_resource_slices() { dra_.clear_slices(); }
  void forget_device_classes() { dra_.clear_classes(); }
  void forget_resource_claims();
  void forget_resource_claim_templates();

  // --- placements decided by the cycle ---
  // `gpu_groups`: the shared GPUs a fractional pod joins (existing or new groups).
  bool assume(std::string_view pod_key, std::string_view node_name,
              std::vector<std::string> gpu_groups = {});
  void forget(std::string_view pod_key);
  // Claims the cycle matched for a pod it binds (Binding::volume_bindings): static volumes are
  // promised to their claims until the volume's claimRef shows it (storage_state.h), or until
  // forget_volumes when the bind failed.
  void assume_volumes(const std::vector<VolumeBinding>& bindings) { storage_.assume(bindings); }
  void forget_volumes(const std::vector<VolumeBinding>& bindings) { storage_.forget(bindings); }
  // Claims the cycle allocated or reserved for a pod it binds (Binding::claim_allocations):
  // shown allocated and reserved until the claim's update shows it, or until forget_claims.
  void assume_claims(const std::vector<dra::ClaimAllocation>& claims, std::string_view pod_name,
                     std::string_view pod_uid) {
    dra_.assume(claims, pod_name, pod_uid);
  }
  void forget_claims(const std::vector<dra::ClaimAllocation>& claims) { dra_.forget(claims); }

  // --- read views ---
  const ResourceRegistry& registry() const { return registry_; }
  ResourceRegistry& registry() { return registry_; }
  const std::vector<NodeRecord>& nodes() const { return nodes_; }
  const std::vector<PodRecord>& pods() const { return pods_; }
  const std::vector<JobRecord>& jobs() const { return jobs_; }
  const NodeRecord* find_node(std::string_view name) const;
  const PodRecord* find_pod(std::string_view key) const;
  std::optional<PodId> pod_id(std::string_view key) const;
  // The PodGroup a gang follows: for an inferred gang the one fairway derives from its workload,
  // else the fairway PodGroup object.
  const PodGroup* find_pod_group(std::string_view key) const;
  // The group a gang follows, whatever its source (gangs.h): the derived one of an inferred
  // gang, else the group object of the first of its sources that has one (fairway's, the
  // upstream, KAI's, Volcano's, scheduler-plugins'). nullptr: a job of one, or not seen yet.
  const PodGroup* job_group(const JobRecord& job) const;
  // The scheduling.fairway.dev PodGroup object as the API server has it (nullptr: not seen).
  const PodGroup* pod_group_object(std::string_view key) const;
  // The queue `pod` would use were it stored now, by the rule its job follows (pod_queue.h), and
  // where that queue comes from (`queue "red-q" of Job blue/train`): what the admission
  // webhook judges, so that it and the cycle's QueueNotAllowed never disagree.
  PodQueue queue_of(const Pod& pod) const;
  // A namespace's labels as last seen; nullptr when the namespace is unknown.
  const Labels* namespace_labels(std::string_view name) const;
  // Jobs with pending pods, by queue name.
  const std::unordered_map<std::string, std::unordered_set<JobId>>& pending_jobs() const {
    return pending_jobs_;
  }
  // Allocated and pending requests of our pods, by leaf queue name.
  const std::unordered_map<std::string, QueueUsage>& queue_usage() const { return queue_usage_; }
  // Allocatable of schedulable nodes: present, ready and not cordoned.
  const ResourceVector& capacity() const { return capacity_; }
  // capacity() plus the published DRA devices of StateConfig::gpu_device_classes as
  // nvidia.com/gpu: what queues' GPU charges are measured against.
  ResourceVector queue_capacity() const;
  // What fair shares divide: capacity() less what pods of queues that are not leaves of the
  // queue tree (a deleted Queue, or one that became invalid) hold, so their running pods stay
  // charged, to an orphan bucket outside the tree, until they finish (docs/scheduling.md).
  ResourceVector fair_share_capacity();
  // The fair shares of queue_tree(): what each leaf holds and waits for, divided over
  // fair_share_capacity(), over-quota weights adjusted by past use (config().usage).
  FairShares fair_shares();
  // Moves every queue's past use to `now` (wall clock), charging what each holds now.
  void advance_usage(WallMs now);
  const UsageHistory& usage_history() const { return usage_history_; }
  // A pod's priority for ordering and preemption: its gang's (PodGroup priorityClassName) when
  // set, else its own.
  int32_t priority_of(const PodRecord& pod) const;
  // The queue tree, rebuilt only when a Queue changed since the last call.
  const QueueTree& queue_tree();
  const std::unordered_map<std::string, QueueSpec>& queue_specs() const { return queue_specs_; }
  const StateConfig& config() const { return config_; }
  const std::map<std::string, TopologySpec, std::less<>>& topologies() const { return topologies_; }
  // The Topology a constraint refers to: the named one, or, when it names none, the only one
  // if exactly one exists. nullptr when none applies (or the named one does not exist).
  const TopologySpec* topology_for(const TopologyConstraint& constraint) const;
  // The fabric level tree of a Topology, rebuilt only when the Topology or the node set (nodes
  // added, removed or relabelled) changed since the last call. nullptr for an unknown name.
  const FabricTree* fabric(std::string_view topology);
  // Bumped whenever nodes are added, removed or relabelled.
  uint64_t node_generation() const { return node_generation_; }
  size_t pod_count() const { return pod_ids_.size(); }
  const GpuSharing& gpu_sharing() const { return sharing_; }
  // Pods charged to nodes, indexed for the inter-pod checks (placed_pods.h).
  const PlacedPods& placed() const { return placed_; }
  // PersistentVolumes, claims, StorageClasses, CSINodes (volume_binding.h reads them).
  const StorageState& storage() const { return storage_; }
  // ResourceSlices, DeviceClasses, ResourceClaims and their templates (dra_state.h).
  const dra::DraState& dra() const { return dra_; }
  dra::DraState& dra() { return dra_; }
  // The edge is deleting this group's reservation pod: the cycle stops adding sharers to it.
  void retire_gpu_group(std::string_view group) { sharing_.retire(group); }
  // The largest per-GPU memory of any node seen, MiB: what a pending gpu-memory pod is charged
  // against until it is placed (0: none known).
  int64_t max_gpu_memory_mib() const { return max_gpu_memory_mib_; }

 private:
  NodeId node_slot(std::string_view name);
  JobId job_slot(const std::string& key);
  void account(PodId id, int sign);
  void attach_to_job(PodId id);
  void detach_from_job(PodId id);
  void refresh_job(JobId id);
  void refresh_group_jobs();  // every gang's job, after a PriorityClass changed
  // The group object a source names, nullptr when not seen.
  const PodGroup* group_object(GangSource source, const std::string& key) const;
  // Recomputes the gang of every pod that read one of these workloads (uid or "Kind/ns/name").
  void regroup_pods_of(const std::vector<std::string>& workload_keys);
  void regroup_pod(PodId id);
  void index_gang(PodId id, int sign);
  void add_capacity(const NodeRecord& record, int sign);
  // Sharing hooks of account() (gpu_sharing_state.cpp).
  void charge_share(PodRecord& record);
  // Sets PodRecord::claimed_gpu_milli from the pod's claims; remembers pods with claims.
  void charge_claims(PodId id);
  // The claim or template "ns/name" changed: pods naming it whose claimed GPUs changed are
  // accounted again.
  void recharge_claim_pods(std::string_view key, bool is_template);
  void share_account(PodId id, int sign);

  StateConfig config_;
  UsageHistory usage_history_;
  ResourceRegistry registry_;
  std::vector<NodeRecord> nodes_;
  StringMap<NodeId> node_ids_;
  std::vector<PodRecord> pods_;
  std::vector<PodId> free_pod_slots_;
  StringMap<PodId> pod_ids_;
  std::vector<JobRecord> jobs_;
  std::vector<JobId> free_job_slots_;
  StringMap<JobId> job_ids_;
  std::unordered_map<std::string, PodGroup> pod_groups_;
  std::unordered_map<std::string, PodGroup> inferred_groups_;  // by job key
  std::array<std::unordered_map<std::string, PodGroup>, kGangSourceCount> peer_groups_;
  // The group keys of each 1.35 Workload, by the Workload's key.
  std::unordered_map<std::string, std::vector<std::string>> upstream_workload_groups_;
  WorkloadIndex workloads_;
  // Pods by the workloads their gang was resolved from (uids, and "LeaderWorkerSet/ns/name").
  std::unordered_map<std::string, std::unordered_set<PodId>> pods_by_workload_;
  std::unordered_map<std::string, QueueSpec> queue_specs_;
  std::unordered_map<std::string, Labels> namespaces_;
  std::unordered_map<std::string, int32_t> priority_classes_;
  std::unordered_map<std::string, std::unordered_set<JobId>> pending_jobs_;
  std::unordered_map<std::string, QueueUsage> queue_usage_;
  ResourceVector capacity_;
  QueueTree queue_tree_;
  bool queues_dirty_ = true;
  struct CachedFabric {
    FabricTree tree;
    uint64_t generation = 0;
  };
  std::map<std::string, TopologySpec, std::less<>> topologies_;
  std::map<std::string, CachedFabric, std::less<>> fabrics_;
  uint64_t node_generation_ = 1;
  GpuGraphCache gpu_graphs_;
  GpuSharing sharing_;
  PlacedPods placed_;
  StorageState storage_;
  dra::DraState dra_;
  std::unordered_set<PodId> claim_pods_;  // pods that had ResourceClaims (some may be gone)
  int64_t max_gpu_memory_mib_ = 0;
};

}  // namespace fairway
