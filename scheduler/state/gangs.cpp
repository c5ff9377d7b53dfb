#include "scheduler/state/gangs.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace fairway {
namespace {

constexpr std::string_view kKubeflow = "kubeflow.org";
constexpr std::string_view kJobSetGroup = "jobset.x-k8s.io";
constexpr std::string_view kRayGroup = "ray.io";
constexpr std::string_view kLwsGroup = "leaderworkerset.x-k8s.io";
constexpr size_t kMaxOwnerDepth = 8;  // a chain longer than this is a loop or nonsense

int32_t clamp_count(int64_t value) {
  return static_cast<int32_t>(std::clamp<int64_t>(value, 1, std::numeric_limits<int32_t>::max()));
}

bool is_kubeflow_job(const Workload& w) {
  static const std::vector<std::string_view> kinds = {"PyTorchJob", "MPIJob",    "TFJob",
                                                      "XGBoostJob", "PaddleJob", "JAXJob"};
  return api_group_of(w.api_version) == kKubeflow &&
         std::find(kinds.begin(), kinds.end(), w.kind) != kinds.end();
}
bool is_jobset(const Workload& w) {
  return api_group_of(w.api_version) == kJobSetGroup && w.kind == "JobSet";
}
bool is_ray_cluster(const Workload& w) {
  return api_group_of(w.api_version) == kRayGroup && w.kind == "RayCluster";
}
bool is_gang_job(const Workload& w) {
  if (api_group_of(w.api_version) != "batch" || w.kind != "Job" || !w.indexed) return false;
  const auto it = w.annotations.find(kGangAnnotation);
  return it != w.annotations.end() && it->second == "true";
}
// Whether the workload's kind makes its pods one gang (not merely one group of independents).
bool defines_gang(const Workload& w) {
  return is_kubeflow_job(w) || is_jobset(w) || is_ray_cluster(w) || is_gang_job(w);
}

std::string queue_label(const Labels& labels, const PodIntentConfig& config) {
  for (const std::string& key : config.queue_label_keys) {
    if (auto it = labels.find(key); it != labels.end() && !it->second.empty()) return it->second;
  }
  return "";
}

std::string annotation(const Workload& w, std::string_view key) {
  const auto it = w.annotations.find(key);
  return it == w.annotations.end() ? std::string() : it->second;
}

// The gang's size and parts for a workload that defines one, with the topology its annotations
// ask of the gang and of each part.
void size_gang(const Workload& w, GangRef& gang) {
  gang.topology = {.topology = annotation(w, kAnnotationTopology),
                   .required_level = annotation(w, kAnnotationRequiredLevel),
                   .preferred_level = annotation(w, kAnnotationPreferredLevel)};
  const TopologyConstraint part_topology = {
      .topology = gang.topology.topology,
      .required_level = annotation(w, kSubgroupRequiredLevel),
      .preferred_level = annotation(w, kSubgroupPreferredLevel)};
  int64_t total = 0;
  if (is_kubeflow_job(w)) {
    for (const WorkloadPart& part : w.parts) total += int64_t{part.replicas} * part.pods_each;
    gang.min_member = clamp_count(w.min_available ? *w.min_available : total);
  } else if (is_jobset(w)) {
    for (const WorkloadPart& part : w.parts) {
      const int64_t pods = int64_t{part.replicas} * part.pods_each;
      total += pods;
      gang.subgroups.push_back(SubGroup{.name = part.name,
                                        .min_member = clamp_count(pods),
                                        .topology_constraint = part_topology});
    }
    gang.min_member = clamp_count(total);
  } else if (is_ray_cluster(w)) {
    for (const WorkloadPart& part : w.parts) total += part.min_replicas;
    gang.min_member = clamp_count(total);
  } else if (is_gang_job(w)) {
    int64_t pods = w.parallelism.value_or(1);
    if (w.completions) pods = std::min<int64_t>(pods, *w.completions);
    gang.min_member = clamp_count(pods);
  }
}

// Explicit sources: every place the pod names a gang, in precedence order. Built for every pod
// update, so nothing is formatted until a conflict needs the words.
struct Named {
  GangSource source;
  std::string_view where;  // "annotation", "label" or a field path
  std::string_view key;    // empty for a field
  std::string name;
  std::string object;
  std::string object_part;
  std::string describe() const {
    return key.empty() ? std::string(where) : fmt::format("{} {}", where, key);
  }
};

std::vector<Named> explicit_sources(const Pod& pod) {
  std::vector<Named> out;
  auto add = [&out](GangSource source, std::string_view where, std::string_view key,
                    const Labels& map) {
    if (auto it = map.find(key); it != map.end() && !it->second.empty()) {
      out.push_back({source, where, key, it->second, it->second, ""});
    }
  };
  add(GangSource::kFairway, "annotation", kAnnotationPodGroup, pod.annotations);
  if (!pod.scheduling_group.empty()) {
    out.push_back({GangSource::kUpstream, "spec.schedulingGroup.podGroupName", "",
                   pod.scheduling_group, pod.scheduling_group, ""});
  }
  if (!pod.workload_ref.empty()) {
    // 1.35: pods naming the same Workload, pod group and replica key are one gang; its size is
    // that pod group's in the Workload object.
    std::string name = pod.workload_ref + "-" + pod.workload_pod_group;
    if (!pod.workload_replica_key.empty()) name += "-" + pod.workload_replica_key;
    out.push_back({GangSource::kUpstream, "spec.workloadRef", "", std::move(name), pod.workload_ref,
                   pod.workload_pod_group});
  }
  const size_t before_kai = out.size();
  add(GangSource::kKai, "annotation", kKaiPodGroup, pod.annotations);
  if (out.size() == before_kai) add(GangSource::kKai, "label", kKaiPodGroup, pod.labels);
  add(GangSource::kVolcano, "annotation", kVolcanoGroupAnnotation, pod.annotations);
  add(GangSource::kSchedulerPlugins, "label", kSchedulerPluginsGroupLabel, pod.labels);
  return out;
}

void resolve_explicit(const std::vector<Named>& named, GangRef& gang) {
  const Named& first = named.front();
  for (const Named& other : named) {
    if (other.name != first.name) {
      gang.conflict = fmt::format(
          "the pod names two different gangs: {}=\"{}\" and {}=\"{}\"; name one gang (or the "
          "same one in both places)",
          first.describe(), first.name, other.describe(), other.name);
      return;
    }
  }
  gang.name = first.name;
  gang.object = first.object;
  gang.object_part = first.object_part;
  for (const Named& n : named) {
    if (std::find(gang.sources.begin(), gang.sources.end(), n.source) == gang.sources.end()) {
      gang.sources.push_back(n.source);
    }
  }
}

std::string describe(const Workload& w) {
  return fmt::format("{} {}", w.kind, w.key());
}

OwnerRef ref_of(const Workload& w) {
  return {w.api_version, w.kind, w.name, w.uid};
}

// LeaderWorkerSet: its pods hang under StatefulSets and leader pods, so the set and the group
// are read from the labels its controller puts on every pod. nullopt: not an LWS pod.
std::optional<GangRef> resolve_lws(const Pod& pod, const WorkloadIndex& index) {
  const auto name = pod.labels.find(kLwsNameLabel);
  const auto group = pod.labels.find(kLwsGroupIndexLabel);
  if (name == pod.labels.end() || group == pod.labels.end()) return std::nullopt;
  if (!index.watched(kLwsGroup, "LeaderWorkerSet")) return std::nullopt;
  GangRef gang;
  gang.workloads.push_back("LeaderWorkerSet/" + pod.namespace_ + "/" + name->second);
  const Workload* lws = index.find("LeaderWorkerSet", pod.namespace_, name->second);
  if (lws == nullptr) {
    gang.waiting =
        fmt::format("waiting for LeaderWorkerSet {}/{} to be seen", pod.namespace_, name->second);
    return gang;
  }
  gang.name = inferred_gang_name("LeaderWorkerSet", lws->name) + "-" + group->second;
  gang.sources = {GangSource::kOwner};
  gang.min_member = clamp_count(lws->group_size.value_or(1));
  gang.inferred_from = fmt::format("{} group {}", describe(*lws), group->second);
  gang.top = ref_of(*lws);
  return gang;
}

}  // namespace

std::string_view gang_source_object(GangSource source) {
  switch (source) {
    case GangSource::kFairway:
      return "scheduling.fairway.dev/v1alpha1";
    case GangSource::kUpstream:
      return "scheduling.k8s.io/v1alpha2";
    case GangSource::kKai:
      return "scheduling.run.ai/v2alpha2";
    case GangSource::kVolcano:
      return "scheduling.volcano.sh/v1beta1";
    case GangSource::kSchedulerPlugins:
      return "scheduling.x-k8s.io/v1alpha1";
    case GangSource::kOwner:
      return "workload";
  }
  return "";
}

const std::vector<WorkloadKind>& known_workload_kinds() {
  static const std::vector<WorkloadKind> kinds = {
      {"batch", "v1", "Job", "jobs"},
      {"batch", "v1", "CronJob", "cronjobs"},
      {"apps", "v1", "ReplicaSet", "replicasets"},
      {"apps", "v1", "Deployment", "deployments"},
      {"apps", "v1", "StatefulSet", "statefulsets"},
      {kKubeflow, "v1", "PyTorchJob", "pytorchjobs"},
      {kKubeflow, "v1", "MPIJob", "mpijobs"},
      {kKubeflow, "v1", "TFJob", "tfjobs"},
      {kKubeflow, "v1", "XGBoostJob", "xgboostjobs"},
      {kKubeflow, "v1", "PaddleJob", "paddlejobs"},
      {kKubeflow, "v1", "JAXJob", "jaxjobs"},
      {"trainer.kubeflow.org", "v1alpha1", "TrainJob", "trainjobs"},
      {kJobSetGroup, "v1alpha2", "JobSet", "jobsets"},
      {kLwsGroup, "v1", "LeaderWorkerSet", "leaderworkersets"},
      {kRayGroup, "v1", "RayCluster", "rayclusters"},
      {kRayGroup, "v1", "RayJob", "rayjobs"},
  };
  return kinds;
}

std::string inferred_gang_name(std::string_view kind, std::string_view name) {
  std::string out;
  out.reserve(kind.size() + 1 + name.size());
  for (char c : kind) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  out.push_back('-');
  out.append(name);
  return out;
}

// ----------------------------------------------------------------------------- WorkloadIndex

std::string WorkloadIndex::name_key(std::string_view kind, std::string_view ns,
                                    std::string_view name) {
  return fmt::format("{}/{}/{}", kind, ns, name);
}

bool WorkloadIndex::set_watched(std::string_view group, std::string_view kind, bool watched) {
  const auto it = std::find_if(watched_.begin(), watched_.end(), [&](const auto& entry) {
    return entry.first == group && entry.second == kind;
  });
  if (watched) {
    if (it != watched_.end()) return false;
    watched_.emplace_back(group, kind);
    return true;
  }
  if (it == watched_.end()) return false;
  watched_.erase(it);
  std::vector<std::string> gone;
  for (const auto& [uid, w] : by_uid_) {
    if (w.kind == kind && api_group_of(w.api_version) == group) gone.push_back(uid);
  }
  for (const std::string& uid : gone) remove(uid);
  return true;
}

bool WorkloadIndex::watched(std::string_view group, std::string_view kind) const {
  return std::any_of(watched_.begin(), watched_.end(), [&](const auto& entry) {
    return entry.first == group && entry.second == kind;
  });
}

bool WorkloadIndex::upsert(Workload workload) {
  auto it = by_uid_.find(workload.uid);
  if (it != by_uid_.end()) {
    if (it->second == workload) return false;
    remove(workload.uid);
  }
  const std::string uid = workload.uid;
  uid_by_name_[name_key(workload.kind, workload.namespace_, workload.name)] = uid;
  if (!workload.owner.uid.empty()) children_[workload.owner.uid].insert(uid);
  by_uid_.emplace(uid, std::move(workload));
  return true;
}

bool WorkloadIndex::remove(std::string_view uid) {
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) return false;
  const Workload& w = it->second;
  const std::string key = name_key(w.kind, w.namespace_, w.name);
  if (auto named = uid_by_name_.find(key); named != uid_by_name_.end() && named->second == uid) {
    uid_by_name_.erase(named);
  }
  if (auto kids = children_.find(w.owner.uid); kids != children_.end()) {
    kids->second.erase(w.uid);
    if (kids->second.empty()) children_.erase(kids);
  }
  by_uid_.erase(it);
  return true;
}

const Workload* WorkloadIndex::find_uid(std::string_view uid) const {
  auto it = by_uid_.find(uid);
  return it == by_uid_.end() ? nullptr : &it->second;
}

const Workload* WorkloadIndex::find(std::string_view kind, std::string_view ns,
                                    std::string_view name) const {
  auto it = uid_by_name_.find(name_key(kind, ns, name));
  return it == uid_by_name_.end() ? nullptr : find_uid(it->second);
}

const std::unordered_set<std::string>* WorkloadIndex::children(std::string_view uid) const {
  auto it = children_.find(uid);
  return it == children_.end() ? nullptr : &it->second;
}

// ------------------------------------------------------------------------------- resolution

GangRef resolve_gang(const Pod& pod, const WorkloadIndex& index, const PodIntentConfig& config) {
  GangRef gang;
  if (auto named = explicit_sources(pod); !named.empty()) {
    resolve_explicit(named, gang);
    return gang;
  }
  if (auto lws = resolve_lws(pod, index)) return *lws;

  // Follow controller owners up while fairway watches their kind.
  std::array<const Workload*, kMaxOwnerDepth> chain{};  // nearest owner first
  size_t depth = 0;
  const OwnerRef* next = &pod.owner;
  while (!next->kind.empty() && depth < kMaxOwnerDepth &&
         index.watched(api_group_of(next->api_version), next->kind)) {
    const Workload* owner = index.find_uid(next->uid);
    // An owner is the object the reference names, in the pod's namespace (as the garbage
    // collector reads it): a uid of another namespace's workload makes nobody an owner.
    if (owner != nullptr && (owner->namespace_ != pod.namespace_ || owner->kind != next->kind ||
                             owner->name != next->name)) {
      break;
    }
    gang.workloads.push_back(next->uid);
    if (owner == nullptr) {
      // Operators create the owner before its pods, but watches of different kinds race:
      // starting a PyTorchJob's pods one by one before the job is seen would break its gang.
      gang.waiting = fmt::format("waiting for {} {}/{} (its owner) to be seen", next->kind,
                                 pod.namespace_, next->name);
      return gang;
    }
    chain[depth++] = owner;
    next = &owner->owner;
  }
  if (depth == 0) return gang;  // no owner fairway reads: a job of one

  const Workload* top = chain[depth - 1];
  const Workload* defining = top;  // the outermost workload that makes a gang, else the top
  for (size_t i = depth; i-- > 0;) {
    if (defines_gang(*chain[i])) {
      defining = chain[i];
      break;
    }
  }
  gang.name = inferred_gang_name(defining->kind, defining->name);
  gang.sources = {GangSource::kOwner};
  gang.inferred_from = describe(*defining);
  if (defining != top) gang.inferred_from += fmt::format(" (of {})", describe(*top));
  gang.top = ref_of(*top);
  size_gang(*defining, gang);
  for (size_t i = depth; i-- > 0 && gang.queue.empty();) {
    gang.queue = queue_label(chain[i]->labels, config);
    if (!gang.queue.empty()) gang.queue_from = describe(*chain[i]);
  }
  if (is_jobset(*defining)) {
    if (auto it = pod.labels.find(kJobSetReplicatedJobLabel); it != pod.labels.end()) {
      gang.subgroup = it->second;
    }
  }
  return gang;
}

}  // namespace fairway
