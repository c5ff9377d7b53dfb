#pragma once
// Which gang a pod belongs to. Users bring gangs from many places: fairway's own PodGroup, the
// upstream gang API (scheduling.k8s.io), KAI's, Volcano's and scheduler-plugins' PodGroups, or
// nothing at all but the operator that created the pods (a PyTorchJob, a JobSet, ...). All of
// them become one internal gang; the precedence between sources and the per-kind rules of
// owner inference are written down in docs/gangs.md. Pure: reads the pod and a WorkloadIndex
// that the edge keeps in step with the API server.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "scheduler/state/model.h"
#include "scheduler/state/pod_intent.h"

namespace fairway {

// Where a gang comes from, in order of precedence (earlier wins).
enum class GangSource : uint8_t {
  kFairway,           // annotation fairway.dev/pod-group → scheduling.fairway.dev PodGroup
  kUpstream,          // spec.schedulingGroup / spec.workloadRef → scheduling.k8s.io
  kKai,               // annotation or label pod-group-name → scheduling.run.ai/v2alpha2 PodGroup
  kVolcano,           // annotation scheduling.k8s.io/group-name → scheduling.volcano.sh PodGroup
  kSchedulerPlugins,  // label scheduling.x-k8s.io/pod-group → scheduling.x-k8s.io PodGroup
  kOwner,             // inferred from the pod's controller owners
};
inline constexpr size_t kGangSourceCount = 6;
// The apiVersion of each source's PodGroup, for messages: "scheduling.run.ai/v2alpha2".
std::string_view gang_source_object(GangSource source);

inline constexpr std::string_view kVolcanoGroupAnnotation = "scheduling.k8s.io/group-name";
inline constexpr std::string_view kSchedulerPluginsGroupLabel = "scheduling.x-k8s.io/pod-group";
// An indexed Job annotated so is a gang of its parallelism.
inline constexpr std::string_view kGangAnnotation = "fairway.dev/gang";
// On the top workload of an inferred gang: the gang's topology constraint (the keys a pod may
// carry: fairway.dev/topology, fairway.dev/topology-required-level, -preferred-level), and the
// one every subgroup (a JobSet's replicated job) must meet on its own.
inline constexpr std::string_view kSubgroupRequiredLevel =
    "fairway.dev/subgroup-topology-required-level";
inline constexpr std::string_view kSubgroupPreferredLevel =
    "fairway.dev/subgroup-topology-preferred-level";
// A Namespace label naming the default queue of its pods.
inline constexpr std::string_view kNamespaceQueueLabel = "fairway.dev/queue";
inline constexpr std::string_view kJobSetReplicatedJobLabel =
    "jobset.sigs.k8s.io/replicatedjob-name";
inline constexpr std::string_view kLwsNameLabel = "leaderworkerset.sigs.k8s.io/name";
inline constexpr std::string_view kLwsGroupIndexLabel = "leaderworkerset.sigs.k8s.io/group-index";
// On the PodGroups fairway writes for inferred gangs: where the gang came from.
inline constexpr std::string_view kInferredFromAnnotation = "fairway.dev/inferred-from";

// A workload kind owner inference reads: its API group, kind, plural resource and the version
// fairway lists it at.
struct WorkloadKind {
  std::string_view group;
  std::string_view version;
  std::string_view kind;
  std::string_view resource;
};
// Every kind owner inference knows; the edge watches those discovery says are served.
const std::vector<WorkloadKind>& known_workload_kinds();

// The workloads the edge watches, by uid and by kind/namespace/name. Kinds not marked watched
// (not served, or unknown to fairway) end owner inference: their pods are grouped by what lies
// below them, or stand alone.
class WorkloadIndex {
 public:
  // Whether the kind is watched; false when that changed nothing. A kind no longer watched
  // (its CRD was removed) loses its workloads.
  bool set_watched(std::string_view group, std::string_view kind, bool watched = true);
  bool watched(std::string_view group, std::string_view kind) const;
  // Stores the workload; false when it is unchanged (nothing to regroup).
  bool upsert(Workload workload);
  // Removes it; false when it was not known.
  bool remove(std::string_view uid);
  const Workload* find_uid(std::string_view uid) const;
  const Workload* find(std::string_view kind, std::string_view ns, std::string_view name) const;
  // The uids of workloads whose controller owner has this uid.
  const std::unordered_set<std::string>* children(std::string_view uid) const;
  size_t size() const { return by_uid_.size(); }

 private:
  // Every pod event looks workloads up (resolve_gang): by string_view, without building keys.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  template <typename Value>
  using Map = std::unordered_map<std::string, Value, KeyHash, std::equal_to<>>;

  static std::string name_key(std::string_view kind, std::string_view ns, std::string_view name);
  std::vector<std::pair<std::string, std::string>> watched_;  // (group, kind): a dozen at most
  Map<Workload> by_uid_;
  Map<std::string> uid_by_name_;  // kind/ns/name → uid
  Map<std::unordered_set<std::string>> children_;
};

// What a pod's gang is, as far as the pod and the workloads say.
struct GangRef {
  // The gang's name in the pod's namespace; empty: the pod is a job of one.
  std::string name;
  // The sources naming it, in precedence order (several explicit sources may name the same
  // gang; the first whose object exists gives its size). {kOwner} when inferred.
  std::vector<GangSource> sources;
  // The group object to read for explicit sources: its name, and for 1.35's workloadRef the pod
  // group within the Workload object.
  std::string object;
  std::string object_part;
  // Owner inference only: the gang's size, parts, queue label and the workload it comes from.
  int32_t min_member = 1;
  std::vector<SubGroup> subgroups;
  TopologyConstraint topology;  // from the defining workload's annotations
  std::string queue;            // the top workload's queue label; empty: none
  std::string queue_from;       // the workload whose label that is: "Job blue/train"
  std::string inferred_from;    // "PyTorchJob team-a/llama-ft"
  OwnerRef top;                 // owner of the PodGroup fairway writes for the gang
  std::string subgroup;         // the pod's part of the gang (JobSet: its replicated job)
  // The pod cannot be placed yet: a workload it belongs to is not known yet.
  std::string waiting;
  // The pod names different gangs in different places (an error shown to the user).
  std::string conflict;
  // uids of the workloads read; LWS name key read; regroup the pod when they change.
  std::vector<std::string> workloads;

  bool inferred() const { return !sources.empty() && sources.front() == GangSource::kOwner; }
};

GangRef resolve_gang(const Pod& pod, const WorkloadIndex& index, const PodIntentConfig& config);

// The name fairway gives a gang inferred from a workload: "<kind>-<name>" in lower case.
std::string inferred_gang_name(std::string_view kind, std::string_view name);

}  // namespace fairway
