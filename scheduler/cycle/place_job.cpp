// One job, step by step (try_job): its schedulable pods, the checks no capacity fixes, the gang's
// minimum against the queue, the minimum placed (as a gang when a Topology applies), the other
// pods one by one, then the bindings. Also the planners' what-if placement (place_only).
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "queues/quantity.h"
#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/state/gpu_sharing.h"
#include "scheduler/state/job_gate.h"

namespace fairway::cycle_internal {

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

}  // namespace

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

// A job's try goes in named steps over one JobTry; each step that leaves the job pending says
// why (leave_pending) and returns false.
Attempt CycleRunner::try_job(JobId id, QueueIndex leaf, bool within_fair_share) {
  JobTry t{state_.jobs()[id], leaf, within_fair_share};
  t.pending = schedulable_pods(t.job, within_fair_share);
  if (t.pending.empty()) return Attempt::kFailed;
  // A gang of subgroups: each part's minimum (subgroups.h); empty for every other job.
  if (!t.job.subgroups.empty()) t.parts = split_gang(state_, t.job, t.pending);

  if (within_fair_share && !passes_job_checks(t)) return Attempt::kFailed;
  if (const auto verdict = admit_minimum(t)) return *verdict;
  if (std::string error; !resolve_topology(t.job, &t.topo, &error)) {
    leave_pending(t.job, t.pending, PendingReason::kUnschedulable, std::move(error));
    return Attempt::kFailed;
  }
  t.stopped_at = t.pending.size();
  if (!place_minimum(t)) return Attempt::kFailed;
  place_rest(t);

  if (t.placed.size() < t.need || t.placed.empty()) {
    const size_t fit = t.placed.size();
    roll_back(t.placed, 0);
    std::string message = t.failure;
    if (t.job.min_member > 1) {
      message = fmt::format("gang needs {} more pods, {} fit: {}", t.need, fit, t.failure);
    }
    leave_pending(t.job, t.pending, PendingReason::kUnschedulable, std::move(message));
    return Attempt::kFailed;
  }
  commit(t);
  return Attempt::kPlaced;
}

// The job's pending pods by name, without gated ones: they wait for their gates to be removed,
// as kube-scheduler keeps them out of its active queue; the rest of the job is scheduled
// without them.
std::vector<PodId> CycleRunner::schedulable_pods(const JobRecord& job, bool within_fair_share) {
  const auto& pods = state_.pods();
  std::vector<PodId> pending(job.pending.begin(), job.pending.end());
  std::sort(pending.begin(), pending.end(),
            [&pods](PodId a, PodId b) { return pods[a].pod.name < pods[b].pod.name; });
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
  return pending;
}

// Problems that no capacity can fix are reported once, in the first phase. The same function
// keeps the planner from preempting for such a job (job_gate.h).
bool CycleRunner::passes_job_checks(JobTry& t) {
  const JobRecord& job = t.job;
  if (auto refusal = job_refusal(state_, job, t.pending)) {
    leave_pending(job, t.pending, pending_reason(refusal->kind), std::move(refusal->message));
    return false;
  }
  if (job.awaiting_group) {
    leave_pending(job, t.pending, PendingReason::kGangIncomplete, job.awaiting_reason);
    return false;
  }
  const uint32_t exist = job.bound + static_cast<uint32_t>(t.pending.size());
  if (exist < static_cast<uint32_t>(job.min_member)) {
    leave_pending(
        job, t.pending, PendingReason::kGangIncomplete,
        fmt::format("waiting for gang: {} of minMember {} pods exist", exist, job.min_member));
    return false;
  }
  if (!t.parts.empty()) {
    if (std::string waiting = incomplete_subgroup(t.parts); !waiting.empty()) {
      leave_pending(job, t.pending, PendingReason::kGangIncomplete, std::move(waiting));
      return false;
    }
  }
  if (std::string never = beyond_cluster(job, t.pending); !never.empty()) {
    leave_pending(job, t.pending, PendingReason::kUnschedulable, std::move(never));
    return false;
  }
  return true;
}

// How many pods the gang's minimum still needs (subgroups' minimums first), and whether the
// queue may take them: a verdict when the job stops here, nullopt when it goes on.
std::optional<Attempt> CycleRunner::admit_minimum(JobTry& t) {
  const JobRecord& job = t.job;
  t.need = job.bound >= static_cast<uint32_t>(job.min_member)
               ? 0
               : static_cast<size_t>(job.min_member) - job.bound;
  if (!t.parts.empty()) t.need = minimum_first(t.parts, t.pending);
  ResourceVector minimum;
  for (size_t i = 0; i < std::max<size_t>(t.need, 1) && i < t.pending.size(); ++i) {
    minimum += queue_charge(state_.pods()[t.pending[i]]);
  }
  std::string why;
  switch (check_queue(t.leaf, minimum, &why)) {
    case QueueCheck::kOverLimit:
      leave_pending(job, t.pending, PendingReason::kQueueLimit, why);
      return Attempt::kFailed;
    case QueueCheck::kOverFairShare:
      if (t.within_fair_share) return Attempt::kDeferred;
      break;
    case QueueCheck::kOk:
      break;
  }
  return std::nullopt;
}

// With a Topology, the gang's minimum is placed as a whole (domain first, then nodes); a job of
// one without a constraint has nothing to keep together. Fractional pods are placed one by one
// on shared GPUs, outside the fabric search. Sets where pods beyond the minimum may go.
bool CycleRunner::place_minimum(JobTry& t) {
  const auto& pods = state_.pods();
  const JobRecord& job = t.job;
  const bool any_sharer = std::any_of(t.pending.begin(), t.pending.end(),
                                      [&pods](PodId pod) { return is_sharer(pods[pod]); });
  const bool as_gang =
      t.topo.tree != nullptr && t.need > 0 && !any_sharer && (t.topo.constrained() || t.need >= 2);
  if (!t.parts.empty()) {
    std::string error;
    if (!resolve_parts(job, t.topo, t.parts, {}, &t.plans, &error)) {
      leave_pending(job, t.pending, PendingReason::kUnschedulable, std::move(error));
      return false;
    }
    if (t.topo.tree != nullptr && t.need > 0 && !any_sharer) {
      if (!place_parts(t.topo, t.plans, anchor_of(job, nullptr, {}), t.placed, &t.failure)) {
        leave_pending(job, t.pending, PendingReason::kUnschedulable, std::move(t.failure));
        return false;
      }
      for (const Placed& p : t.placed) t.charged += queue_charge(pods[p.pod]);
      t.first = t.need;
    }
  } else if (as_gang) {
    const std::vector<PodId> gang(t.pending.begin(),
                                  t.pending.begin() + static_cast<std::ptrdiff_t>(t.need));
    if (!place_gang(t.topo, gang, t.placed, &t.failure)) {
      leave_pending(job, t.pending, PendingReason::kUnschedulable, std::move(t.failure));
      return false;
    }
    for (const Placed& p : t.placed) t.charged += queue_charge(pods[p.pod]);
    t.first = t.need;
  }
  if (t.topo.tree != nullptr && t.topo.required) {
    // Pods beyond the minimum join the gang's domain of the required level.
    std::optional<NodeId> anchor;
    if (!t.placed.empty()) anchor = t.placed.front().node;
    for (size_t k = 0; !anchor && k < job.all.size(); ++k) {
      const PodRecord& other = pods[job.all[k]];
      if (other.counted_bound) anchor = other.node;
    }
    if (anchor) {
      const auto level = static_cast<int>(*t.topo.required);
      t.scope = {t.topo.tree, level, t.topo.tree->domain_of(*t.topo.required, *anchor)};
    }
  }
  return true;
}

// Places the pods not yet placed one by one on the ledger; stops at the first that does not
// fit or would take its queue beyond bounds (t.stopped_at, t.failure).
void CycleRunner::place_rest(JobTry& t) {
  // Pods of a subgroup with a required level join their subgroup's domain.
  const std::vector<Scope> part_scopes =
      t.plans.empty() ? std::vector<Scope>{} : extra_scopes(t.plans, t.placed, t.pending, t.scope);
  for (size_t i = t.first; i < t.pending.size(); ++i) {
    const PodRecord& record = state_.pods()[t.pending[i]];
    const Scope& pod_scope = part_scopes.empty() ? t.scope : part_scopes[i];
    if (t.placed.size() >= t.need) {
      // Beyond the gang's minimum, each extra pod must keep the queue within bounds on its own.
      const QueueCheck check = check_queue(t.leaf, t.charged + queue_charge(record), &t.failure);
      if (check == QueueCheck::kOverLimit ||
          (t.within_fair_share && check == QueueCheck::kOverFairShare)) {
        if (check == QueueCheck::kOverFairShare) t.failure = "queue is at its fair share";
        t.stopped_at = i;
        break;
      }
    }
    const bool fits = is_sharer(record) ? place_sharer(t, t.pending[i], pod_scope)
                                        : place_pod(t, t.pending[i], pod_scope);
    if (!fits) {
      t.stopped_at = i;
      break;
    }
  }
}

// A fractional pod on shared GPUs; on failure t.failure says why (cached per shape).
bool CycleRunner::place_sharer(JobTry& t, PodId pod, const Scope& scope) {
  const PodRecord& record = state_.pods()[pod];
  auto shared = choose_shared(pod, scope);
  if (!shared) {
    const uint64_t plain = failure_shape(record);
    const uint64_t shape = plain ^ 0x5bd1e995ULL;
    if (auto cached = failed_shapes_.find(shape); plain != 0 && cached != failed_shapes_.end()) {
      t.failure = cached->second;
    } else {
      t.failure = diagnose_shared(record, scope);
      ++result_.stats.diagnoses;
      if (t.placed.empty() && scope.tree == nullptr && plain != 0 && !last_diagnosis_constrained_) {
        failed_shapes_.emplace(shape, t.failure);
      }
    }
    return false;
  }
  take(*shared);
  t.placed.push_back(std::move(*shared));
  t.charged += queue_charge(record);
  return true;
}

// A pod on one node; on failure t.failure says why (cached per shape).
bool CycleRunner::place_pod(JobTry& t, PodId pod, const Scope& scope) {
  const PodRecord& record = state_.pods()[pod];
  // A shape that found no node already fails again (capacity only shrinks), unless the job
  // gets room back from a nomination: a pod with inter-pod constraints skips the search,
  // which would count its selectors' pods. Plain pods search first (it is cheap) and hash
  // their shape only when they fail.
  const bool constrained = scope.tree == nullptr && carries_constraints(record.pod);
  if (constrained && !held_.contains(t.job.key)) {
    const uint64_t shape = failure_shape(record);
    if (auto cached = failed_shapes_.find(shape); shape != 0 && cached != failed_shapes_.end()) {
      t.failure = cached->second;
      return false;
    }
  }
  const auto node = choose_node(record, scope);
  if (!node) {
    const uint64_t shape = scope.tree == nullptr ? failure_shape(record) : 0;
    if (auto cached = failed_shapes_.find(shape); shape != 0 && cached != failed_shapes_.end()) {
      t.failure = cached->second;
    } else {
      t.failure = diagnose(record, scope);
      ++result_.stats.diagnoses;
      // Cache only what was seen without tentative placements of this job on the ledger.
      if (shape != 0 && t.placed.empty() && !last_diagnosis_constrained_) {
        failed_shapes_.emplace(shape, t.failure);
      }
    }
    return false;
  }
  Placed p{pod, *node, 0, {}, 0, {}, {}};
  take(p);
  t.placed.push_back(p);
  t.charged += queue_charge(record);
  return true;
}

// The job placed: its bindings, its placement quality, its queue charged; the pods that did not
// fit beyond the minimum stay pending.
void CycleRunner::commit(JobTry& t) {
  const JobRecord& job = t.job;
  for (const Placed& p : t.placed) result_.bindings.push_back(binding_for(job, p));
  record_quality(job, t.placed, t.topo);
  order_->charge(t.leaf, t.charged);
  ++result_.stats.jobs_scheduled;
  result_.stats.pods_bound += static_cast<uint32_t>(t.placed.size());
  if (t.stopped_at < t.pending.size()) {
    leave_pending(job,
                  {t.pending.begin() + static_cast<std::ptrdiff_t>(t.stopped_at), t.pending.end()},
                  PendingReason::kUnschedulable, t.failure);
  }
}

Binding CycleRunner::binding_for(const JobRecord& job, const Placed& p) const {
  const PodRecord& record = state_.pods()[p.pod];
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
  return binding;
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

}  // namespace fairway::cycle_internal
