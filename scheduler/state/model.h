#pragma once
// The cluster model: plain structs decoded once at the edge (k8s-client, sim) from Kubernetes
// objects. Field names follow the Kubernetes API. Quantities are canonical integers
// (queues/quantity.h). Nothing here knows about HTTP, JSON or time sources.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queues/queue_spec.h"
#include "queues/resources.h"

namespace fairway {

using Labels = FlatMap<std::string, std::string>;
// Milliseconds since the Unix epoch, from metav1.Time or the injected clock.
using TimeMs = int64_t;

// An object key ("ns/name", as Pod::key() makes it) back into namespace and name; a key without
// a slash is a cluster-scoped name.
inline std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

enum class TaintEffect { kNoSchedule, kPreferNoSchedule, kNoExecute };

// The effect as the API writes it ("NoSchedule").
inline const char* taint_effect_name(TaintEffect effect) {
  switch (effect) {
    case TaintEffect::kNoSchedule:
      return "NoSchedule";
    case TaintEffect::kPreferNoSchedule:
      return "PreferNoSchedule";
    case TaintEffect::kNoExecute:
      return "NoExecute";
  }
  return "NoSchedule";
}

struct Taint {
  std::string key;
  std::string value;
  TaintEffect effect = TaintEffect::kNoSchedule;
};

struct Toleration {
  enum class Operator { kEqual, kExists };
  std::string key;  // empty with kExists tolerates every taint
  Operator op = Operator::kEqual;
  std::string value;
  std::optional<TaintEffect> effect;  // empty tolerates every effect
};

struct NodeSelectorRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  std::string key;
  Operator op = Operator::kIn;
  std::vector<std::string> values;
};

// Requirements of one term are ANDed; the terms of a required node affinity are ORed.
struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;  // against node labels
  std::vector<NodeSelectorRequirement> match_fields;       // only "metadata.name" exists
};

struct PreferredSchedulingTerm {
  int32_t weight = 0;  // 1..100
  NodeSelectorTerm preference;
};

// metav1.LabelSelector is queues/label_selector.h's (matchLabels and matchExpressions ANDed, with
// the In, NotIn, Exists and DoesNotExist operators; selector_matches). An empty selector matches
// every object; where the API allows a null selector, fields hold std::optional and nullopt
// matches nothing, as labels.Nothing() does in kube-scheduler.

// v1.PodAffinityTerm: pods selected by `label_selector` in the chosen namespaces, co-located
// (or not) within the node's domain of `topology_key`. Namespaces: `namespaces` ∪ those matched
// by `namespace_selector`; both empty/null means the namespace of the pod that carries the term.
struct PodAffinityTerm {
  std::optional<LabelSelector> label_selector;
  std::vector<std::string> namespaces;
  std::optional<LabelSelector> namespace_selector;
  std::string topology_key;
  // Label keys whose values on the incoming pod are ANDed into the selector (key In [value]) or,
  // for mismatch keys, (key NotIn [value]); keys the pod lacks are ignored (beta in 1.31).
  std::vector<std::string> match_label_keys;
  std::vector<std::string> mismatch_label_keys;
};

struct WeightedPodAffinityTerm {
  int32_t weight = 0;  // 1..100
  PodAffinityTerm term;
};

struct PodAffinity {
  std::vector<PodAffinityTerm> required_affinity;
  std::vector<PodAffinityTerm> required_anti_affinity;
  std::vector<WeightedPodAffinityTerm> preferred_affinity;
  std::vector<WeightedPodAffinityTerm> preferred_anti_affinity;
  bool empty() const {
    return required_affinity.empty() && required_anti_affinity.empty() &&
           preferred_affinity.empty() && preferred_anti_affinity.empty();
  }
};

// v1.TopologySpreadConstraint with the API server's defaults applied.
struct TopologySpreadConstraint {
  int32_t max_skew = 1;
  std::string topology_key;
  bool do_not_schedule = true;  // whenUnsatisfiable: DoNotSchedule (else ScheduleAnyway)
  std::optional<LabelSelector> label_selector;  // null selects no pods
  std::optional<int32_t> min_domains;
  bool node_affinity_honor = true;  // nodeAffinityPolicy: Honor (default) | Ignore
  bool node_taints_honor = false;   // nodeTaintsPolicy: Ignore (default) | Honor
  std::vector<std::string> match_label_keys;
};

// A container port with a hostPort (only those matter to NodePorts).
struct HostPort {
  int32_t port = 0;
  std::string protocol = "TCP";
  std::string host_ip;  // empty: 0.0.0.0, every address
};

// A volume of the pod that needs a PersistentVolumeClaim: `persistentVolumeClaim.claimName`, or
// for a generic ephemeral volume the claim "<pod>-<volume>" its controller creates.
struct PodVolumeClaim {
  std::string claim_name;
  bool ephemeral = false;
};

// One entry of spec.resourceClaims (Dynamic Resource Allocation, scheduler/dra/): exactly one of
// `claim_name` (resourceClaimName: an existing claim) and `template_name`
// (resourceClaimTemplateName: the claim kube-controller-manager creates for the pod, named in
// status.resourceClaimStatuses).
struct PodResourceClaim {
  std::string name;
  std::string claim_name;
  std::string template_name;
};

// One entry of status.resourceClaimStatuses: the claim generated for spec.resourceClaims[name];
// `claim_name` empty: the controller decided no claim is needed.
struct PodResourceClaimStatus {
  std::string name;
  std::string claim_name;
};

struct Node {
  std::string name;
  std::string uid;
  Labels labels;
  Labels annotations;
  std::vector<Taint> taints;
  bool unschedulable = false;  // spec.unschedulable (cordoned)
  ResourceList allocatable;    // status.allocatable, incl. nvidia.com/gpu and extended resources
  bool ready = true;           // status.conditions[Ready]
};

struct Container {
  std::string name;
  ResourceList requests;
  ResourceList limits;
  bool restart_always = false;  // init container with restartPolicy: Always (a sidecar)
};

enum class PodPhase { kPending, kRunning, kSucceeded, kFailed, kUnknown };

// metadata.ownerReferences[] entry with controller: true (an object has at most one).
struct OwnerRef {
  std::string api_version;  // "group/version", or "v1" for the core group
  std::string kind;         // empty: no controller owner
  std::string name;
  std::string uid;
  bool operator==(const OwnerRef&) const = default;
};

// The API group of an apiVersion: "batch" of "batch/v1", "" of "v1". A view into the argument,
// without a copy: the owner walk asks it for every owner of every pod event.
inline std::string_view api_group_of(std::string_view api_version) {
  const auto slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

struct Pod {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string scheduler_name;
  std::string node_name;  // spec.nodeName: empty while unbound
  PodPhase phase = PodPhase::kPending;
  int32_t priority = 0;
  std::string priority_class_name;
  // spec.preemptionPolicy (set by admission from the PriorityClass): "Never" means the pod never
  // makes fairway evict others; empty or PreemptLowerPriority: it may.
  std::string preemption_policy;
  TimeMs creation_ms = 0;
  bool deleting = false;  // metadata.deletionTimestamp set
  Labels labels;
  Labels annotations;
  std::vector<Container> containers;
  std::vector<Container> init_containers;
  ResourceList overhead;
  Labels node_selector;
  std::vector<NodeSelectorTerm> required_node_affinity;  // empty: no constraint
  std::vector<PreferredSchedulingTerm> preferred_node_affinity;
  std::vector<Toleration> tolerations;
  PodAffinity affinity;  // spec.affinity.podAffinity and podAntiAffinity
  std::vector<TopologySpreadConstraint> topology_spread;
  std::vector<HostPort> host_ports;  // hostPort > 0, of containers and sidecar init containers
  std::vector<PodVolumeClaim> volume_claims;
  std::vector<PodResourceClaim> resource_claims;                // spec.resourceClaims
  std::vector<PodResourceClaimStatus> resource_claim_statuses;  // status.resourceClaimStatuses
  std::vector<std::string> scheduling_gates;                    // spec.schedulingGates[].name
  // Name of the SubGroup of its gang this pod belongs to (empty: none). Read from the label
  // `fairway.dev/subgroup` (KAI: `kai.scheduler/subgroup-name`); for a gang inferred from a JobSet,
  // owner inference sets it to the replicated job's name.
  std::string subgroup;
  OwnerRef owner;  // the controller owner, if any (owner inference, docs/gangs.md)
  // The upstream gang API: spec.schedulingGroup.podGroupName (scheduling.k8s.io/v1alpha2
  // PodGroup), or 1.35's spec.workloadRef {name, podGroup, podGroupReplicaKey}.
  std::string scheduling_group;
  std::string workload_ref;
  std::string workload_pod_group;
  std::string workload_replica_key;
  // Parts of the pod the decoder could not read (e.g. a resource quantity that overflows), one
  // message each naming the field. A pod with problems is never scheduled; it says why.
  std::vector<std::string> problems;

  std::string key() const { return namespace_ + "/" + name; }
  // Pods in a terminal phase hold no resources.
  bool terminated() const { return phase == PodPhase::kSucceeded || phase == PodPhase::kFailed; }
};

struct TopologyConstraint {
  std::string topology;         // name of a Topology CR
  std::string required_level;   // node label key of the level all pods must share
  std::string preferred_level;  // node label key to try hardest to share
};

// The pod labels naming a pod's SubGroup (Pod::subgroup): fairway's, then KAI Scheduler's.
inline constexpr std::string_view kLabelSubgroup = "fairway.dev/subgroup";
inline constexpr std::string_view kKaiLabelSubgroup = "kai.scheduler/subgroup-name";

// A part of a gang with its own minimum and topology constraint, e.g. one replicated job of a
// JobSet that must sit in one rack while the whole gang sits in one spine. The gang still binds
// all-or-nothing: every subgroup's minimum and the gang's minimum must hold together.
struct SubGroup {
  std::string name;
  int32_t min_member = 1;
  TopologyConstraint topology_constraint;
};

struct PodGroup {
  std::string namespace_;
  std::string name;
  int32_t min_member = 1;
  std::vector<SubGroup> subgroups;  // empty: the gang is one group
  std::string queue;
  std::string priority_class_name;
  std::optional<int64_t> schedule_timeout_seconds;
  TopologyConstraint topology_constraint;
  TimeMs creation_ms = 0;
  // Parts of the spec the decoder could not read, naming the field; its gang is not scheduled.
  std::vector<std::string> problems;

  std::string key() const { return namespace_ + "/" + name; }
};

// One part of a workload that counts towards its gang: a Kubeflow replica spec (Master,
// Worker), a JobSet replicated job, a Ray head or worker group.
struct WorkloadPart {
  std::string name;
  int32_t replicas = 1;      // replicas of the part (JobSet: child Jobs)
  int32_t pods_each = 1;     // pods per replica (JobSet: the child Job's parallelism)
  int32_t min_replicas = 0;  // Ray worker groups: minReplicas (elastic above it)
  bool operator==(const WorkloadPart&) const = default;
};

// A workload object that owns pods directly or through others (Job, ReplicaSet, PyTorchJob,
// JobSet, LeaderWorkerSet, RayCluster, ...), reduced to what decides its pods' gang. The edge
// decodes every kind into this one shape; which fields matter depends on `kind`
// (scheduler/state/gangs.h).
struct Workload {
  std::string api_version;  // "group/version"
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;
  Labels labels;
  Labels annotations;                    // only the gang keys (fairway.dev/gang) are kept
  OwnerRef owner;                        // controller owner
  std::optional<int32_t> replicas;       // spec.replicas (Deployment, ReplicaSet, StatefulSet, LWS)
  std::optional<int32_t> parallelism;    // Job spec.parallelism (default 1)
  std::optional<int32_t> completions;    // Job spec.completions
  bool indexed = false;                  // Job spec.completionMode: Indexed
  std::optional<int32_t> min_available;  // Kubeflow runPolicy.schedulingPolicy.minAvailable
  std::optional<int32_t> group_size;     // LWS spec.leaderWorkerTemplate.size (default 1)
  std::vector<WorkloadPart> parts;
  std::vector<std::string> problems;  // fields the decoder could not read

  std::string key() const { return namespace_ + "/" + name; }
  bool operator==(const Workload&) const = default;
};

// A Kubernetes 1.35 `scheduling.k8s.io/v1alpha1` Workload: the pod groups pods name through
// spec.workloadRef {name, podGroup}. Each pod group becomes one upstream PodGroup keyed
// "<namespace>/<workload>#<podGroup>" whose min_member is its policy's gang.minCount (1 for the
// basic policy: pods on their own); scheduler/state/gangs.h forms one gang per replica key.
struct UpstreamWorkload {
  std::string namespace_;
  std::string name;
  std::vector<PodGroup> pod_groups;

  std::string key() const { return namespace_ + "/" + name; }
};

// A Namespace: only its labels matter (Queue.spec.namespaceSelector).
struct Namespace {
  std::string name;
  Labels labels;
};

struct PriorityClass {
  std::string name;
  int32_t value = 0;
  bool global_default = false;
  std::string preemption_policy;  // PreemptLowerPriority | Never
};

// --- Storage (VolumeBinding, VolumeZone, VolumeRestrictions, NodeVolumeLimits) -------------

enum class AccessMode : uint8_t {
  kReadWriteOnce = 1,
  kReadOnlyMany = 2,
  kReadWriteMany = 4,
  kReadWriteOncePod = 8,
};
using AccessModes = uint8_t;  // bit set of AccessMode

struct PersistentVolume {
  std::string name;
  Labels labels;  // topology.kubernetes.io/zone and region (VolumeZone)
  std::string storage_class;
  int64_t capacity_bytes = 0;
  AccessModes access_modes = 0;
  std::vector<NodeSelectorTerm> node_affinity;  // spec.nodeAffinity.required; empty: anywhere
  std::string claim_namespace;                  // spec.claimRef; empty: available
  std::string claim_name;
  std::string claim_uid;
  std::string csi_driver;  // spec.csi.driver; empty: not CSI
  std::string phase;       // Available | Bound | Released | Failed | Pending
  bool deleting = false;
};

struct PersistentVolumeClaim {
  std::string namespace_;
  std::string name;
  std::string uid;
  Labels annotations;                        // volume.kubernetes.io/selected-node
  std::optional<std::string> storage_class;  // spec.storageClassName; nullopt: the default class
  std::string volume_name;                   // spec.volumeName: bound (or pre-bound) volume
  AccessModes access_modes = 0;
  int64_t request_bytes = 0;
  std::optional<LabelSelector> selector;
  std::string phase;  // Pending | Bound | Lost
  bool deleting = false;
  // The controller owner (generic ephemeral volumes are owned by their pod): kind/name/uid.
  std::string owner_kind;
  std::string owner_uid;

  std::string key() const { return namespace_ + "/" + name; }
};

struct StorageClass {
  std::string name;
  std::string provisioner;
  bool wait_for_first_consumer = false;  // volumeBindingMode
  bool is_default = false;               // storageclass.kubernetes.io/is-default-class: "true"
  std::vector<NodeSelectorTerm> allowed_topologies;  // empty: anywhere
};

// storage.k8s.io/v1 CSINode: how many volumes of each CSI driver the node may attach.
struct CsiNode {
  std::string name;
  std::map<std::string, int64_t, std::less<>> attach_limits;  // driver → allocatable.count
};

}  // namespace fairway
