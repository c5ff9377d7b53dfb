#include "scheduler/state/cluster_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "scheduler/state/pod_queue.h"
#include "scheduler/state/pod_requests.h"

namespace fairway {
namespace {

std::string job_key_of(const Pod& pod, const GangRef& gang) {
  return pod.namespace_ + "/" + (gang.name.empty() ? pod.name : gang.name);
}

// The key of the group object a gang's explicit sources name ("ns/name", "ns/workload#group"
// for 1.35's workloadRef); empty: none.
std::string group_object_key(const std::string& ns, const GangRef& gang) {
  if (gang.object.empty()) return {};
  return ns + "/" + gang.object + (gang.object_part.empty() ? "" : "#") + gang.object_part;
}

// Why a gang whose group object is missing waits, naming the object of its first source.
std::string missing_group_reason(const JobRecord& job) {
  const GangSource wanted = job.sources.empty() ? GangSource::kFairway : job.sources.front();
  if (wanted == GangSource::kFairway || wanted == GangSource::kKai) {
    return fmt::format("waiting for PodGroup {} to exist (or annotation {} on its pods)", job.key,
                       kAnnotationMinMember);
  }
  if (!job.group_object_part.empty()) {
    return fmt::format(
        "waiting for Workload {} (scheduling.k8s.io/v1alpha1) with pod group {} to exist",
        job.group_object.substr(0, job.group_object.find('#')), job.group_object_part);
  }
  return fmt::format("waiting for PodGroup {} ({}) to exist", job.group_object,
                     gang_source_object(wanted));
}

}  // namespace

ResourceVector queue_charge(const ResourceVector& requests) {
  ResourceVector charge = requests;
  charge.set(kPods, 0);
  return charge;
}

void ClusterState::charge_claims(PodId id) {
  PodRecord& record = pods_[id];
  if (record.pod.resource_claims.empty()) {
    record.claimed_gpu_milli = 0;
    return;
  }
  claim_pods_.insert(id);
  record.claimed_gpu_milli =
      record.ours ? dra_.devices_of_classes(record.pod, config_.gpu_device_classes) * 1000 : 0;
}

namespace {

// Whether the pod's spec.resourceClaims name the claim (directly or through its status) or,
// with `is_template`, the template.
bool names_claim(const Pod& pod, std::string_view name, bool is_template) {
  for (const PodResourceClaim& entry : pod.resource_claims) {
    if ((is_template ? entry.template_name : entry.claim_name) == name) return true;
  }
  if (is_template) return false;
  for (const PodResourceClaimStatus& status : pod.resource_claim_statuses) {
    if (status.claim_name == name) return true;
  }
  return false;
}

}  // namespace

void ClusterState::recharge_claim_pods(std::string_view key, bool is_template) {
  const auto [ns, name] = split_key(std::string(key));
  for (auto it = claim_pods_.begin(); it != claim_pods_.end();) {
    const PodId id = *it;
    PodRecord& record = pods_[id];
    if (!record.present || record.pod.resource_claims.empty()) {
      it = claim_pods_.erase(it);
      continue;
    }
    ++it;
    if (!record.counted_bound && !record.counted_pending) continue;
    if (record.pod.namespace_ != ns || !names_claim(record.pod, name, is_template)) continue;
    const int64_t milli =
        record.ours ? dra_.devices_of_classes(record.pod, config_.gpu_device_classes) * 1000 : 0;
    if (milli == record.claimed_gpu_milli) continue;
    account(id, -1);
    account(id, +1);  // charge_claims sets the new amount
  }
}

void ClusterState::upsert_resource_claim(dra::ResourceClaim claim) {
  const std::string key = claim.namespace_ + "/" + claim.name;
  dra_.upsert_claim(std::move(claim));
  recharge_claim_pods(key, false);
}

void ClusterState::remove_resource_claim(std::string_view key) {
  dra_.remove_claim(key);
  recharge_claim_pods(key, false);
}

void ClusterState::upsert_resource_claim_template(dra::ResourceClaimTemplate claim_template) {
  const std::string key = claim_template.namespace_ + "/" + claim_template.name;
  dra_.upsert_template(std::move(claim_template));
  recharge_claim_pods(key, true);
}

void ClusterState::remove_resource_claim_template(std::string_view key) {
  dra_.remove_template(key);
  recharge_claim_pods(key, true);
}

void ClusterState::forget_resource_claims() {
  for (const std::string& key : dra_.clear_claims()) recharge_claim_pods(key, false);
}

void ClusterState::forget_resource_claim_templates() {
  for (const std::string& key : dra_.clear_templates()) recharge_claim_pods(key, true);
}

ClusterState::ClusterState(StateConfig config)
    : config_(std::move(config)), usage_history_(config_.usage.half_life_ms) {}

void ClusterState::reserve(size_t nodes, size_t pods) {
  nodes_.reserve(nodes);
  node_ids_.reserve(nodes);
  pods_.reserve(pods);
  pod_ids_.reserve(pods);
  jobs_.reserve(pods);
  job_ids_.reserve(pods);
}

// ----------------------------------------------------------------------------------- nodes

NodeId ClusterState::node_slot(std::string_view name) {
  if (auto it = node_ids_.find(name); it != node_ids_.end()) return it->second;
  const auto id = static_cast<NodeId>(nodes_.size());
  nodes_.emplace_back();
  nodes_.back().node.name = std::string(name);
  node_ids_.emplace(std::string(name), id);
  return id;
}

// Only schedulable nodes count: a cordoned (spec.unschedulable) or not-ready node takes no new
// pods, so fair shares must not divide it. upsert_node takes the old record off and adds the
// new one, so cordoning and uncordoning move the capacity.
void ClusterState::add_capacity(const NodeRecord& record, int sign) {
  if (!record.schedulable()) return;
  if (sign > 0)
    capacity_ += record.allocatable;
  else
    capacity_ -= record.allocatable;
}

namespace {

std::string_view value_of(const Labels& map, std::string_view key) {
  const auto it = map.find(key);
  return it == map.end() ? std::string_view() : std::string_view(it->second);
}

// Whether what the GPU link graph is read from differs between two versions of a node.
bool gpu_layout_changed(const Node& before, const Node& after) {
  auto gpus = [](const Node& n) {
    const auto it = n.allocatable.find(kGpuResourceName);
    return it == n.allocatable.end() ? int64_t{0} : it->second;
  };
  return value_of(before.annotations, kGpuTopologyAnnotation) !=
             value_of(after.annotations, kGpuTopologyAnnotation) ||
         value_of(before.labels, kGfdProductLabel) != value_of(after.labels, kGfdProductLabel) ||
         value_of(before.labels, kGfdCountLabel) != value_of(after.labels, kGfdCountLabel) ||
         gpus(before) != gpus(after);
}

}  // namespace

void ClusterState::upsert_node(Node node) {
  NodeRecord& record = nodes_[node_slot(node.name)];
  add_capacity(record, -1);
  // Fabric trees depend on the node set and labels only; status updates do not rebuild them.
  if (!record.present || record.node.labels != node.labels) ++node_generation_;
  if (!record.present || gpu_layout_changed(record.node, node)) {
    const auto gpus = node.allocatable.find(kGpuResourceName);
    GpuGraphCache::NodeGraph read = gpu_graphs_.read(
        node.labels, node.annotations, gpus == node.allocatable.end() ? 0 : gpus->second / 1000);
    record.gpu_source = read.source;
    record.gpu_graph = std::move(read.graph);
  }
  if (!record.present || gpu_layout_changed(record.node, node) ||
      value_of(record.node.labels, kGpuMemoryLabel) != value_of(node.labels, kGpuMemoryLabel)) {
    record.gpu_memory_mib = node_gpu_memory_mib(node.labels, node.annotations);
    max_gpu_memory_mib_ = std::max(max_gpu_memory_mib_, record.gpu_memory_mib);
  }
  record.allocatable = to_vector(node.allocatable, registry_);
  record.node = std::move(node);
  record.present = true;
  add_capacity(record, +1);
}

void ClusterState::remove_node(std::string_view name) {
  auto it = node_ids_.find(name);
  if (it == node_ids_.end()) return;
  NodeRecord& record = nodes_[it->second];
  add_capacity(record, -1);
  // The slot stays: pods bound to the node keep pointing at it until they are deleted too.
  record.present = false;
  record.allocatable = {};
  record.gpu_graph = nullptr;
  record.gpu_source = GpuTopologySource::kUnknown;
  ++node_generation_;
}

const NodeRecord* ClusterState::find_node(std::string_view name) const {
  auto it = node_ids_.find(name);
  return it == node_ids_.end() ? nullptr : &nodes_[it->second];
}

// ------------------------------------------------------------------------------------ pods

void ClusterState::upsert_pod(Pod pod) {
  const std::string key = pod.key();
  bool keep_assumed = false;
  std::vector<std::string> assumed_groups;
  // A bound sharer's GPUs never change while it runs (fairway wrote them once, before the bind):
  // a later edit of its keys is ignored, webhook or not.
  std::vector<std::string> bound_groups;
  auto known = pod_ids_.find(key);
  if (known != pod_ids_.end()) {
    PodRecord& old = pods_[known->second];
    if (old.pod.uid != pod.uid && !pod.uid.empty()) {
      remove_pod(key);  // same name, new object
      known = pod_ids_.end();
    } else if (old.assumed && pod.node_name.empty() && !pod.terminated() && !pod.deleting) {
      // A stale update racing our binding: keep the assumed node until the API says otherwise.
      pod.node_name = nodes_[old.node].node.name;
      keep_assumed = true;
      assumed_groups = old.gpu_groups;
    } else if (old.node != kNoNode && !old.assumed && nodes_[old.node].node.name == pod.node_name) {
      bound_groups = old.gpu_groups;
    }
  }

  PodId id = 0;
  if (known != pod_ids_.end()) {
    id = known->second;
    account(id, -1);
    detach_from_job(id);
  } else {
    if (!free_pod_slots_.empty()) {
      id = free_pod_slots_.back();
      free_pod_slots_.pop_back();
    } else {
      id = static_cast<PodId>(pods_.size());
      pods_.emplace_back();
    }
    pod_ids_.emplace(key, id);
  }

  PodRecord& record = pods_[id];
  record.present = true;
  record.ours = pod.scheduler_name == config_.scheduler_name;
  record.priority_from_class = pod.priority == 0 && !pod.priority_class_name.empty();
  if (record.priority_from_class) {
    if (auto it = priority_classes_.find(pod.priority_class_name); it != priority_classes_.end()) {
      pod.priority = it->second;
    }
  }
  record.intent = read_pod_intent(pod, config_.intent);
  GangRef gang = resolve_gang(pod, workloads_, config_.intent);
  // Most updates leave the owners as they were: re-index only when they changed.
  const bool owners_changed = gang.workloads != record.gang.workloads;
  if (owners_changed) index_gang(id, -1);
  record.gang = std::move(gang);
  if (!record.gang.conflict.empty()) record.intent.errors.push_back(record.gang.conflict);
  if (pod.subgroup.empty()) pod.subgroup = record.gang.subgroup;
  if (owners_changed) index_gang(id, +1);
  record.requests = to_vector(pod_requests(pod), registry_);
  record.requests.set(kPods, 1000);  // every pod takes one of the node's "pods"
  record.node = pod.node_name.empty() ? kNoNode : node_slot(pod.node_name);
  // Any update that names the node itself confirms our binding.
  record.assumed = keep_assumed;
  record.reservation =
      pod.namespace_ == config_.reservation_namespace && pod.labels.contains(kGpuGroupLabel);
  if (!bound_groups.empty()) {
    record.gpu_groups = std::move(bound_groups);
  } else {
    const int32_t devices =
        record.intent.gpu_fraction ? record.intent.gpu_fraction->num_devices : 1;
    record.gpu_groups = sharer_gpu_groups(pod, devices);
  }
  if (record.gpu_groups.empty() && keep_assumed) record.gpu_groups = std::move(assumed_groups);
  // The requests are computed; the containers are not needed again, and dropping them keeps
  // the per-pod footprint small on large clusters.
  pod.containers.clear();
  pod.containers.shrink_to_fit();
  pod.init_containers.clear();
  pod.init_containers.shrink_to_fit();
  record.pod = std::move(pod);
  attach_to_job(id);
  account(id, +1);
}

void ClusterState::remove_pod(std::string_view key) {
  auto it = pod_ids_.find(key);
  if (it == pod_ids_.end()) return;
  const PodId id = it->second;
  account(id, -1);
  detach_from_job(id);
  index_gang(id, -1);
  pods_[id] = PodRecord{};
  pod_ids_.erase(it);
  free_pod_slots_.push_back(id);
}

const PodRecord* ClusterState::find_pod(std::string_view key) const {
  auto it = pod_ids_.find(key);
  return it == pod_ids_.end() ? nullptr : &pods_[it->second];
}

std::optional<PodId> ClusterState::pod_id(std::string_view key) const {
  auto it = pod_ids_.find(key);
  if (it == pod_ids_.end()) return std::nullopt;
  return it->second;
}

// Adds (sign=+1) or removes (sign=-1) a pod's contribution to node usage, queue totals and its
// job's bound/pending sets. Always called in +1/-1 pairs around a change of the record.
void ClusterState::account(PodId id, int sign) {
  PodRecord& record = pods_[id];
  const Pod& pod = record.pod;
  if (sign < 0) {
    if (record.counted_bound) {
      NodeRecord& node = nodes_[record.node];
      node.used -= record.requests;
      node.used.add(kGpu, record.shared_gpu_milli);  // the node never paid for the share
      --node.pods;
      placed_.remove(id, pod, record.node);
      share_account(id, -1);
      storage_.remove_pod(pod, id, node.node.name);
      if (record.ours) {
        queue_usage_[jobs_[record.job].queue].allocated -= queue_requests(record);
        --jobs_[record.job].bound;
      }
      record.counted_bound = false;
    }
    if (record.counted_pending) {
      JobRecord& job = jobs_[record.job];
      if (pod.scheduling_gates.empty()) queue_usage_[job.queue].pending -= queue_requests(record);
      job.pending.erase(id);
      record.counted_pending = false;
      refresh_job(record.job);
    }
    return;
  }
  if (pod.terminated()) return;  // finished pods hold nothing
  charge_share(record);
  charge_claims(id);
  if (record.node != kNoNode) {
    NodeRecord& node = nodes_[record.node];
    node.used += record.requests;
    node.used.add(kGpu, -record.shared_gpu_milli);
    ++node.pods;
    placed_.add(id, pod, record.node);
    share_account(id, +1);
    storage_.add_pod(pod, id, node.node.name);
    if (record.ours) {
      queue_usage_[jobs_[record.job].queue].allocated += queue_requests(record);
      ++jobs_[record.job].bound;
    }
    record.counted_bound = true;
  } else if (record.ours && !pod.deleting) {
    JobRecord& job = jobs_[record.job];
    // A gated pod is not schedulable yet: it waits in its job but asks its queue for nothing.
    if (pod.scheduling_gates.empty()) queue_usage_[job.queue].pending += queue_requests(record);
    job.pending.insert(id);
    record.counted_pending = true;
    refresh_job(record.job);
  }
}

// -------------------------------------------------------------------------------------- jobs

JobId ClusterState::job_slot(const std::string& key) {
  const auto [slot, fresh] = job_ids_.try_emplace(key, 0);
  if (!fresh) return slot->second;
  JobId id = 0;
  if (!free_job_slots_.empty()) {
    id = free_job_slots_.back();
    free_job_slots_.pop_back();
  } else {
    id = static_cast<JobId>(jobs_.size());
    jobs_.emplace_back();
  }
  jobs_[id] = JobRecord{};
  jobs_[id].key = key;
  jobs_[id].present = true;
  slot->second = id;
  return id;
}

void ClusterState::attach_to_job(PodId id) {
  PodRecord& record = pods_[id];
  if (!record.ours) return;
  const JobId job_id = job_slot(job_key_of(record.pod, record.gang));
  record.job = job_id;
  JobRecord& job = jobs_[job_id];
  job.all.push_back(id);
  if (job.all.size() == 1) {
    const GangRef& gang = record.gang;
    job.namespace_ = record.pod.namespace_;
    job.group = gang.name;
    job.sources = gang.sources;
    job.group_object = group_object_key(record.pod.namespace_, gang);
    job.group_object_part = gang.object_part;
    job.inferred_from = gang.inferred() ? gang.inferred_from : std::string();
    job.owner = gang.top;
  }
  refresh_job(job_id);
}

void ClusterState::detach_from_job(PodId id) {
  PodRecord& record = pods_[id];
  if (!record.ours || record.job == std::numeric_limits<JobId>::max()) return;
  const JobId job_id = record.job;
  JobRecord& job = jobs_[job_id];
  std::erase(job.all, id);
  record.job = std::numeric_limits<JobId>::max();
  if (job.all.empty()) {
    if (auto it = pending_jobs_.find(job.queue); it != pending_jobs_.end()) {
      it->second.erase(job_id);
      if (it->second.empty()) pending_jobs_.erase(it);
    }
    job_ids_.erase(job.key);
    inferred_groups_.erase(job.key);
    job = JobRecord{};
    free_job_slots_.push_back(job_id);
  } else {
    refresh_job(job_id);
  }
}

// Recomputes a job's queue, gang size and creation time from its PodGroup (if any) and pods,
// and keeps the pending-jobs index in step. Moving a job between queues moves its totals too.
void ClusterState::refresh_job(JobId id) {
  JobRecord& job = jobs_[id];
  if (job.all.empty()) return;
  const PodRecord& first = pods_[job.all.front()];
  // The group object of the first source (in precedence order) that has one; an inferred
  // gang's group is derived from its workload.
  const PodGroup* group = nullptr;
  GangSource used = GangSource::kFairway;
  if (job.inferred()) {
    PodGroup& derived = inferred_groups_[job.key];
    derived.namespace_ = job.namespace_;
    derived.name = job.group;
    derived.min_member = first.gang.min_member;
    derived.subgroups = first.gang.subgroups;
    derived.topology_constraint = first.gang.topology;
    derived.queue.clear();  // the queue is chosen below, like any pod's
    group = &derived;
    used = GangSource::kOwner;
  } else if ((group = job_group(job)) != nullptr) {
    used = GangSource::kFairway;  // any explicit source: its object's creation time counts
  }

  std::string queue =
      choose_queue(first.intent, first.gang, namespace_labels(job.namespace_), group).queue;
  std::optional<int32_t> annotated;  // fairway.dev/min-member, of the first pod that has one
  for (PodId pod : job.all) {
    if ((annotated = pods_[pod].intent.min_member)) break;
  }
  int32_t min_member = annotated.value_or(1);
  // A gang named by its pods whose PodGroup has not arrived yet, and whose size no annotation
  // gives: starting pods one by one would break all-or-nothing, so it waits for the PodGroup.
  // Likewise a pod whose owner is not known yet.
  job.awaiting_group = !job.group.empty() && group == nullptr && !annotated;
  job.awaiting_reason = job.awaiting_group ? missing_group_reason(job) : std::string();
  for (PodId pod : job.all) {
    if (!pods_[pod].gang.waiting.empty()) {
      job.awaiting_group = true;
      job.awaiting_reason = pods_[pod].gang.waiting;
      break;
    }
  }
  TimeMs creation = first.pod.creation_ms;
  for (PodId pod : job.all) creation = std::min(creation, pods_[pod].pod.creation_ms);
  if (group != nullptr) {
    min_member = group->min_member;
    if (used != GangSource::kOwner) creation = group->creation_ms;
  }
  job.min_member = std::max(min_member, 1);
  job.topology = first.intent.topology;
  if (group != nullptr) {
    const TopologyConstraint& wanted = group->topology_constraint;
    if (!wanted.topology.empty() || !wanted.required_level.empty() ||
        !wanted.preferred_level.empty()) {
      job.topology = wanted;
    }
  }
  if (group != nullptr) {
    job.subgroups = group->subgroups;
  } else {
    job.subgroups.clear();
  }
  job.creation_ms = creation;
  job.priority.reset();
  if (group != nullptr && !group->priority_class_name.empty()) {
    if (auto it = priority_classes_.find(group->priority_class_name);
        it != priority_classes_.end()) {
      job.priority = it->second;
    }
  }

  if (queue != job.queue) {
    // Move the totals already charged under the old queue name.
    QueueUsage moved;
    for (PodId pod : job.all) {
      const PodRecord& record = pods_[pod];
      if (record.counted_bound) moved.allocated += record.requests;
      if (record.counted_pending && record.pod.scheduling_gates.empty()) {
        moved.pending += record.requests;
      }
    }
    if (auto it = pending_jobs_.find(job.queue); it != pending_jobs_.end()) {
      it->second.erase(id);
      if (it->second.empty()) pending_jobs_.erase(it);
    }
    if (!job.queue.empty() || !moved.allocated.is_zero() || !moved.pending.is_zero()) {
      QueueUsage& from = queue_usage_[job.queue];
      from.allocated -= moved.allocated;
      from.pending -= moved.pending;
    }
    QueueUsage& to = queue_usage_[queue];
    to.allocated += moved.allocated;
    to.pending += moved.pending;
    job.queue = std::move(queue);
  }
  if (job.pending.empty()) {
    if (auto it = pending_jobs_.find(job.queue); it != pending_jobs_.end()) {
      it->second.erase(id);
      if (it->second.empty()) pending_jobs_.erase(it);
    }
  } else {
    pending_jobs_[job.queue].insert(id);
  }
}

void ClusterState::refresh_group_jobs() {
  for (JobId id = 0; id < jobs_.size(); ++id) {
    if (jobs_[id].present && !jobs_[id].group.empty()) refresh_job(id);
  }
}

// ---------------------------------------------------------------------------- queues, groups

void ClusterState::upsert_queue(QueueSpec queue) {
  std::string name = queue.name;
  if (queue.past_usage) {  // once per queue: later echoes of fairway's own writes are ignored
    std::vector<double> shares;
    for (const auto& [resource, share] : queue.past_usage->shares) {
      const ResourceId id = registry_.intern(resource);
      if (shares.size() <= id) shares.resize(id + 1, 0.0);
      shares[id] = share;
    }
    usage_history_.restore(name, shares, queue.past_usage->at_ms);
  }
  queue_specs_.insert_or_assign(std::move(name), std::move(queue));
  queues_dirty_ = true;
}

void ClusterState::remove_queue(std::string_view name) {
  if (queue_specs_.erase(std::string(name)) > 0) queues_dirty_ = true;
}

void ClusterState::upsert_namespace(Namespace ns) {
  const std::string name = ns.name;
  auto it = namespaces_.find(name);
  const bool changed = it == namespaces_.end() || it->second != ns.labels;
  namespaces_.insert_or_assign(std::move(ns.name), std::move(ns.labels));
  // The namespace's label fairway.dev/queue is its pods' default queue. Namespaces change
  // rarely: a walk over the jobs is cheap enough.
  if (!changed) return;
  for (JobId id = 0; id < jobs_.size(); ++id) {
    if (jobs_[id].present && jobs_[id].namespace_ == name) refresh_job(id);
  }
}

void ClusterState::remove_namespace(std::string_view name) {
  if (namespaces_.erase(std::string(name)) == 0) return;
  for (JobId id = 0; id < jobs_.size(); ++id) {
    if (jobs_[id].present && jobs_[id].namespace_ == name) refresh_job(id);
  }
}

void ClusterState::upsert_priority_class(PriorityClass priority_class) {
  const auto it =
      priority_classes_.insert_or_assign(priority_class.name, priority_class.value).first;
  // Classes are few and change rarely: a walk over the pods and gangs is cheap enough.
  for (PodRecord& record : pods_) {
    if (record.present && record.priority_from_class &&
        record.pod.priority_class_name == it->first) {
      record.pod.priority = it->second;
    }
  }
  refresh_group_jobs();
}

void ClusterState::remove_priority_class(std::string_view name) {
  // Pods keep the priority they were given, as admitted pods do when their class goes away;
  // PodGroups naming it fall back to their pods' priority.
  if (priority_classes_.erase(std::string(name)) > 0) refresh_group_jobs();
}

int32_t ClusterState::priority_of(const PodRecord& pod) const {
  if (pod.ours && pod.job < jobs_.size() && jobs_[pod.job].priority)
    return *jobs_[pod.job].priority;
  return pod.pod.priority;
}

const Labels* ClusterState::namespace_labels(std::string_view name) const {
  auto it = namespaces_.find(std::string(name));
  return it == namespaces_.end() ? nullptr : &it->second;
}

ResourceVector ClusterState::queue_capacity() const {
  ResourceVector out = capacity_;
  if (!dra_.empty()) {
    out.add(kGpu, dra_.published_devices_of_classes(config_.gpu_device_classes) * 1000);
  }
  return out;
}

ResourceVector ClusterState::fair_share_capacity() {
  const QueueTree& tree = queue_tree();
  ResourceVector divisible = queue_capacity();
  for (const auto& [name, usage] : queue_usage_) {
    const auto index = tree.find(name);
    if (index && tree.node(*index).is_leaf()) continue;
    divisible -= usage.allocated;  // the orphan bucket: charged, outside every queue's share
  }
  for (size_t i = 0; i < divisible.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (divisible[r] < 0) divisible.set(r, 0);
  }
  return divisible;
}

FairShares ClusterState::fair_shares() {
  const QueueTree& tree = queue_tree();
  std::vector<QueueUsage> usage(tree.size());
  for (const auto& [name, totals] : queue_usage_) {
    const auto index = tree.find(name);
    if (!index || !tree.node(*index).is_leaf()) continue;
    usage[*index].allocated = queue_charge(totals.allocated);
    usage[*index].pending = queue_charge(totals.pending);
  }
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    if (tree.node(q).is_leaf()) usage[q].history = usage_history_.shares(tree.node(q).name);
  }
  // Pods of deleted (or invalid) queues stay charged: what they hold is not divided.
  return compute_fair_shares(tree, queue_charge(fair_share_capacity()), usage, registry_.size(),
                             config_.usage.strength);
}

void ClusterState::advance_usage(WallMs now) {
  usage_history_.advance(now, queue_usage_, queue_charge(queue_capacity()));
}

const QueueTree& ClusterState::queue_tree() {
  if (queues_dirty_) {
    std::vector<QueueSpec> specs;
    specs.reserve(queue_specs_.size());
    for (const auto& [name, spec] : queue_specs_) specs.push_back(spec);
    std::sort(specs.begin(), specs.end(),
              [](const QueueSpec& a, const QueueSpec& b) { return a.name < b.name; });
    queue_tree_ = QueueTree::build(specs, registry_);
    queues_dirty_ = false;
  }
  return queue_tree_;
}

void ClusterState::upsert_pod_group(PodGroup group) {
  std::string key = group.key();
  pod_groups_.insert_or_assign(key, std::move(group));
  if (auto it = job_ids_.find(key); it != job_ids_.end()) refresh_job(it->second);
}

void ClusterState::remove_pod_group(std::string_view key) {
  if (pod_groups_.erase(std::string(key)) == 0) return;
  if (auto it = job_ids_.find(key); it != job_ids_.end()) refresh_job(it->second);
}

const PodGroup* ClusterState::find_pod_group(std::string_view key) const {
  if (auto it = inferred_groups_.find(std::string(key)); it != inferred_groups_.end()) {
    return &it->second;
  }
  return pod_group_object(key);
}

const PodGroup* ClusterState::pod_group_object(std::string_view key) const {
  auto it = pod_groups_.find(std::string(key));
  return it == pod_groups_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------- gang sources (gangs.h)

const PodGroup* ClusterState::job_group(const JobRecord& job) const {
  if (job.group.empty()) return nullptr;
  if (job.inferred()) return find_pod_group(job.key);
  for (GangSource source : job.sources) {
    if (const PodGroup* group = group_object(source, job.group_object)) return group;
  }
  return nullptr;
}

PodQueue ClusterState::queue_of(const Pod& pod) const {
  const PodIntent intent = read_pod_intent(pod, config_.intent);
  const GangRef gang = resolve_gang(pod, workloads_, config_.intent);
  // The group object refresh_job would read: the first explicit source's that exists (an
  // inferred gang's derived group names no queue).
  const PodGroup* group = nullptr;
  if (!gang.name.empty() && !gang.inferred()) {
    const std::string key = group_object_key(pod.namespace_, gang);
    for (GangSource source : gang.sources) {
      if ((group = group_object(source, key)) != nullptr) break;
    }
  }
  const QueueChoice choice = choose_queue(intent, gang, namespace_labels(pod.namespace_), group);
  return {choice.queue, describe_queue_choice(choice, pod, gang, group, config_.intent)};
}

const PodGroup* ClusterState::group_object(GangSource source, const std::string& key) const {
  if (source == GangSource::kFairway || source == GangSource::kOwner) return pod_group_object(key);
  const auto& peers = peer_groups_[static_cast<size_t>(source)];
  if (auto it = peers.find(key); it != peers.end()) return &it->second;
  // KAI's pod-group-name has always named fairway's own PodGroups too.
  if (source == GangSource::kKai) return pod_group_object(key);
  return nullptr;
}

void ClusterState::upsert_peer_group(GangSource source, PodGroup group) {
  std::string key = group.key();
  peer_groups_[static_cast<size_t>(source)].insert_or_assign(key, std::move(group));
  // The gang's job has the group's key, except 1.35 Workload pod groups ("w#group"), whose
  // gangs may have replica keys: those are few, walk the namespace's gangs.
  if (auto it = job_ids_.find(key); it != job_ids_.end()) {
    refresh_job(it->second);
  } else if (key.find('#') != std::string::npos) {
    for (JobId id = 0; id < jobs_.size(); ++id) {
      if (jobs_[id].present && jobs_[id].group_object == key) refresh_job(id);
    }
  }
}

void ClusterState::remove_peer_group(GangSource source, std::string_view key) {
  if (peer_groups_[static_cast<size_t>(source)].erase(std::string(key)) == 0) return;
  for (JobId id = 0; id < jobs_.size(); ++id) {
    if (jobs_[id].present && jobs_[id].group_object == key) refresh_job(id);
  }
}

void ClusterState::forget_peer_groups(GangSource source) {
  // 1.35 Workloads' groups ("w#group": '#' is in no object name) share kUpstream's map but come
  // from another watch (forget_upstream_workloads).
  const size_t erased = std::erase_if(peer_groups_[static_cast<size_t>(source)], [](const auto& g) {
    return g.first.find('#') == std::string::npos;
  });
  if (erased == 0) return;
  for (JobId id = 0; id < jobs_.size(); ++id) {
    if (jobs_[id].present && !jobs_[id].group_object.empty()) refresh_job(id);
  }
}

void ClusterState::upsert_upstream_workload(UpstreamWorkload workload) {
  std::vector<std::string> keys;
  for (const PodGroup& group : workload.pod_groups) keys.push_back(group.key());
  auto& known = upstream_workload_groups_[workload.key()];
  for (const std::string& old : known) {
    if (std::find(keys.begin(), keys.end(), old) == keys.end()) {
      remove_peer_group(GangSource::kUpstream, old);
    }
  }
  known = keys;
  for (PodGroup& group : workload.pod_groups) {
    upsert_peer_group(GangSource::kUpstream, std::move(group));
  }
}

void ClusterState::remove_upstream_workload(std::string_view key) {
  auto it = upstream_workload_groups_.find(std::string(key));
  if (it == upstream_workload_groups_.end()) return;
  const std::vector<std::string> keys = std::move(it->second);
  upstream_workload_groups_.erase(it);
  for (const std::string& group : keys) remove_peer_group(GangSource::kUpstream, group);
}

void ClusterState::forget_upstream_workloads() {
  std::vector<std::string> keys;
  for (const auto& [key, groups] : upstream_workload_groups_) keys.push_back(key);
  for (const std::string& key : keys) remove_upstream_workload(key);
}

void ClusterState::set_workload_kind_watched(std::string_view group, std::string_view kind,
                                             bool watched) {
  if (!workloads_.set_watched(group, kind, watched)) return;
  for (PodId id = 0; id < pods_.size(); ++id) {
    if (pods_[id].present && !pods_[id].pod.owner.kind.empty()) regroup_pod(id);
  }
}

void ClusterState::upsert_workload(Workload workload) {
  std::vector<std::string> keys = {
      workload.uid, fmt::format("{}/{}/{}", workload.kind, workload.namespace_, workload.name)};
  if (!workloads_.upsert(std::move(workload))) return;  // status-only update: nothing to regroup
  regroup_pods_of(keys);
}

void ClusterState::remove_workload(std::string_view uid) {
  const Workload* gone = workloads_.find_uid(uid);
  if (gone == nullptr) return;
  std::vector<std::string> keys = {
      std::string(uid), fmt::format("{}/{}/{}", gone->kind, gone->namespace_, gone->name)};
  workloads_.remove(uid);
  regroup_pods_of(keys);
}

// Pods index the workloads they read by uid (the direct owner and every owner above it), so a
// workload that changes regroups exactly the pods below it.
void ClusterState::regroup_pods_of(const std::vector<std::string>& workload_keys) {
  std::vector<PodId> affected;
  for (const std::string& key : workload_keys) {
    if (auto it = pods_by_workload_.find(key); it != pods_by_workload_.end()) {
      affected.insert(affected.end(), it->second.begin(), it->second.end());
    }
  }
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  for (PodId id : affected) regroup_pod(id);
}

void ClusterState::regroup_pod(PodId id) {
  PodRecord& record = pods_[id];
  if (!record.present) return;
  account(id, -1);
  detach_from_job(id);
  index_gang(id, -1);
  if (!record.gang.conflict.empty()) std::erase(record.intent.errors, record.gang.conflict);
  if (record.pod.subgroup == record.gang.subgroup) record.pod.subgroup.clear();
  record.gang = resolve_gang(record.pod, workloads_, config_.intent);
  if (!record.gang.conflict.empty()) record.intent.errors.push_back(record.gang.conflict);
  if (record.pod.subgroup.empty()) record.pod.subgroup = record.gang.subgroup;
  index_gang(id, +1);
  attach_to_job(id);
  account(id, +1);
}

void ClusterState::index_gang(PodId id, int sign) {
  for (const std::string& key : pods_[id].gang.workloads) {
    if (sign > 0) {
      pods_by_workload_[key].insert(id);
    } else if (auto it = pods_by_workload_.find(key); it != pods_by_workload_.end()) {
      it->second.erase(id);
      if (it->second.empty()) pods_by_workload_.erase(it);
    }
  }
}

// ------------------------------------------------------------------------------ topologies

void ClusterState::upsert_topology(TopologySpec topology) {
  std::string name = topology.name;
  fabrics_.erase(name);
  topologies_.insert_or_assign(std::move(name), std::move(topology));
}

void ClusterState::remove_topology(std::string_view name) {
  if (auto it = topologies_.find(name); it != topologies_.end()) topologies_.erase(it);
  if (auto it = fabrics_.find(name); it != fabrics_.end()) fabrics_.erase(it);
}

const TopologySpec* ClusterState::topology_for(const TopologyConstraint& constraint) const {
  if (!constraint.topology.empty()) {
    const auto it = topologies_.find(constraint.topology);
    return it == topologies_.end() ? nullptr : &it->second;
  }
  return topologies_.size() == 1 ? &topologies_.begin()->second : nullptr;
}

const FabricTree* ClusterState::fabric(std::string_view topology) {
  const auto spec = topologies_.find(topology);
  if (spec == topologies_.end()) return nullptr;
  auto cached = fabrics_.find(topology);
  if (cached == fabrics_.end()) cached = fabrics_.emplace(spec->first, CachedFabric{}).first;
  if (cached->second.generation != node_generation_) {
    std::vector<const LabelMap*> labels(nodes_.size(), nullptr);
    for (NodeId id = 0; id < nodes_.size(); ++id) {
      if (nodes_[id].present) labels[id] = &nodes_[id].node.labels;
    }
    cached->second.tree = FabricTree::build(spec->second, labels);
    cached->second.generation = node_generation_;
  }
  return &cached->second.tree;
}

// ------------------------------------------------------------------------------ placements

bool ClusterState::assume(std::string_view pod_key, std::string_view node_name,
                          std::vector<std::string> gpu_groups) {
  auto it = pod_ids_.find(pod_key);
  if (it == pod_ids_.end()) return false;
  const PodId id = it->second;
  PodRecord& record = pods_[id];
  if (record.node != kNoNode || !record.present) return false;
  account(id, -1);
  record.node = node_slot(node_name);
  record.assumed = true;
  record.pod.node_name = std::string(node_name);
  if (!gpu_groups.empty()) record.gpu_groups = std::move(gpu_groups);
  account(id, +1);
  return true;
}

void ClusterState::forget(std::string_view pod_key) {
  auto it = pod_ids_.find(pod_key);
  if (it == pod_ids_.end()) return;
  const PodId id = it->second;
  PodRecord& record = pods_[id];
  if (!record.assumed) return;
  account(id, -1);
  record.node = kNoNode;
  record.assumed = false;
  record.pod.node_name.clear();
  record.gpu_groups = pod_gpu_groups(record.pod);
  account(id, +1);
}

// ------------------------------------------------------------------------------- storage

void ClusterState::upsert_persistent_volume(PersistentVolume volume) {
  storage_.upsert_volume(std::move(volume));
}

void ClusterState::remove_persistent_volume(std::string_view name) {
  storage_.remove_volume(name);
}

void ClusterState::upsert_persistent_volume_claim(PersistentVolumeClaim claim) {
  storage_.upsert_claim(std::move(claim));
}

void ClusterState::remove_persistent_volume_claim(std::string_view key) {
  storage_.remove_claim(key);
}

void ClusterState::upsert_storage_class(StorageClass storage_class) {
  storage_.upsert_class(std::move(storage_class));
}

void ClusterState::remove_storage_class(std::string_view name) {
  storage_.remove_class(name);
}

void ClusterState::upsert_csi_node(CsiNode node) {
  storage_.upsert_csi_node(std::move(node));
}

void ClusterState::remove_csi_node(std::string_view name) {
  storage_.remove_csi_node(name);
}

}  // namespace fairway
