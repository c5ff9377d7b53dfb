#include "scheduler/cycle/cycle.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "queues/drf_order.h"
#include "queues/quantity.h"
#include "scheduler/cycle/node_ledger.h"
#include "scheduler/cycle/pod_constraints.h"
#include "scheduler/cycle/reasons.h"
#include "scheduler/cycle/shared_gpu_ledger.h"
#include "scheduler/state/gpu_sharing.h"
#include "scheduler/state/job_gate.h"
#include "scheduler/state/node_filters.h"
#include "scheduler/state/pod_intent.h"
#include "scheduler/state/subgroups.h"
#include "topology/fabric_tree.h"

namespace fairway {

static_assert(reasons::kPending.size() == static_cast<size_t>(PendingReason::kSchedulingGated) + 1,
              "one name per PendingReason");

const char* reason_name(PendingReason reason) {
  const auto index = static_cast<size_t>(reason);
  // Every entry of reasons::kPending is a string literal: data() is NUL-terminated.
  return index < reasons::kPending.size() ? reasons::kPending[index].data() : "Unknown";
}

namespace {

PendingReason pending_reason(JobRefusalKind kind) {
  switch (kind) {
    case JobRefusalKind::kQueueInvalid:
      return PendingReason::kQueueInvalid;
    case JobRefusalKind::kInvalidPod:
      return PendingReason::kInvalidPod;
    case JobRefusalKind::kQueueNotAllowed:
      return PendingReason::kQueueNotAllowed;
  }
  return PendingReason::kInvalidPod;
}

// Relative slack when comparing allocations against fair shares, which are doubles.
constexpr double kShareSlack = 1e-9;

// Hash of everything that decides where a pod can go, so that within a cycle (where free
// capacity only shrinks) a pod shaped like one that already found no node is not searched again.
uint64_t placement_signature(const PodRecord& record) {
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](uint64_t value) { hash = (hash ^ value) * 1099511628211ULL; };
  auto mix_text = [&mix](const std::string& text) { mix(std::hash<std::string>{}(text)); };
  for (size_t i = 0; i < record.requests.size(); ++i) {
    mix(static_cast<uint64_t>(record.requests[static_cast<ResourceId>(i)]));
  }
  const Pod& pod = record.pod;
  for (const auto& [key, value] : pod.node_selector) {
    mix_text(key);
    mix_text(value);
  }
  for (const auto& term : pod.required_node_affinity) {
    mix(0xA5);
    for (const auto* list : {&term.match_expressions, &term.match_fields}) {
      mix(0x5A);
      for (const auto& requirement : *list) {
        mix_text(requirement.key);
        mix(static_cast<uint64_t>(requirement.op));
        for (const auto& value : requirement.values) mix_text(value);
      }
    }
  }
  for (const auto& toleration : pod.tolerations) {
    mix_text(toleration.key);
    mix_text(toleration.value);
    mix(static_cast<uint64_t>(toleration.op));
    mix(toleration.effect ? static_cast<uint64_t>(*toleration.effect) + 1 : 0);
  }
  for (const HostPort& port : pod.host_ports) {
    mix(static_cast<uint64_t>(port.port));
    mix_text(port.protocol);
    mix_text(port.host_ip);
  }
  return hash;
}

enum class QueueCheck { kOk, kOverFairShare, kOverLimit };

enum class Attempt { kPlaced, kDeferred, kFailed };

// Fabric domains tried per level for one gang before relaxing (each failed trial is rolled back).
constexpr int kMaxDomainTrials = 8;
// Domains with at most this many nodes are scanned node by node; bigger ones are searched
// through the ledger's free-GPU buckets, filtered by membership.
constexpr uint32_t kDirectScanNodes = 64;
constexpr std::string_view kHostnameLevel = "kubernetes.io/hostname";

int64_t whole_gpus(const ResourceVector& amount) {
  return std::max<int64_t>(amount[kGpu], 0) / 1000;
}

// What a pod costs its node: a fractional pod's GPU share is paid by its shared GPU's group.
ResourceVector node_charge(const PodRecord& record) {
  ResourceVector charge = record.requests;
  if (record.shared_gpu_milli != 0) charge.add(kGpu, -record.shared_gpu_milli);
  return charge;  // one named return (NRVO): no small_vector move for GCC to misread
}

bool is_sharer(const PodRecord& record) {
  return record.intent.gpu_fraction.has_value();
}

// A gang of subgroups: puts the parts' minimums first (they are placed as a whole), then the
// other pending pods in their order; returns the size of that minimum.
size_t minimum_first(const std::vector<GangPart>& parts, std::vector<PodId>& pending) {
  std::vector<PodId> ordered;
  for (const GangPart& part : parts) {
    ordered.insert(ordered.end(), part.core.begin(), part.core.end());
  }
  const size_t minimum = ordered.size();
  const std::unordered_set<PodId> core(ordered.begin(), ordered.end());
  for (PodId pod : pending) {
    if (!core.contains(pod)) ordered.push_back(pod);
  }
  pending = std::move(ordered);
  return minimum;
}

class CycleRunner {
 public:
  // `external`: a planner's scratch ledger to place on (place_on_ledger); null: the cycle's own.
  CycleRunner(ClusterState& state, const CycleOptions& options, NodeLedger* external = nullptr)
      : state_(state),
        options_(options),
        tree_(state.queue_tree()),
        ledger_(external != nullptr ? *external : own_ledger_.emplace(state)),
        shared_(state) {
    bool known = false;
    bool unknown = false;
    for (const NodeRecord& record : state.nodes()) {
      if (!record.schedulable() || record.allocatable[kGpu] < 2000) continue;
      if (record.gpu_graph == nullptr) {
        unknown = true;
      } else {
        known = true;
        if (!record.gpu_graph->one_island()) islands_matter_ = true;
      }
    }
    if (known && unknown) islands_matter_ = true;
  }

  CycleResult run();
  std::optional<std::vector<Binding>> place_only(JobId id, const std::vector<PodId>& pods,
                                                 std::string* why);

 private:
  struct Placed {
    PodId pod;
    NodeId node;
    uint64_t gpus = 0;  // GPU indices chosen on the node's link graph
    // Fractional pods: the shared GPUs joined, and the units taken on each.
    std::vector<SharedGpuLedger::SlotId> shared;
    int64_t share_units = 0;
    std::vector<VolumeBinding> volumes;        // claims bound with the pod
    std::vector<dra::ClaimAllocation> claims;  // ResourceClaims allocated or reserved for it
  };
  // Where a pod may go: one domain of a fabric tree; no tree means every node.
  struct Scope {
    const FabricTree* tree = nullptr;
    int level = -1;
    DomainId domain = kNoDomain;
  };
  // The Topology that applies to one job, and its constraint as level indices.
  struct GangTopology {
    const TopologySpec* spec = nullptr;
    const FabricTree* tree = nullptr;
    FabricCapacity* capacity = nullptr;
    std::optional<size_t> required;
    std::optional<size_t> preferred;
    bool constrained() const { return required || preferred; }
  };

  void compute_shares();
  // Nominations (scheduler/planner): the capacity held for each job is taken off the ledger at
  // the start, given back just before that job is tried, and taken again if it did not place.
  void hold_nominations();
  bool release_nominated(JobId job);
  void hold_nominated(JobId job);
  void adjust_free(NodeId node, const ResourceVector& amount, bool take);
  std::optional<QueueIndex> resolve_queue(const JobRecord& job, std::string* why) const;
  std::vector<JobId> ordered_jobs(const std::unordered_set<JobId>& jobs) const;
  Attempt try_job(JobId id, QueueIndex leaf, bool within_fair_share);
  // Non-empty when the gang's minimum asks more of some resource than every schedulable node
  // together has: "gang needs 24 nvidia.com/gpu, the cluster has 16".
  std::string beyond_cluster(const JobRecord& job, const std::vector<PodId>& pending) const;
  QueueCheck check_queue(QueueIndex leaf, const ResourceVector& charge, std::string* why) const;
  std::optional<NodeId> choose_node(const PodRecord& pod, const Scope& scope) {
    return choose_node(pod, scope, pod.requests);
  }
  std::optional<NodeId> choose_node(const PodRecord& pod, const Scope& scope,
                                    const ResourceVector& requests);
  std::optional<double> fit_score(const PodRecord& pod, const ResourceVector& requests,
                                  NodeId node);
  std::string diagnose(const PodRecord& pod, const Scope& scope);
  // The key under which a pod's failure is cached for the cycle; 0: not cached. Only failures
  // that no inter-pod or volume check took part in are cached (last_diagnosis_constrained_):
  // those hold for every pod of the same shape, whatever its labels and constraints, since
  // capacity only shrinks during a cycle and constraints only remove nodes.
  uint64_t failure_shape(const PodRecord& record) const;
  // The inter-pod and volume checks of a pod against what is placed now (pod_constraints.h),
  // made again only when a placement changed since; null when nothing can constrain the pod
  // (it carries no such terms and no placed pod has affinity terms), the common case.
  PodConstraints* constraints_for(PodId pod);
  PodId id_of(const PodRecord& record) const {
    return static_cast<PodId>(&record - state_.pods().data());
  }
  // Fractional pods (gpu_sharing.h): a place on shared GPUs, and why there is none.
  std::optional<Placed> choose_shared(PodId id, const Scope& scope);
  std::string diagnose_shared(const PodRecord& pod, const Scope& scope);
  // The walk both share: every node of the scope counts once, as the filter that rejects it or,
  // when it passes the filters, as what `shortfalls(id, record, reasons)` adds.
  template <typename Shortfalls>
  std::string count_reasons(const PodRecord& pod, const Scope& scope, Shortfalls&& shortfalls);

  // Ledger changes go through these, so fabric capacities and GPU sets follow.
  void take(Placed& placed);
  void give(const Placed& placed);
  void roll_back(std::vector<Placed>& placed, size_t keep);
  uint64_t& free_gpu_mask(NodeId node);
  int island_class(NodeId node, int64_t gpus);

  bool resolve_topology(const JobRecord& job, GangTopology* topo, std::string* error);
  bool resolve_topology(const TopologyConstraint& wanted, GangTopology* topo, std::string* error);
  FabricCapacity* capacity_for(const std::string& name, const FabricTree& tree);
  int64_t gpu_demand(const std::vector<PodId>& pods) const;
  bool place_gang(const GangTopology& topo, const std::vector<PodId>& gang,
                  std::vector<Placed>& placed, std::string* why);
  // `who` names the gang in the failure: "gang", or `subgroup "x"` for a part of one.
  bool place_within(const GangTopology& topo, int level, DomainId domain, int prefer,
                    const std::vector<PodId>& gang, std::vector<Placed>& placed, std::string* why,
                    std::string_view who = "gang");
  std::vector<DomainId> fitting_domains(const GangTopology& topo, int level, DomainId domain,
                                        int target, int64_t demand) const;
  std::vector<PodId> fill(const GangTopology& topo, int level, DomainId domain,
                          std::vector<PodId> pods, std::vector<Placed>& placed);
  // `who`: "gang" or `subgroup "x"`; (level, domain): where it was looked for (-1: anywhere).
  std::string required_failure(const GangTopology& topo, int64_t demand, size_t pods,
                               const std::vector<DomainId>& tried, const std::string& trial_failure,
                               std::string_view who = "gang", int level = -1,
                               DomainId domain = kNoDomain) const;

  // Gangs with subgroups (scheduler/state/subgroups.h): each part's minimum is placed with its
  // own constraint, inside the gang's domain, all parts or none.
  struct PartPlan {
    const GangPart* part = nullptr;
    GangTopology topo;  // the part's own constraint, on the gang's fabric tree
    int64_t demand = 0;
    std::optional<NodeId> anchor;  // a bound pod of the subgroup: its required domain is fixed
  };
  bool resolve_parts(const JobRecord& job, GangTopology& gang, const std::vector<GangPart>& parts,
                     const std::vector<PodId>& moving, std::vector<PartPlan>* plans,
                     std::string* error);
  std::optional<NodeId> anchor_of(const JobRecord& job, const SubGroup* subgroup,
                                  const std::vector<PodId>& moving) const;
  bool place_parts(const GangTopology& gang, const std::vector<PartPlan>& plans,
                   std::optional<NodeId> anchor, std::vector<Placed>& placed, std::string* why);
  bool place_parts_within(int level, DomainId domain, const std::vector<PartPlan>& plans,
                          std::vector<Placed>& placed, std::string* why);
  bool place_part(int level, DomainId domain, const PartPlan& plan, std::vector<Placed>& placed,
                  std::string* why);
  // Where each pod beyond the minimum may go: its subgroup's required domain, else `gang`.
  std::vector<Scope> extra_scopes(const std::vector<PartPlan>& plans,
                                  const std::vector<Placed>& placed,
                                  const std::vector<PodId>& pending, const Scope& gang) const;
  void record_quality(const JobRecord& job, const std::vector<Placed>& placed,
                      const GangTopology& topo);
  void leave_pending(const JobRecord& job, std::vector<PodId> pods, PendingReason reason,
                     std::string message);

  ClusterState& state_;
  const CycleOptions& options_;
  const QueueTree& tree_;
  std::optional<NodeLedger> own_ledger_;
  NodeLedger& ledger_;
  SharedGpuLedger shared_;
  std::optional<DrfOrder> order_;
  CycleResult result_;
  std::unordered_map<uint64_t, std::string> failed_shapes_;
  size_t cpu_cursor_ = 0;
  // Per-cycle free GPUs per fabric domain, by Topology name; made on first use.
  std::map<std::string, std::unique_ptr<FabricCapacity>, std::less<>> capacities_;
  std::vector<FabricCapacity*> active_capacities_;
  // Free GPU sets of nodes with a known link graph, made on first use per node.
  std::vector<uint64_t> free_masks_;
  std::vector<uint8_t> mask_ready_;
  // Capacity held per nominated job key: the node and what was taken off the ledger there.
  std::unordered_map<std::string, std::vector<std::pair<NodeId, ResourceVector>>> held_;
  // The same, summed per node (empty until something is held): explains "Insufficient" that is
  // only so because the room is kept for another job.
  std::vector<ResourceVector> held_on_node_;
  // Placements of this cycle, for the inter-pod checks of later pods; bumped on every change.
  TentativePods tentative_{state_};
  uint64_t tentative_version_ = 0;
  std::unordered_set<std::string> taken_volumes_;
  DeviceLedger devices_{state_, &ledger_.evicted()};
  SpreadNodeCache spread_nodes_;
  std::optional<PodConstraints> constraints_;
  PodId constraints_pod_ = 0;
  uint64_t constraints_version_ = 0;
  // Whether the last diagnosis counted a reason of the inter-pod or volume checks.
  bool last_diagnosis_constrained_ = false;
  // Nodes where GPUs are nominated to a waiting job: fractional pods join no shared GPU there
  // (they may still open one on a GPU that is free and not held).
  std::unordered_set<NodeId> gpu_nominated_;
  // Whether NVLink islands can tell nodes apart at all: some node splits its GPUs into several
  // islands, or known and unknown layouts are mixed. When not, multi-GPU pods skip the check.
  bool islands_matter_ = false;
};

CycleResult CycleRunner::run() {
  const auto now = [this] { return options_.clock_ns ? options_.clock_ns() : 0; };
  const int64_t start = now();
  hold_nominations();
  compute_shares();
  const int64_t shares_done = now();
  result_.stats.fairshare_ns = shares_done - start;
  order_.emplace(tree_, result_.shares);

  // Jobs per leaf queue, in queue order; jobs whose queue cannot be used are reported now.
  std::vector<std::vector<JobId>> queued(tree_.size());
  std::vector<std::string> queue_names;
  for (const auto& [name, jobs] : state_.pending_jobs()) queue_names.push_back(name);
  std::sort(queue_names.begin(), queue_names.end());
  for (const std::string& name : queue_names) {
    const auto& jobs = state_.pending_jobs().at(name);
    std::string why;
    const auto leaf = resolve_queue(state_.jobs()[*jobs.begin()], &why);
    for (JobId id : ordered_jobs(jobs)) {
      const JobRecord& job = state_.jobs()[id];
      if (!leaf) {
        leave_pending(job, {job.pending.begin(), job.pending.end()}, PendingReason::kQueueInvalid,
                      why);
        continue;
      }
      queued[*leaf].push_back(id);
    }
  }

  // Phase 1 serves only jobs that keep their queues within fair share; phase 2 the deferred.
  for (bool within_fair_share : {true, false}) {
    std::vector<std::vector<JobId>> deferred(tree_.size());
    std::vector<size_t> cursor(tree_.size(), 0);
    for (QueueIndex leaf = 0; leaf < tree_.size(); ++leaf) {
      order_->set_active(leaf, !queued[leaf].empty());
    }
    while (const auto leaf = order_->pick()) {
      if (cursor[*leaf] >= queued[*leaf].size()) {
        order_->set_active(*leaf, false);
        continue;
      }
      const JobId job = queued[*leaf][cursor[*leaf]++];
      if (within_fair_share) ++result_.stats.jobs_considered;
      const bool held = release_nominated(job);
      const Attempt attempt = try_job(job, *leaf, within_fair_share);
      if (held && attempt != Attempt::kPlaced) hold_nominated(job);
      if (attempt == Attempt::kDeferred) deferred[*leaf].push_back(job);
    }
    queued = std::move(deferred);
  }
  result_.stats.allocate_ns = now() - shares_done;
  return std::move(result_);
}

void CycleRunner::hold_nominations() {
  if (options_.nominations == nullptr || options_.nominations->empty()) return;
  // Only for jobs still waiting: a job that placed no longer needs its room held.
  // Nor for a job that may not be scheduled at all (a queue its namespace may not use, an
  // invalid queue or pod): the planner makes no such nomination, and one made before the job
  // was refused (a namespace relabelled, a Queue's selector changed) holds nothing.
  std::unordered_set<std::string_view> nominated;
  for (const Nomination& nomination : *options_.nominations) nominated.insert(nomination.job);
  std::unordered_set<std::string_view> waiting;
  for (const auto& [queue, jobs] : state_.pending_jobs()) {
    for (JobId id : jobs) {
      const JobRecord& job = state_.jobs()[id];
      if (nominated.contains(job.key) && !waiting_job_refusal(state_, tree_, job)) {
        waiting.insert(job.key);
      }
    }
  }
  for (const Nomination& nomination : *options_.nominations) {
    if (!waiting.contains(nomination.job)) continue;
    const NodeRecord* record = state_.find_node(nomination.node);
    if (record == nullptr || !record->schedulable()) continue;
    const auto node = static_cast<NodeId>(record - state_.nodes().data());
    // The GPUs bought there may still be shared GPUs whose sharers are leaving: no fractional
    // pod joins the node's shared GPUs meanwhile, or the GPU would never come free.
    if (nomination.amount[kGpu] > 0) gpu_nominated_.insert(node);
    // Only what is free now: the victims may still be terminating, and their share of the
    // nomination is held once they are gone (the next cycle).
    const ResourceVector& free = ledger_.free(node);
    auto& holds = held_[nomination.job];
    holds.emplace_back();
    holds.back().first = node;
    ResourceVector& held = holds.back().second;
    for (size_t i = 0; i < nomination.amount.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      held.set(r, std::clamp<int64_t>(free[r], 0, std::max<int64_t>(nomination.amount[r], 0)));
    }
    adjust_free(node, held, true);
  }
}

bool CycleRunner::release_nominated(JobId job) {
  const auto it = held_.find(state_.jobs()[job].key);
  if (it == held_.end()) return false;
  for (const auto& [node, amount] : it->second) adjust_free(node, amount, false);
  return true;
}

void CycleRunner::hold_nominated(JobId job) {
  const auto it = held_.find(state_.jobs()[job].key);
  if (it == held_.end()) return;
  for (auto& [node, amount] : it->second) {
    const ResourceVector& free = ledger_.free(node);
    for (size_t i = 0; i < amount.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      amount.set(r, std::clamp<int64_t>(free[r], 0, amount[r]));
    }
    adjust_free(node, amount, true);
  }
}

void CycleRunner::adjust_free(NodeId node, const ResourceVector& amount, bool take) {
  const int64_t before = whole_gpus(ledger_.free(node));
  if (held_on_node_.empty()) held_on_node_.resize(state_.nodes().size());
  if (take) {
    ledger_.take(node, amount);
    held_on_node_[node] += amount;
  } else {
    ledger_.give(node, amount);
    held_on_node_[node] -= amount;
  }
  const int64_t after = whole_gpus(ledger_.free(node));
  for (FabricCapacity* capacity : active_capacities_) capacity->adjust(node, after - before);
  // GPU sets of nodes with a known layout are recomputed from the free count on first use.
  if (!mask_ready_.empty() && after != before) mask_ready_[node] = 0;
}

std::optional<std::vector<Binding>> CycleRunner::place_only(JobId id,
                                                            const std::vector<PodId>& pods,
                                                            std::string* why) {
  const JobRecord& job = state_.jobs()[id];
  GangTopology topo;
  if (std::string error; !resolve_topology(job, &topo, &error)) {
    if (why != nullptr) *why = std::move(error);
    return std::nullopt;
  }
  std::vector<Placed> placed;
  std::string failure;
  // A gang of subgroups: every pod given is part of the minimum, grouped by its subgroup.
  std::vector<GangPart> parts;
  std::vector<PartPlan> plans;
  if (!job.subgroups.empty()) {
    parts.resize(job.subgroups.size() + 1);  // the last: pods outside every subgroup
    for (size_t i = 0; i < job.subgroups.size(); ++i) parts[i].subgroup = &job.subgroups[i];
    for (PodId pod : pods) {
      auto it = std::find_if(parts.begin(), parts.end() - 1, [&](const GangPart& part) {
        return part.subgroup->name == state_.pods()[pod].pod.subgroup;
      });
      it->core.push_back(pod);
    }
    if (!resolve_parts(job, topo, parts, pods, &plans, &failure)) {
      if (why != nullptr) *why = std::move(failure);
      return std::nullopt;
    }
  }
  if (!plans.empty() && topo.tree != nullptr) {
    if (!place_parts(topo, plans, anchor_of(job, nullptr, pods), placed, &failure)) {
      if (why != nullptr) *why = std::move(failure);
      return std::nullopt;
    }
  } else if (topo.tree != nullptr && (topo.constrained() || pods.size() >= 2)) {
    if (!place_gang(topo, pods, placed, &failure)) {
      if (why != nullptr) *why = std::move(failure);
      return std::nullopt;
    }
  } else {
    for (PodId pod : pods) {
      const auto node = choose_node(state_.pods()[pod], Scope{});
      if (!node) {
        if (why != nullptr) *why = diagnose(state_.pods()[pod], Scope{});
        roll_back(placed, 0);
        return std::nullopt;
      }
      Placed p;
      p.pod = pod;
      p.node = *node;
      take(p);
      placed.push_back(p);
    }
  }
  std::vector<Binding> bindings;
  for (const Placed& p : placed) {
    const PodRecord& record = state_.pods()[p.pod];
    Binding binding;
    binding.pod = record.pod.key();
    binding.uid = record.pod.uid;
    binding.node = state_.nodes()[p.node].node.name;
    binding.job = job.key;
    binding.queue = job.queue;
    for (uint64_t mask = p.gpus; mask != 0; mask &= mask - 1) {
      binding.gpus.push_back(std::countr_zero(mask));
    }
    binding.volume_bindings = p.volumes;
    binding.claim_allocations = p.claims;
    bindings.push_back(std::move(binding));
  }
  return bindings;
}

void CycleRunner::compute_shares() {
  result_.shares = state_.fair_shares();
}

std::optional<QueueIndex> CycleRunner::resolve_queue(const JobRecord& job, std::string* why) const {
  return resolve_leaf_queue(state_, tree_, job.queue, why);
}

// Inside a queue: higher priority first, then older, then by key for determinism.
std::vector<JobId> CycleRunner::ordered_jobs(const std::unordered_set<JobId>& jobs) const {
  struct Key {
    int32_t priority;
    TimeMs creation;
    const std::string* key;
    JobId id;
  };
  std::vector<Key> keys;
  keys.reserve(jobs.size());
  for (JobId id : jobs) {
    const JobRecord& job = state_.jobs()[id];
    int32_t priority = std::numeric_limits<int32_t>::min();
    for (PodId pod : job.pending)
      priority = std::max(priority, state_.priority_of(state_.pods()[pod]));
    keys.push_back({priority, job.creation_ms, &job.key, id});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.creation != b.creation) return a.creation < b.creation;
    return *a.key < *b.key;
  });
  std::vector<JobId> ordered;
  ordered.reserve(keys.size());
  for (const Key& key : keys) ordered.push_back(key.id);
  return ordered;
}

QueueCheck CycleRunner::check_queue(QueueIndex leaf, const ResourceVector& charge,
                                    std::string* why) const {
  QueueCheck verdict = QueueCheck::kOk;
  for (QueueIndex q = leaf; q != kNoQueue; q = tree_.node(q).parent) {
    const QueueNode& node = tree_.node(q);
    const ResourceVector& allocated = order_->allocated(q);
    for (size_t i = 0; i < charge.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (charge[r] <= 0) continue;
      const int64_t after = allocated[r] + charge[r];
      if (after > node.limit_of(r)) {
        const int64_t scale = state_.registry().scale(r);
        if (why != nullptr) {
          *why = fmt::format(
              "queue \"{}\" would exceed its limit on {}: {} allocated + {} "
              "requested > limit {}",
              node.name, state_.registry().name(r), format_quantity(allocated[r], scale),
              format_quantity(charge[r], scale), format_quantity(node.limit_of(r), scale));
        }
        return QueueCheck::kOverLimit;
      }
      const double share = result_.shares.share(q, r);
      if (static_cast<double>(after) > share + kShareSlack * std::max(1.0, share)) {
        verdict = QueueCheck::kOverFairShare;
      }
    }
  }
  return verdict;
}

Attempt CycleRunner::try_job(JobId id, QueueIndex leaf, bool within_fair_share) {
  const JobRecord& job = state_.jobs()[id];
  const auto& pods = state_.pods();
  std::vector<PodId> pending(job.pending.begin(), job.pending.end());
  std::sort(pending.begin(), pending.end(),
            [&pods](PodId a, PodId b) { return pods[a].pod.name < pods[b].pod.name; });
  // Gated pods wait for their gates to be removed, as kube-scheduler keeps them out of its
  // active queue; the rest of the job is scheduled without them.
  std::vector<PodId> gated;
  std::erase_if(pending, [&](PodId pod) {
    if (pods[pod].pod.scheduling_gates.empty()) return false;
    gated.push_back(pod);
    return true;
  });
  if (!gated.empty() && within_fair_share) {
    leave_pending(job, gated, PendingReason::kSchedulingGated,
                  "Scheduling is blocked due to non-empty scheduling gates");
  }
  if (pending.empty()) return Attempt::kFailed;
  // A gang of subgroups: each part's minimum (subgroups.h); empty for every other job.
  const std::vector<GangPart> parts =
      job.subgroups.empty() ? std::vector<GangPart>{} : split_gang(state_, job, pending);

  if (within_fair_share) {
    // Problems that no capacity can fix are reported once, in the first phase. The same
    // function keeps the planner from preempting for such a job (job_gate.h).
    if (auto refusal = job_refusal(state_, job, pending)) {
      leave_pending(job, pending, pending_reason(refusal->kind), std::move(refusal->message));
      return Attempt::kFailed;
    }
    if (job.awaiting_group) {
      leave_pending(job, pending, PendingReason::kGangIncomplete, job.awaiting_reason);
      return Attempt::kFailed;
    }
    const uint32_t exist = job.bound + static_cast<uint32_t>(pending.size());
    if (exist < static_cast<uint32_t>(job.min_member)) {
      leave_pending(
          job, pending, PendingReason::kGangIncomplete,
          fmt::format("waiting for gang: {} of minMember {} pods exist", exist, job.min_member));
      return Attempt::kFailed;
    }
    if (!parts.empty()) {
      if (std::string waiting = incomplete_subgroup(parts); !waiting.empty()) {
        leave_pending(job, pending, PendingReason::kGangIncomplete, std::move(waiting));
        return Attempt::kFailed;
      }
    }
    if (std::string never = beyond_cluster(job, pending); !never.empty()) {
      leave_pending(job, pending, PendingReason::kUnschedulable, std::move(never));
      return Attempt::kFailed;
    }
  }

  size_t need = job.bound >= static_cast<uint32_t>(job.min_member)
                    ? 0
                    : static_cast<size_t>(job.min_member) - job.bound;
  if (!parts.empty()) need = minimum_first(parts, pending);
  ResourceVector minimum;
  for (size_t i = 0; i < std::max<size_t>(need, 1) && i < pending.size(); ++i) {
    minimum += queue_charge(pods[pending[i]]);
  }
  std::string why;
  switch (check_queue(leaf, minimum, &why)) {
    case QueueCheck::kOverLimit:
      leave_pending(job, pending, PendingReason::kQueueLimit, why);
      return Attempt::kFailed;
    case QueueCheck::kOverFairShare:
      if (within_fair_share) return Attempt::kDeferred;
      break;
    case QueueCheck::kOk:
      break;
  }

  GangTopology topo;
  if (std::string error; !resolve_topology(job, &topo, &error)) {
    leave_pending(job, pending, PendingReason::kUnschedulable, std::move(error));
    return Attempt::kFailed;
  }

  std::vector<Placed> placed;
  ResourceVector charged;
  std::string failure;
  size_t stopped_at = pending.size();
  size_t first = 0;
  Scope scope;  // where pods beyond the gang's minimum may go
  // With a Topology, the gang's minimum is placed as a whole (domain first, then nodes); a job
  // of one without a constraint has nothing to keep together.
  // Fractional pods are placed one by one on shared GPUs, outside the fabric search.
  const bool any_sharer = std::any_of(pending.begin(), pending.end(),
                                      [&pods](PodId pod) { return is_sharer(pods[pod]); });
  const bool as_gang =
      topo.tree != nullptr && need > 0 && !any_sharer && (topo.constrained() || need >= 2);
  std::vector<PartPlan> plans;
  if (!parts.empty()) {
    std::string error;
    if (!resolve_parts(job, topo, parts, {}, &plans, &error)) {
      leave_pending(job, pending, PendingReason::kUnschedulable, std::move(error));
      return Attempt::kFailed;
    }
    if (topo.tree != nullptr && need > 0 && !any_sharer) {
      if (!place_parts(topo, plans, anchor_of(job, nullptr, {}), placed, &failure)) {
        leave_pending(job, pending, PendingReason::kUnschedulable, std::move(failure));
        return Attempt::kFailed;
      }
      for (const Placed& p : placed) charged += queue_charge(pods[p.pod]);
      first = need;
    }
  } else if (as_gang) {
    const std::vector<PodId> gang(pending.begin(),
                                  pending.begin() + static_cast<std::ptrdiff_t>(need));
    if (!place_gang(topo, gang, placed, &failure)) {
      leave_pending(job, pending, PendingReason::kUnschedulable, std::move(failure));
      return Attempt::kFailed;
    }
    for (const Placed& p : placed) charged += queue_charge(pods[p.pod]);
    first = need;
  }
  if (topo.tree != nullptr && topo.required) {
    // Pods beyond the minimum join the gang's domain of the required level.
    std::optional<NodeId> anchor;
    if (!placed.empty()) anchor = placed.front().node;
    for (size_t k = 0; !anchor && k < job.all.size(); ++k) {
      const PodRecord& other = pods[job.all[k]];
      if (other.counted_bound) anchor = other.node;
    }
    if (anchor) {
      const auto level = static_cast<int>(*topo.required);
      scope = {topo.tree, level, topo.tree->domain_of(*topo.required, *anchor)};
    }
  }

  // Pods of a subgroup with a required level join their subgroup's domain.
  const std::vector<Scope> part_scopes =
      plans.empty() ? std::vector<Scope>{} : extra_scopes(plans, placed, pending, scope);

  // Place pods one by one on the ledger; keep them only if the gang's minimum is met.
  for (size_t i = first; i < pending.size(); ++i) {
    const PodRecord& record = pods[pending[i]];
    const Scope& pod_scope = part_scopes.empty() ? scope : part_scopes[i];
    if (placed.size() >= need) {
      // Beyond the gang's minimum, each extra pod must keep the queue within bounds on its own.
      const QueueCheck check = check_queue(leaf, charged + queue_charge(record), &failure);
      if (check == QueueCheck::kOverLimit ||
          (within_fair_share && check == QueueCheck::kOverFairShare)) {
        if (check == QueueCheck::kOverFairShare) failure = "queue is at its fair share";
        stopped_at = i;
        break;
      }
    }
    if (is_sharer(record)) {
      auto shared = choose_shared(pending[i], pod_scope);
      if (!shared) {
        const uint64_t plain = failure_shape(record);
        const uint64_t shape = plain ^ 0x5bd1e995ULL;
        if (auto cached = failed_shapes_.find(shape);
            plain != 0 && cached != failed_shapes_.end()) {
          failure = cached->second;
        } else {
          failure = diagnose_shared(record, pod_scope);
          ++result_.stats.diagnoses;
          if (placed.empty() && pod_scope.tree == nullptr && plain != 0 &&
              !last_diagnosis_constrained_) {
            failed_shapes_.emplace(shape, failure);
          }
        }
        stopped_at = i;
        break;
      }
      take(*shared);
      placed.push_back(std::move(*shared));
      charged += queue_charge(record);
      continue;
    }
    // A shape that found no node already fails again (capacity only shrinks), unless the job
    // gets room back from a nomination: a pod with inter-pod constraints skips the search,
    // which would count its selectors' pods. Plain pods search first (it is cheap) and hash
    // their shape only when they fail.
    const bool constrained = pod_scope.tree == nullptr && carries_constraints(record.pod);
    if (constrained && !held_.contains(job.key)) {
      const uint64_t shape = failure_shape(record);
      if (auto cached = failed_shapes_.find(shape); shape != 0 && cached != failed_shapes_.end()) {
        failure = cached->second;
        stopped_at = i;
        break;
      }
    }
    const auto node = choose_node(record, pod_scope);
    if (!node) {
      const uint64_t shape = pod_scope.tree == nullptr ? failure_shape(record) : 0;
      if (auto cached = failed_shapes_.find(shape); shape != 0 && cached != failed_shapes_.end()) {
        failure = cached->second;
      } else {
        failure = diagnose(record, pod_scope);
        ++result_.stats.diagnoses;
        // Cache only what was seen without tentative placements of this job on the ledger.
        if (shape != 0 && placed.empty() && !last_diagnosis_constrained_) {
          failed_shapes_.emplace(shape, failure);
        }
      }
      stopped_at = i;
      break;
    }
    Placed p{pending[i], *node, 0, {}, 0, {}, {}};
    take(p);
    placed.push_back(p);
    charged += queue_charge(record);
  }

  if (placed.size() < need || placed.empty()) {
    const size_t fit = placed.size();
    roll_back(placed, 0);
    std::string message = failure;
    if (job.min_member > 1) {
      message = fmt::format("gang needs {} more pods, {} fit: {}", need, fit, failure);
    }
    leave_pending(job, pending, PendingReason::kUnschedulable, std::move(message));
    return Attempt::kFailed;
  }

  for (const Placed& p : placed) {
    const PodRecord& record = pods[p.pod];
    Binding binding{record.pod.key(),
                    record.pod.uid,
                    state_.nodes()[p.node].node.name,
                    job.key,
                    job.queue,
                    {},
                    record.pod.creation_ms,
                    {},
                    0,
                    0,
                    {},
                    {},
                    {},
                    {}};
    for (uint64_t mask = p.gpus; mask != 0; mask &= mask - 1) {
      binding.gpus.push_back(std::countr_zero(mask));
    }
    binding.volume_bindings = p.volumes;
    binding.claim_allocations = p.claims;
    if (!p.shared.empty()) {
      for (SharedGpuLedger::SlotId slot_id : p.shared) {
        const SharedGpuLedger::Slot& slot = shared_.slot(slot_id);
        binding.shares.push_back({slot.group, slot.index, slot.fresh});
      }
      binding.gpu_fraction = share_fraction(p.share_units);
      if (const int64_t memory = state_.nodes()[p.node].gpu_memory_mib; memory > 0) {
        const GpuFraction& share = *record.intent.gpu_fraction;
        binding.gpu_memory_mib =
            share.memory_mib ? *share.memory_mib
                             : static_cast<int64_t>(static_cast<double>(memory) * *share.fraction);
      }
      binding.gpu_configmap = gpu_configmap_name(record.pod);
      binding.tolerations = record.pod.tolerations;
    }
    result_.bindings.push_back(std::move(binding));
  }
  record_quality(job, placed, topo);
  order_->charge(leaf, charged);
  ++result_.stats.jobs_scheduled;
  result_.stats.pods_bound += static_cast<uint32_t>(placed.size());
  if (stopped_at < pending.size()) {
    leave_pending(job, {pending.begin() + static_cast<std::ptrdiff_t>(stopped_at), pending.end()},
                  PendingReason::kUnschedulable, failure);
  }
  return Attempt::kPlaced;
}

std::string CycleRunner::beyond_cluster(const JobRecord& job,
                                        const std::vector<PodId>& pending) const {
  if (job.min_member < 2) return {};  // one pod: kube-scheduler's "Insufficient" says it all
  const auto& pods = state_.pods();
  ResourceVector gang;  // the bound pods and the pending ones the minimum still needs
  for (PodId pod : job.all) {
    if (pods[pod].counted_bound) gang += queue_charge(pods[pod]);
  }
  const size_t need = job.bound >= static_cast<uint32_t>(job.min_member)
                          ? 0
                          : static_cast<size_t>(job.min_member) - job.bound;
  for (size_t i = 0; i < need && i < pending.size(); ++i) {
    gang += queue_charge(pods[pending[i]]);
  }
  const ResourceVector& cluster = state_.capacity();
  for (size_t i = 0; i < gang.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (gang[r] <= cluster[r]) continue;
    const int64_t scale = state_.registry().scale(r);
    return fmt::format("gang needs {} {}, the cluster has {}", format_quantity(gang[r], scale),
                       state_.registry().name(r), format_quantity(cluster[r], scale));
  }
  return {};
}

// Lower is better. Bin-pack keeps nodes full (least free CPU and memory left after placing);
// spread does the opposite. GPU order is already decided by the bucket walk.
std::optional<double> CycleRunner::fit_score(const PodRecord& pod, const ResourceVector& requests,
                                             NodeId node) {
  ++result_.stats.nodes_evaluated;
  const ResourceVector& free = ledger_.free(node);
  if (!requests.fits_in(free)) return std::nullopt;
  const NodeRecord& record = state_.nodes()[node];
  // A share of GPU memory needs a node whose GPUs are known to have that much.
  if (pod.intent.gpu_fraction && pod.intent.gpu_fraction->memory_mib &&
      record.gpu_memory_mib < *pod.intent.gpu_fraction->memory_mib) {
    return std::nullopt;
  }
  if (!filter_node(pod.pod, record.node).fits()) return std::nullopt;
  PodConstraints* constraints = constraints_for(id_of(pod));
  if (constraints != nullptr && constraints->filter(node) != ConstraintCode::kFits) {
    return std::nullopt;
  }
  double left = 0;
  for (ResourceId r : {kCpu, kMemory}) {
    const int64_t allocatable = record.allocatable[r];
    if (allocatable > 0) {
      left += static_cast<double>(free[r] - requests[r]) / static_cast<double>(allocatable);
    }
  }
  const double preference = constraints != nullptr
                                ? constraints->score(node)
                                : taint_penalty(pod.pod, record.node, options_.score_weights);
  return (options_.strategy == ScoringStrategy::kBinPack ? left : -left) + preference;
}

uint64_t CycleRunner::failure_shape(const PodRecord& record) const {
  // A pod with claims says its volume or device problem first: its message is its own.
  if (!record.pod.volume_claims.empty() || !record.pod.resource_claims.empty()) return 0;
  const uint64_t shape = placement_signature(record);
  return shape == 0 ? 1 : shape;
}

PodConstraints* CycleRunner::constraints_for(PodId pod) {
  if (!carries_constraints(state_.pods()[pod].pod) && state_.placed().affinity_groups().empty() &&
      !tentative_.has_affinity()) {
    return nullptr;
  }
  if (!constraints_ || constraints_pod_ != pod || constraints_version_ != tentative_version_) {
    constraints_.reset();
    constraints_.emplace(state_, pod, tentative_, taken_volumes_, devices_, spread_nodes_,
                         options_.score_weights);
    constraints_pod_ = pod;
    constraints_version_ = tentative_version_;
  }
  return &*constraints_;
}

std::optional<NodeId> CycleRunner::choose_node(const PodRecord& pod, const Scope& scope,
                                               const ResourceVector& requests) {
  const int64_t gpus = (requests[kGpu] + 999) / 1000;
  const bool spread = options_.strategy == ScoringStrategy::kSpread;
  // Multi-GPU pods prefer nodes where one NVLink island holds them: class 0 fits an island,
  // 1 is a node of unknown layout, 2 a node that would split the pod over PCIe.
  const bool islands = gpus >= 2 && islands_matter_;
  auto in_scope = [&scope](NodeId node) {
    return scope.tree == nullptr ||
           scope.tree->domain_of(static_cast<size_t>(scope.level), node) == scope.domain;
  };

  if (scope.tree != nullptr &&
      scope.tree->domain(static_cast<size_t>(scope.level), scope.domain).count <=
          kDirectScanNodes) {
    // A small domain: score every node of it, in the same order the bucket walk would use.
    std::optional<NodeId> best;
    std::tuple<int, int64_t, double> best_key;
    for (NodeId node : scope.tree->nodes_in(static_cast<size_t>(scope.level), scope.domain)) {
      if (!state_.nodes()[node].schedulable()) continue;
      const auto score = fit_score(pod, requests, node);
      if (!score) continue;
      const int64_t free = whole_gpus(ledger_.free(node));
      int64_t order = spread ? -free : free;
      if (gpus == 0) order = (state_.nodes()[node].allocatable[kGpu] > 0 ? 1'000'000 : 0) + free;
      const std::tuple<int, int64_t, double> key{islands ? island_class(node, gpus) : 0, order,
                                                 *score};
      if (!best || key < best_key) {
        best = node;
        best_key = key;
      }
    }
    return best;
  }

  struct Best {
    std::optional<NodeId> node;
    int island = 3;
    double score = 0;
  };
  // Preferences (affinity, spread, taints) can only pick the best node if every node is seen.
  const PodConstraints* constraints = constraints_for(id_of(pod));
  const uint32_t enough = constraints != nullptr && constraints->has_preferences()
                              ? std::numeric_limits<uint32_t>::max()
                              : std::max<uint32_t>(options_.feasible_nodes_to_score, 1);
  auto best_in = [&](const std::vector<NodeId>& group, size_t start) {
    Best best;
    uint32_t feasible = 0;
    const size_t n = group.size();
    for (size_t k = 0; k < n && feasible < enough; ++k) {
      const NodeId node = group[(start + k) % n];
      if (!in_scope(node)) continue;
      const auto score = fit_score(pod, requests, node);
      if (!score) continue;
      ++feasible;
      const int island = islands ? island_class(node, gpus) : 0;
      if (!best.node || island < best.island || (island == best.island && *score < best.score)) {
        best = {node, island, *score};
      }
    }
    return best;
  };

  const int top = ledger_.max_free_gpus();
  if (gpus > 0) {
    if (gpus > top) return std::nullopt;
    // Bin-pack walks from the fullest node that can still hold the pod; spread from the emptiest.
    // A node that keeps the pod inside one NVLink island wins over a tighter one that does not.
    Best fallback;
    for (int k = 0; k <= top - gpus; ++k) {
      const int bucket = spread ? top - k : static_cast<int>(gpus) + k;
      const Best best = best_in(ledger_.bucket(bucket), 0);
      if (!best.node) continue;
      if (best.island == 0) return best.node;
      if (best.island < fallback.island) fallback = best;
    }
    return fallback.node;
  }
  // Pods without GPUs go to nodes without GPUs first, so GPU nodes keep their CPU for GPU pods;
  // the start rotates so full nodes at the front are not scanned by every pod.
  const auto& cpu_nodes = ledger_.cpu_nodes();
  if (!cpu_nodes.empty()) {
    if (auto best = best_in(cpu_nodes, cpu_cursor_ % cpu_nodes.size()).node) {
      cpu_cursor_ = (cpu_cursor_ + 1) % cpu_nodes.size();
      return best;
    }
  }
  for (int k = 0; k <= top; ++k) {
    if (auto best = best_in(ledger_.bucket(k), 0).node) return best;
  }
  return std::nullopt;
}

template <typename Shortfalls>
std::string CycleRunner::count_reasons(const PodRecord& pod, const Scope& scope,
                                       Shortfalls&& shortfalls) {
  ReasonCounts reasons;
  int64_t total = 0;
  const auto& nodes = state_.nodes();
  PodConstraints* constraints = constraints_for(id_of(pod));
  const bool pod_failed = constraints != nullptr && constraints->pod_failure().has_value();
  last_diagnosis_constrained_ = pod_failed;
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.present) continue;
    if (scope.tree != nullptr &&
        scope.tree->domain_of(static_cast<size_t>(scope.level), id) != scope.domain) {
      continue;
    }
    ++total;
    if (pod_failed) continue;  // a pod-level failure, said once below
    if (const NodeFilterResult filtered = filter_node(pod.pod, record.node); !filtered.fits()) {
      ++reasons[failure_reason(filtered)];
      continue;
    }
    // kube-scheduler's filter order: NodePorts before the resources, every other check after.
    const ConstraintCode code =
        constraints != nullptr ? constraints->filter(id) : ConstraintCode::kFits;
    if (code == ConstraintCode::kPorts) {
      ++reasons[constraints->reason(code)];
      continue;
    }
    if (!shortfalls(id, record, reasons) && code != ConstraintCode::kFits) {
      ++reasons[constraints->reason(code)];
      last_diagnosis_constrained_ = true;
    }
  }
  // A check no node can pass (a missing claim...) is said once, as kube-scheduler's PreFilter.
  if (pod_failed) {
    return fmt::format("0/{} nodes are available: {}.", total, *constraints->pod_failure());
  }
  return summarize_unschedulable(total, reasons);
}

// Why no node fits, counted over every node (of the scope), in kube-scheduler's words.
std::string CycleRunner::diagnose(const PodRecord& pod, const Scope& scope) {
  return count_reasons(pod, scope, [&](NodeId id, const NodeRecord&, ReasonCounts& reasons) {
    const ResourceVector& free = ledger_.free(id);
    if (!held_on_node_.empty() && !pod.requests.fits_in(free) &&
        pod.requests.fits_in(free + held_on_node_[id])) {
      ++reasons["Capacity held for a preemption in progress"];
      return true;
    }
    bool short_of = false;
    for (size_t i = 0; i < pod.requests.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (pod.requests[r] > 0 && pod.requests[r] > free[r]) {
        ++reasons[r == kPods ? std::string("Too many pods")
                             : "Insufficient " + state_.registry().name(r)];
        short_of = true;
      }
    }
    return short_of;
  });
}

// ----------------------------------------------------------------------------- shared GPUs

// A fractional pod joins shared GPUs of one node: with bin-pack, open groups with the least
// room that holds it first, and only then a whole free GPU becomes a new group (chosen like a
// one-GPU pod: the fullest node that has one). Spread does it the other way round. A pod asking
// for N devices needs N distinct groups on one node, existing ones first.
std::optional<CycleRunner::Placed> CycleRunner::choose_shared(PodId id, const Scope& scope) {
  const PodRecord& record = state_.pods()[id];
  const GpuFraction& share = *record.intent.gpu_fraction;
  const auto devices = static_cast<size_t>(share.num_devices);
  const bool spread = options_.gpu_sharing_strategy == ScoringStrategy::kSpread;
  const ResourceVector base = node_charge(record);
  const auto& nodes = state_.nodes();

  // The fewest units the share can take anywhere (a memory share is smallest on the biggest
  // GPU); each candidate is then checked with its own node's GPU memory.
  const auto least = share_units(share, state_.max_gpu_memory_mib());
  if (!least) return std::nullopt;
  auto units_on = [&](NodeId node) { return share_units(share, nodes[node].gpu_memory_mib); };
  auto node_takes = [&](NodeId node, int64_t whole) {
    const NodeRecord& n = nodes[node];
    if (!n.schedulable()) return false;
    if (scope.tree != nullptr &&
        scope.tree->domain_of(static_cast<size_t>(scope.level), node) != scope.domain) {
      return false;
    }
    ResourceVector need = base;
    need.add(kGpu, 1000 * whole);
    return fit_score(record, need, node).has_value();
  };
  // A group that existed before this cycle, on a node whose GPUs are nominated to a preemptor.
  auto held_for_preemptor = [&](const SharedGpuLedger::Slot& slot) {
    return !slot.fresh && gpu_nominated_.contains(slot.node);
  };
  auto joined = [&](NodeId node, std::vector<SharedGpuLedger::SlotId> slots, size_t fresh) {
    Placed placed{id, node, 0, {}, 0, {}, {}};
    placed.share_units = *units_on(node);
    placed.shared = std::move(slots);
    for (size_t k = 0; k < fresh; ++k) placed.shared.push_back(shared_.open(node));
    return placed;
  };
  auto existing = [&]() -> std::optional<Placed> {
    if (devices == 1) {
      const auto found = shared_.find(*least, spread, [&](SharedGpuLedger::SlotId s) {
        const SharedGpuLedger::Slot& slot = shared_.slot(s);
        if (held_for_preemptor(slot)) return false;
        const auto units = units_on(slot.node);
        return units && slot.free >= *units && node_takes(slot.node, 0);
      });
      if (!found) return std::nullopt;
      return joined(shared_.slot(*found).node, {*found}, 0);
    }
    // Several devices: gather fitting groups per node in visiting order, then take the first
    // node where they, plus whole free GPUs for the rest, hold every device.
    std::vector<NodeId> order;
    std::unordered_map<NodeId, std::vector<SharedGpuLedger::SlotId>> fitting;
    shared_.find(*least, spread, [&](SharedGpuLedger::SlotId s) {
      const SharedGpuLedger::Slot& slot = shared_.slot(s);
      if (held_for_preemptor(slot)) return false;
      const auto units = units_on(slot.node);
      if (!units || slot.free < *units) return false;
      auto& list = fitting[slot.node];
      if (list.empty()) order.push_back(slot.node);
      if (list.size() < devices) list.push_back(s);
      return false;
    });
    for (NodeId node : order) {
      auto& list = fitting[node];
      const size_t fresh = devices - list.size();
      if (node_takes(node, static_cast<int64_t>(fresh))) return joined(node, list, fresh);
    }
    return std::nullopt;
  };
  auto fresh = [&]() -> std::optional<Placed> {
    ResourceVector need = base;
    need.add(kGpu, 1000 * static_cast<int64_t>(devices));
    const auto node = choose_node(record, scope, need);
    if (!node || !units_on(*node)) return std::nullopt;
    return joined(*node, {}, devices);
  };
  if (spread) {
    if (auto placed = fresh()) return placed;
    return existing();
  }
  if (auto placed = existing()) return placed;
  return fresh();
}

// Why a fractional pod fits nowhere, node by node, in kube-scheduler's words.
std::string CycleRunner::diagnose_shared(const PodRecord& pod, const Scope& scope) {
  const GpuFraction& share = *pod.intent.gpu_fraction;
  const ResourceVector base = node_charge(pod);
  return count_reasons(pod, scope, [&](NodeId id, const NodeRecord& record, ReasonCounts& reasons) {
    const ResourceVector& free = ledger_.free(id);
    bool short_of_other = false;
    for (size_t i = 0; i < base.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (r == kGpu || base[r] <= 0 || base[r] <= free[r]) continue;
      short_of_other = true;
      ++reasons[r == kPods ? std::string("Too many pods")
                           : "Insufficient " + state_.registry().name(r)];
    }
    if (short_of_other) return true;
    if (record.allocatable[kGpu] <= 0) {
      ++reasons["Insufficient " + std::string(kGpuResourceName)];
    } else if (share.memory_mib && record.gpu_memory_mib == 0) {
      ++reasons[fmt::format("GPU memory unknown (no label {})", kGpuMemoryLabel)];
    } else if (share.memory_mib && record.gpu_memory_mib < *share.memory_mib) {
      ++reasons["Insufficient GPU memory"];
    } else if (gpu_nominated_.contains(id)) {
      ++reasons["Capacity held for a preemption in progress"];
    } else {
      // The GPUs have room: what stopped the pod is another check, if any.
      PodConstraints* constraints = constraints_for(id_of(pod));
      if (constraints != nullptr && constraints->filter(id) != ConstraintCode::kFits) return false;
      ++reasons["Insufficient shared " + std::string(kGpuResourceName)];
    }
    return true;
  });
}

// ------------------------------------------------------------------ ledger, GPU sets, islands

uint64_t& CycleRunner::free_gpu_mask(NodeId node) {
  if (mask_ready_.empty()) {
    mask_ready_.assign(state_.nodes().size(), 0);
    free_masks_.assign(state_.nodes().size(), 0);
  }
  if (mask_ready_[node] == 0) {
    // Which GPUs running pods hold is not known (the device plugin picked them); assume islands
    // were filled smallest first, as fairway itself would have done.
    const GpuLinkGraph& graph = *state_.nodes()[node].gpu_graph;
    const int64_t free = std::min<int64_t>(whole_gpus(ledger_.free(node)), graph.gpu_count());
    free_masks_[node] =
        graph.all_gpus() & ~graph.assume_used(graph.gpu_count() - static_cast<int>(free));
    mask_ready_[node] = 1;
  }
  return free_masks_[node];
}

int CycleRunner::island_class(NodeId node, int64_t gpus) {
  const auto& graph = state_.nodes()[node].gpu_graph;
  if (graph == nullptr) return 1;
  if (graph->one_island()) return 0;
  return graph->largest_free_island(free_gpu_mask(node)) >= gpus ? 0 : 2;
}

void CycleRunner::take(Placed& placed) {
  const PodRecord& record = state_.pods()[placed.pod];
  if (!record.pod.volume_claims.empty()) {
    placed.volumes = constraints_for(placed.pod)->volume_bindings(placed.node);
    for (const VolumeBinding& binding : placed.volumes) {
      if (!binding.volume.empty()) taken_volumes_.insert(binding.volume);
    }
  }
  if (!record.pod.resource_claims.empty()) {
    placed.claims = constraints_for(placed.pod)->claim_allocations(placed.node);
    devices_.take(record.pod, placed.claims);
  }
  tentative_.add(placed.pod, placed.node);
  ++tentative_version_;
  const int64_t gpus = whole_gpus(record.requests);
  const auto& graph = state_.nodes()[placed.node].gpu_graph;
  if (!placed.shared.empty()) {
    // A group opened this cycle takes its whole GPU from the node with its first sharer.
    ResourceVector charge = node_charge(record);
    for (SharedGpuLedger::SlotId id : placed.shared) {
      const auto& slot = shared_.slot(id);
      if (slot.fresh && slot.free == kFullGpu) charge.add(kGpu, 1000);
      shared_.take(id, placed.share_units);
    }
    const int64_t before = whole_gpus(ledger_.free(placed.node));
    ledger_.take(placed.node, charge);
    const int64_t after = whole_gpus(ledger_.free(placed.node));
    for (FabricCapacity* capacity : active_capacities_) {
      capacity->adjust(placed.node, after - before);
    }
    return;
  }
  if (gpus > 0 && graph != nullptr) {
    uint64_t& free = free_gpu_mask(placed.node);
    placed.gpus = graph->choose(free, static_cast<int>(gpus));
    free &= ~placed.gpus;
  }
  const int64_t before = whole_gpus(ledger_.free(placed.node));
  ledger_.take(placed.node, record.requests);
  const int64_t after = whole_gpus(ledger_.free(placed.node));
  for (FabricCapacity* capacity : active_capacities_) capacity->adjust(placed.node, after - before);
}

void CycleRunner::give(const Placed& placed) {
  for (const VolumeBinding& binding : placed.volumes) taken_volumes_.erase(binding.volume);
  devices_.give(state_.pods()[placed.pod].pod, placed.claims);
  tentative_.remove(placed.pod);
  ++tentative_version_;
  const int64_t before = whole_gpus(ledger_.free(placed.node));
  if (!placed.shared.empty()) {
    ResourceVector charge = node_charge(state_.pods()[placed.pod]);
    for (SharedGpuLedger::SlotId id : placed.shared) {
      if (shared_.give(id, placed.share_units)) charge.add(kGpu, 1000);
    }
    ledger_.give(placed.node, charge);
    const int64_t after = whole_gpus(ledger_.free(placed.node));
    for (FabricCapacity* capacity : active_capacities_) {
      capacity->adjust(placed.node, after - before);
    }
    return;
  }
  ledger_.give(placed.node, state_.pods()[placed.pod].requests);
  const int64_t after = whole_gpus(ledger_.free(placed.node));
  for (FabricCapacity* capacity : active_capacities_) capacity->adjust(placed.node, after - before);
  if (placed.gpus != 0) free_gpu_mask(placed.node) |= placed.gpus;
}

void CycleRunner::roll_back(std::vector<Placed>& placed, size_t keep) {
  while (placed.size() > keep) {
    give(placed.back());
    placed.pop_back();
  }
}

// ---------------------------------------------------------------------------------- topology

bool CycleRunner::resolve_topology(const JobRecord& job, GangTopology* topo, std::string* error) {
  return resolve_topology(job.topology, topo, error);
}

bool CycleRunner::resolve_topology(const TopologyConstraint& wanted, GangTopology* topo,
                                   std::string* error) {
  const bool asks_level = !wanted.required_level.empty() || !wanted.preferred_level.empty();
  const TopologySpec* spec = state_.topology_for(wanted);
  if (spec == nullptr) {
    if (!wanted.topology.empty()) {
      *error = fmt::format("Topology \"{}\" does not exist", wanted.topology);
      return false;
    }
    if (asks_level) {
      *error = state_.topologies().empty()
                   ? std::string("the job asks for a topology level, but no Topology exists")
                   : fmt::format(
                         "the job asks for a topology level but names no Topology, and "
                         "{} exist: name one in topologyConstraint.topology (or "
                         "annotation {})",
                         state_.topologies().size(), kAnnotationTopology);
      return false;
    }
    return true;
  }
  const FabricTree* tree = state_.fabric(spec->name);
  if (tree == nullptr || tree->levels() == 0) return true;
  auto level_of = [&](const std::string& label, std::optional<size_t>* out) {
    if (label.empty()) return true;
    *out = tree->level_index(label);
    if (*out) return true;
    std::string levels;
    for (const TopologyLevel& level : spec->levels) {
      levels += (levels.empty() ? "" : ", ") + level.node_label;
    }
    *error =
        fmt::format("Topology \"{}\" has no level \"{}\" (levels: {})", spec->name, label, levels);
    return false;
  };
  if (!level_of(wanted.required_level, &topo->required) ||
      !level_of(wanted.preferred_level, &topo->preferred)) {
    return false;
  }
  // A preferred level at or above the required one is met by the requirement itself.
  if (topo->required && topo->preferred && *topo->preferred <= *topo->required) {
    topo->preferred.reset();
  }
  topo->spec = spec;
  topo->tree = tree;
  topo->capacity = capacity_for(spec->name, *tree);
  return true;
}

FabricCapacity* CycleRunner::capacity_for(const std::string& name, const FabricTree& tree) {
  auto it = capacities_.find(name);
  if (it != capacities_.end()) return it->second.get();
  const auto& nodes = state_.nodes();
  std::vector<int64_t> free(nodes.size(), 0);
  std::vector<int64_t> total(nodes.size(), 0);
  for (NodeId id = 0; id < nodes.size(); ++id) {
    if (!nodes[id].schedulable()) continue;
    free[id] = whole_gpus(ledger_.free(id));
    total[id] = whole_gpus(nodes[id].allocatable);
  }
  auto capacity = std::make_unique<FabricCapacity>(tree, free, total);
  FabricCapacity* raw = capacity.get();
  capacities_.emplace(name, std::move(capacity));
  active_capacities_.push_back(raw);
  return raw;
}

int64_t CycleRunner::gpu_demand(const std::vector<PodId>& pods) const {
  int64_t demand = 0;
  for (PodId pod : pods) demand += whole_gpus(state_.pods()[pod].requests);
  return demand;
}

// Required level: the smallest domain of that level that holds the gang (best fit), trying the
// next one when pods do not fit node by node; inside it, the preferred level as below.
// Otherwise: as deep as the preferred level (default: the lowest) allows, relaxing one level at a
// time, and at last spread over the fewest domains of the whole fabric.
bool CycleRunner::place_gang(const GangTopology& topo, const std::vector<PodId>& gang,
                             std::vector<Placed>& placed, std::string* why) {
  const FabricTree& tree = *topo.tree;
  const int lowest = static_cast<int>(tree.levels()) - 1;
  if (!topo.required) {
    const int prefer = topo.preferred ? static_cast<int>(*topo.preferred) : lowest;
    return place_within(topo, -1, kNoDomain, prefer, gang, placed, why);
  }
  const size_t level = *topo.required;
  const int64_t demand = gpu_demand(gang);
  const std::vector<DomainId> candidates =
      fitting_domains(topo, -1, kNoDomain, static_cast<int>(level), demand);
  const int prefer = topo.preferred ? static_cast<int>(*topo.preferred) : lowest;
  std::vector<DomainId> tried;
  std::string trial_failure;
  for (DomainId domain : candidates) {
    if (tried.size() == static_cast<size_t>(kMaxDomainTrials)) break;
    tried.push_back(domain);
    if (place_within(topo, static_cast<int>(level), domain, prefer, gang, placed,
                     tried.size() == 1 ? &trial_failure : nullptr)) {
      return true;
    }
  }
  *why = required_failure(topo, demand, gang.size(), tried, trial_failure);
  return false;
}

bool CycleRunner::place_within(const GangTopology& topo, int level, DomainId domain, int prefer,
                               const std::vector<PodId>& gang, std::vector<Placed>& placed,
                               std::string* why, std::string_view who) {
  const int64_t demand = gpu_demand(gang);
  const size_t keep = placed.size();
  for (int target = prefer; target > level; --target) {
    const std::vector<DomainId> candidates = fitting_domains(topo, level, domain, target, demand);
    int trials = 0;
    for (DomainId candidate : candidates) {
      if (trials++ == kMaxDomainTrials) break;
      ++result_.stats.topology_trials;
      if (fill(topo, target, candidate, gang, placed).empty()) return true;
      roll_back(placed, keep);
    }
  }
  // No single domain below holds it: spread over the fewest, closest domains.
  ++result_.stats.topology_trials;
  const std::vector<PodId> left = fill(topo, level, domain, gang, placed);
  if (left.empty()) return true;
  const size_t fit = placed.size() - keep;
  roll_back(placed, keep);
  if (why != nullptr) {
    const Scope scope{level < 0 ? nullptr : topo.tree, level, domain};
    const std::string reason = diagnose(state_.pods()[left.front()], scope);
    ++result_.stats.diagnoses;
    if (gang.size() > 1) {
      *why = fmt::format("{} needs {} more pods, {} fit: {}", who, gang.size(), fit, reason);
    } else {
      *why = who == "gang" ? reason : fmt::format("{}: {}", who, reason);
    }
  }
  return false;
}

// Domains of level `target` inside `domain` (of `level`; -1: the whole fabric) with at least
// `demand` free GPUs, smallest first. Subtrees without enough free GPUs are not entered.
std::vector<DomainId> CycleRunner::fitting_domains(const GangTopology& topo, int level,
                                                   DomainId domain, int target,
                                                   int64_t demand) const {
  const FabricTree& tree = *topo.tree;
  const FabricCapacity& capacity = *topo.capacity;
  if (demand > capacity.max_total(static_cast<size_t>(target))) return {};
  // Looking for one node that holds the gang: skip subtrees where no node can.
  const bool one_node = tree.one_node_per_domain(static_cast<size_t>(target));
  std::vector<std::pair<int64_t, DomainId>> found;
  size_t exact = 0;  // domains with exactly `demand` free: nothing fits better, stop at enough
  std::vector<std::pair<int, DomainId>> stack;
  auto push_children = [&](int at, DomainId id) {
    const auto next = static_cast<size_t>(at + 1);
    if (at < 0) {
      for (DomainId child = static_cast<DomainId>(tree.domains(0).size()); child-- > 0;) {
        stack.emplace_back(0, child);
      }
      return;
    }
    const auto& children = tree.domain(static_cast<size_t>(at), id).children;
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.emplace_back(static_cast<int>(next), *it);
    }
  };
  push_children(level, domain);
  while (!stack.empty()) {
    const auto [at, id] = stack.back();
    stack.pop_back();
    const int64_t free = capacity.free(static_cast<size_t>(at), id);
    if (free < demand) continue;
    if (one_node && capacity.max_node_free(static_cast<size_t>(at), id) < demand) continue;
    if (at == target) {
      if (tree.domain(static_cast<size_t>(at), id).unknown) continue;
      found.emplace_back(free, id);
      if (free == demand && ++exact == static_cast<size_t>(kMaxDomainTrials)) break;
      continue;
    }
    push_children(at, id);
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<DomainId> out;
  out.reserve(found.size());
  for (const auto& [free, id] : found) out.push_back(id);
  return out;
}

// Places as many of `pods` (in order) as fit inside a domain, returning those left. In a domain
// of the lowest level, node by node; above, child by child: the smallest child that holds all
// that is left (best fit), else the child with the most free GPUs, so the gang uses few domains.
std::vector<PodId> CycleRunner::fill(const GangTopology& topo, int level, DomainId domain,
                                     std::vector<PodId> pods, std::vector<Placed>& placed) {
  const FabricTree& tree = *topo.tree;
  if (level == static_cast<int>(tree.levels()) - 1) {
    const Scope scope{&tree, level, domain};
    size_t done = 0;
    for (; done < pods.size(); ++done) {
      const auto node = choose_node(state_.pods()[pods[done]], scope);
      if (!node) break;
      Placed p{pods[done], *node, 0, {}, 0, {}, {}};
      take(p);
      placed.push_back(p);
    }
    pods.erase(pods.begin(), pods.begin() + static_cast<std::ptrdiff_t>(done));
    return pods;
  }
  int64_t smallest_pod = std::numeric_limits<int64_t>::max();
  for (PodId pod : pods) {
    smallest_pod = std::min(smallest_pod, whole_gpus(state_.pods()[pod].requests));
  }
  const auto child_level = static_cast<size_t>(level + 1);
  std::vector<std::pair<int64_t, DomainId>> children;
  auto consider = [&](DomainId child) {
    const int64_t free = topo.capacity->free(child_level, child);
    if (free >= smallest_pod) children.emplace_back(free, child);
  };
  if (level < 0) {
    for (DomainId child = 0; child < tree.domains(0).size(); ++child) consider(child);
  } else {
    for (DomainId child : tree.domain(static_cast<size_t>(level), domain).children) consider(child);
  }
  std::stable_sort(children.begin(), children.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  while (!pods.empty() && !children.empty()) {
    const int64_t demand = gpu_demand(pods);
    auto it = std::lower_bound(children.begin(), children.end(), demand,
                               [](const auto& child, int64_t want) { return child.first < want; });
    if (it == children.end()) it = std::prev(children.end());
    const DomainId child = it->second;
    children.erase(it);
    pods = fill(topo, static_cast<int>(child_level), child, std::move(pods), placed);
  }
  return pods;
}

std::string CycleRunner::required_failure(const GangTopology& topo, int64_t demand, size_t pods,
                                          const std::vector<DomainId>& tried,
                                          const std::string& trial_failure, std::string_view who,
                                          int within, DomainId domain) const {
  const FabricTree& tree = *topo.tree;
  const size_t level = *topo.required;
  const std::string name = tree.level_name(level);
  const std::string wants =
      demand > 0 ? fmt::format("{} GPUs", demand) : fmt::format("{} pods", pods);
  std::string message = fmt::format("{} needs {} in one {} (required level {}): ", who, wants, name,
                                    tree.spec().levels[level].node_label);
  if (!tried.empty()) {
    return message + fmt::format("{} {}: {} of {} GPUs free, but {}", name,
                                 tree.domain_name(level, tried.front()),
                                 topo.capacity->free(level, tried.front()), demand, trial_failure);
  }
  // The closest domains, most free first.
  std::vector<std::pair<int64_t, DomainId>> known;
  // Inside the domain searched (a subgroup's racks within its gang's spine), else all of them.
  auto inside = [&](DomainId id) {
    if (within < 0) return true;
    for (auto at = static_cast<int>(level); at > within; --at) {
      id = tree.domain(static_cast<size_t>(at), id).parent;
    }
    return id == domain;
  };
  for (DomainId id = 0; id < tree.domains(level).size(); ++id) {
    if (!tree.domain(level, id).unknown && inside(id)) {
      known.emplace_back(topo.capacity->free(level, id), id);
    }
  }
  if (known.empty()) {
    return message + fmt::format("no node has the label {}", tree.spec().levels[level].node_label);
  }
  std::stable_sort(known.begin(), known.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  constexpr size_t kShown = 3;
  for (size_t k = 0; k < known.size() && k < kShown; ++k) {
    message += fmt::format("{}{} {}: {} of {} GPUs free", k == 0 ? "" : "; ", name,
                           tree.domain_name(level, known[k].second), known[k].first, demand);
  }
  if (known.size() > kShown) {
    message += fmt::format("; {} more {} domains have fewer", known.size() - kShown, name);
  }
  return message;
}

// --------------------------------------------------------------------------------- subgroups

// Each part's constraint on the gang's fabric tree. A subgroup naming no Topology uses its gang's;
// one naming another Topology than its gang's is refused (domains of two trees do not nest).
// A gang without a constraint of its own is still placed on the tree its subgroups use.
bool CycleRunner::resolve_parts(const JobRecord& job, GangTopology& gang,
                                const std::vector<GangPart>& parts,
                                const std::vector<PodId>& moving, std::vector<PartPlan>* plans,
                                std::string* error) {
  for (const GangPart& part : parts) {
    PartPlan& plan = plans->emplace_back();
    plan.part = &part;
    plan.demand = gpu_demand(part.core);
    if (part.subgroup == nullptr) continue;  // the gang's scope is its constraint
    TopologyConstraint wanted = part.subgroup->topology_constraint;
    if (wanted.required_level.empty() && wanted.preferred_level.empty()) continue;
    if (wanted.topology.empty() && gang.spec != nullptr) wanted.topology = gang.spec->name;
    std::string why;
    if (!resolve_topology(wanted, &plan.topo, &why)) {
      *error = fmt::format("subgroup \"{}\": {}", part.subgroup->name, why);
      return false;
    }
    if (plan.topo.tree == nullptr) continue;
    if (gang.tree == nullptr) {
      gang.spec = plan.topo.spec;
      gang.tree = plan.topo.tree;
      gang.capacity = plan.topo.capacity;
    } else if (gang.tree != plan.topo.tree) {
      *error = fmt::format(
          "subgroup \"{}\" uses Topology \"{}\", but its gang {} is placed on "
          "Topology \"{}\": a subgroup's levels must be levels of its gang's "
          "Topology",
          part.subgroup->name, plan.topo.spec->name, job.key, gang.spec->name);
      return false;
    }
    if (plan.topo.required) plan.anchor = anchor_of(job, part.subgroup, moving);
  }
  for (PartPlan& plan : *plans) {
    if (plan.topo.tree != nullptr) continue;
    // No level of its own: the gang's tree, nothing required beyond the gang's domain.
    plan.topo.spec = gang.spec;
    plan.topo.tree = gang.tree;
    plan.topo.capacity = gang.capacity;
  }
  // The biggest parts first: they have the fewest domains to choose from.
  std::stable_sort(plans->begin(), plans->end(),
                   [](const PartPlan& a, const PartPlan& b) { return a.demand > b.demand; });
  return true;
}

// A node where a pod of the job (of `subgroup` only, unless null) is bound and stays: pods in
// `moving` (victims the planner moves) do not count.
std::optional<NodeId> CycleRunner::anchor_of(const JobRecord& job, const SubGroup* subgroup,
                                             const std::vector<PodId>& moving) const {
  for (PodId id : job.all) {
    const PodRecord& record = state_.pods()[id];
    if (!record.counted_bound) continue;
    if (subgroup != nullptr && record.pod.subgroup != subgroup->name) continue;
    if (std::find(moving.begin(), moving.end(), id) != moving.end()) continue;
    return record.node;
  }
  return std::nullopt;
}

// The gang's required level: the smallest domain of it that holds every part, each part placed
// by its own constraint inside it (the next domain when one part does not fit). Without one: the
// gang's preferred level as a preference, relaxing a level at a time, then the whole fabric.
bool CycleRunner::place_parts(const GangTopology& gang, const std::vector<PartPlan>& plans,
                              std::optional<NodeId> anchor, std::vector<Placed>& placed,
                              std::string* why) {
  const FabricTree& tree = *gang.tree;
  int64_t demand = 0;
  size_t pods = 0;
  for (const PartPlan& plan : plans) {
    demand += plan.demand;
    pods += plan.part->core.size();
  }
  auto domains_at = [&](size_t level) {
    if (anchor) return std::vector<DomainId>{tree.domain_of(level, *anchor)};
    return fitting_domains(gang, -1, kNoDomain, static_cast<int>(level), demand);
  };
  if (gang.required) {
    const size_t level = *gang.required;
    std::vector<DomainId> tried;
    std::string trial_failure;
    for (DomainId domain : domains_at(level)) {
      if (tried.size() == static_cast<size_t>(kMaxDomainTrials)) break;
      tried.push_back(domain);
      ++result_.stats.topology_trials;
      if (place_parts_within(static_cast<int>(level), domain, plans, placed,
                             tried.size() == 1 ? &trial_failure : nullptr)) {
        return true;
      }
    }
    *why = required_failure(gang, demand, pods, tried, trial_failure);
    return false;
  }
  if (gang.preferred) {
    for (auto target = static_cast<int>(*gang.preferred); target >= 0; --target) {
      int trials = 0;
      for (DomainId domain : domains_at(static_cast<size_t>(target))) {
        if (trials++ == kMaxDomainTrials) break;
        ++result_.stats.topology_trials;
        if (place_parts_within(target, domain, plans, placed, nullptr)) return true;
      }
    }
  }
  ++result_.stats.topology_trials;
  return place_parts_within(-1, kNoDomain, plans, placed, why);
}

bool CycleRunner::place_parts_within(int level, DomainId domain, const std::vector<PartPlan>& plans,
                                     std::vector<Placed>& placed, std::string* why) {
  const size_t keep = placed.size();
  for (const PartPlan& plan : plans) {
    if (plan.part->core.empty()) continue;
    if (!place_part(level, domain, plan, placed, why)) {
      roll_back(placed, keep);
      return false;
    }
  }
  return true;
}

// One part inside the gang's domain (`level` -1: anywhere): at its required level the smallest
// domain that holds it, its preferred level as a preference, as place_gang does for a gang.
bool CycleRunner::place_part(int level, DomainId domain, const PartPlan& plan,
                             std::vector<Placed>& placed, std::string* why) {
  const GangTopology& topo = plan.topo;
  const FabricTree& tree = *topo.tree;
  const std::vector<PodId>& pods = plan.part->core;
  const int prefer =
      topo.preferred ? static_cast<int>(*topo.preferred) : static_cast<int>(tree.levels()) - 1;
  const std::string who = plan.part->subgroup != nullptr
                              ? fmt::format("subgroup \"{}\"", plan.part->subgroup->name)
                              : std::string("pods outside every subgroup");
  if (!topo.required || static_cast<int>(*topo.required) <= level) {
    // Nothing required below the gang's domain (or the gang's domain already meets it).
    return place_within(topo, level, domain, prefer, pods, placed, why, who);
  }
  const size_t at = *topo.required;
  std::vector<DomainId> candidates;
  if (plan.anchor) {
    // Its bound pods fix the domain; it must lie inside the gang's.
    if (level < 0 || tree.domain_of(static_cast<size_t>(level), *plan.anchor) == domain) {
      candidates.push_back(tree.domain_of(at, *plan.anchor));
    }
  } else {
    candidates = fitting_domains(topo, level, domain, static_cast<int>(at), plan.demand);
  }
  std::vector<DomainId> tried;
  std::string trial_failure;
  for (DomainId candidate : candidates) {
    if (tried.size() == static_cast<size_t>(kMaxDomainTrials)) break;
    tried.push_back(candidate);
    ++result_.stats.topology_trials;
    if (place_within(topo, static_cast<int>(at), candidate, prefer, pods, placed,
                     tried.size() == 1 && why != nullptr ? &trial_failure : nullptr, who)) {
      return true;
    }
  }
  if (why != nullptr) {
    *why = required_failure(topo, plan.demand, pods.size(), tried, trial_failure,
                            fmt::format("{} ({} pods)", who, pods.size()), level, domain);
  }
  return false;
}

std::vector<CycleRunner::Scope> CycleRunner::extra_scopes(const std::vector<PartPlan>& plans,
                                                          const std::vector<Placed>& placed,
                                                          const std::vector<PodId>& pending,
                                                          const Scope& gang) const {
  std::vector<Scope> scopes(pending.size(), gang);
  for (const PartPlan& plan : plans) {
    if (plan.topo.tree == nullptr || !plan.topo.required) continue;
    std::optional<NodeId> anchor = plan.anchor;
    for (size_t k = 0; !anchor && k < placed.size(); ++k) {
      const auto& core = plan.part->core;
      if (std::find(core.begin(), core.end(), placed[k].pod) != core.end()) {
        anchor = placed[k].node;
      }
    }
    if (!anchor) continue;
    const size_t level = *plan.topo.required;
    // The gang's required domain is the narrower scope when it sits at or below the subgroup's.
    if (gang.tree != nullptr && gang.level >= static_cast<int>(level)) continue;
    const Scope own{plan.topo.tree, static_cast<int>(level),
                    plan.topo.tree->domain_of(level, *anchor)};
    for (size_t i = 0; i < pending.size(); ++i) {
      const auto& extra = plan.part->extra;
      if (std::find(extra.begin(), extra.end(), pending[i]) != extra.end()) scopes[i] = own;
    }
  }
  return scopes;
}

void CycleRunner::record_quality(const JobRecord& job, const std::vector<Placed>& placed,
                                 const GangTopology& topo) {
  int64_t gpus = 0;
  for (const Placed& p : placed) gpus += whole_gpus(state_.pods()[p.pod].requests);
  if (placed.size() < 2 && gpus < 2) return;

  PlacementQuality quality;
  quality.job = job.key;
  quality.topology = topo.spec != nullptr ? topo.spec->name : std::string();
  quality.pods = static_cast<uint32_t>(placed.size());
  struct OnNode {
    NodeId node;
    uint64_t mask = 0;
    int64_t gpus = 0;
  };
  std::vector<OnNode> nodes;
  for (const Placed& p : placed) {
    auto it = std::find_if(nodes.begin(), nodes.end(),
                           [&p](const OnNode& n) { return n.node == p.node; });
    if (it == nodes.end()) it = nodes.insert(nodes.end(), OnNode{p.node});
    it->mask |= p.gpus;
    it->gpus += whole_gpus(state_.pods()[p.pod].requests);
  }
  quality.nodes = static_cast<uint32_t>(nodes.size());

  double narrowest = std::numeric_limits<double>::infinity();
  bool known = true;
  for (const OnNode& on : nodes) {
    if (on.gpus < 2) continue;
    const auto& graph = state_.nodes()[on.node].gpu_graph;
    if (graph == nullptr || std::popcount(on.mask) != on.gpus) {
      known = false;
      continue;
    }
    narrowest = std::min(narrowest, graph->bottleneck(on.mask).value_or(narrowest));
  }
  if (nodes.size() == 1) {
    quality.common_level = std::string(kHostnameLevel);
    quality.common_domain = state_.nodes()[nodes.front().node].node.name;
  } else {
    std::optional<size_t> common;
    if (topo.tree != nullptr) {
      for (size_t level = 0; level < topo.tree->levels(); ++level) {
        const DomainId first = topo.tree->domain_of(level, nodes.front().node);
        if (first == kNoDomain || topo.tree->domain(level, first).unknown) break;
        const bool shared = std::all_of(nodes.begin(), nodes.end(), [&](const OnNode& on) {
          return topo.tree->domain_of(level, on.node) == first;
        });
        if (!shared) break;
        common = level;
      }
    }
    if (common) {
      quality.common_level = topo.tree->spec().levels[*common].node_label;
      quality.common_domain =
          topo.tree->domain_name(*common, topo.tree->domain_of(*common, nodes.front().node));
      if (const auto bandwidth = topo.tree->bandwidth_at(*common)) {
        narrowest = std::min(narrowest, *bandwidth);
      } else {
        known = false;
      }
    } else {
      known = false;  // across top-level domains: no bandwidth is known
    }
  }
  if (known && narrowest != std::numeric_limits<double>::infinity()) {
    quality.bottleneck_gbps = narrowest;
  }
  result_.placements.push_back(std::move(quality));
}

void CycleRunner::leave_pending(const JobRecord& job, std::vector<PodId> pods, PendingReason reason,
                                std::string message) {
  // Room the background pass bought for this job is on its way: say so rather than "no node
  // fits", which is true only until the victims have left.
  if (reason == PendingReason::kUnschedulable) {
    if (const auto held = held_.find(job.key); held != held_.end()) {
      reason = PendingReason::kReclaimInProgress;
      message = fmt::format(
          "reclaim in progress for it: room is held on {} node(s) while the pods evicted for it "
          "terminate ({})",
          held->second.size(), message);
    }
  }
  PendingJob pending{job.key, job.queue, {}, reason, std::move(message)};
  for (PodId pod : pods) pending.pods.push_back(state_.pods()[pod].pod.key());
  std::sort(pending.pods.begin(), pending.pods.end());
  result_.pending.push_back(std::move(pending));
}

}  // namespace

CycleResult run_cycle(ClusterState& state, const CycleOptions& options) {
  return CycleRunner(state, options).run();
}

std::optional<std::vector<Binding>> place_on_ledger(ClusterState& state, NodeLedger& ledger,
                                                    JobId job, const std::vector<PodId>& pods,
                                                    const CycleOptions& options, std::string* why) {
  return CycleRunner(state, options, &ledger).place_only(job, pods, why);
}

void assume_all(ClusterState& state, const CycleResult& result) {
  for (const Binding& binding : result.bindings) {
    std::vector<std::string> groups;
    for (const GpuShare& share : binding.shares) groups.push_back(share.group);
    state.assume(binding.pod, binding.node, std::move(groups));
    if (!binding.volume_bindings.empty()) state.assume_volumes(binding.volume_bindings);
    if (!binding.claim_allocations.empty()) {
      const auto slash = binding.pod.find('/');
      state.assume_claims(binding.claim_allocations, binding.pod.substr(slash + 1), binding.uid);
    }
  }
}

}  // namespace fairway
