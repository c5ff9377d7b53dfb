// The preemption pass (planner.h): action_name, plan_preemptions and the Planner's pass itself:
// victim units, preemptors in order, the victim order. The actions and the what-if they share
// are in the files planner_internal.h lists.
#include "scheduler/planner/planner.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "scheduler/planner/planner_internal.h"
#include "scheduler/state/job_gate.h"
#include "scheduler/state/node_filters.h"
#include "scheduler/state/subgroups.h"

namespace fairway {

const char* action_name(PreemptionAction action) {
  switch (action) {
    case PreemptionAction::kPreempt:
      return "preempt";
    case PreemptionAction::kReclaim:
      return "reclaim";
    case PreemptionAction::kConsolidate:
      return "consolidate";
    case PreemptionAction::kStaleGang:
      return "stale-gang";
  }
  return "unknown";
}

namespace planner_internal {

PlanResult Planner::run() {
  shares_ = state_.fair_shares();  // as the cycle divides them
  allocated_ = shares_.allocated;
  prepare_ledger();
  for (NodeId node = 0; node < state_.nodes().size(); ++node) {
    if (state_.nodes()[node].schedulable()) free_total_ += queue_charge(ledger_.free(node));
  }
  build_units();
  const std::unordered_set<JobId> stale = stale_gangs();

  for (const Preemptor& p : preemptors()) {
    if (out_of_time()) break;
    if (stale.contains(p.job)) continue;
    ++result_.stats.preemptors_considered;
    // Room already exists (the cycle will place it, or queue rules hold it back): evict nothing.
    if (simulate(p, {}, false)) continue;
    std::optional<PreemptionPlan> plan;
    if (options_.preempt) plan = preempt(p);
    if (!plan && options_.reclaim) plan = reclaim(p);
    if (!plan && options_.consolidate) plan = consolidate(p);
    if (plan) {
      result_.plans.push_back(std::move(*plan));
    } else if (!result_.stats.out_of_time) {
      result_.without_plan.push_back(state_.jobs()[p.job].key);
    }
  }
  return std::move(result_);
}

bool Planner::out_of_time() {
  if (clock_() - start_ <= options_.time_budget_ms) return false;
  result_.stats.out_of_time = true;
  return true;
}

// "true" makes any pod preemptible, "false" none; otherwise the priority threshold decides.
bool Planner::preemptible(const PodRecord& pod) const {
  if (pod.intent.preemptible) return *pod.intent.preemptible;
  return state_.priority_of(pod) < options_.non_preemptible_priority;
}

// The queue's own setting, else the nearest ancestor's.
std::optional<int64_t> Planner::min_runtime_s(const std::string& queue, bool reclaim) const {
  std::string name = queue;
  for (int depth = 0; depth < 64 && !name.empty(); ++depth) {
    const auto it = state_.queue_specs().find(name);
    if (it == state_.queue_specs().end()) return std::nullopt;
    const auto& value =
        reclaim ? it->second.reclaim_min_runtime_seconds : it->second.preempt_min_runtime_seconds;
    if (value) return value;
    name = it->second.parent;
  }
  return std::nullopt;
}

NodeId Planner::node_id(const std::string& name) const {
  const NodeRecord* record = state_.find_node(name);
  return record == nullptr ? kNoNode : static_cast<NodeId>(record - state_.nodes().data());
}

// The scratch ledger starts from the state, then: pods already terminating count as gone (their
// capacity is on its way), and capacity nominated to waiting preemptors is not for others.
void Planner::prepare_ledger() {
  for (const PodRecord& record : state_.pods()) {
    if (!record.present || !record.counted_bound || !record.pod.deleting) continue;
    if (state_.nodes()[record.node].schedulable()) ledger_.give(record.node, record.requests);
  }
  for (const Nomination& nomination : memory_.nominations()) {
    const NodeId node = node_id(nomination.node);
    if (node == kNoNode || !state_.nodes()[node].schedulable()) continue;
    ResourceVector held;
    for (size_t i = 0; i < nomination.amount.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      held.set(r, std::clamp<int64_t>(ledger_.free(node)[r], 0, nomination.amount[r]));
    }
    ledger_.take(node, held);
  }
}

void Planner::build_units() {
  const TimeMs now = start_;
  const auto& pods = state_.pods();
  for (JobId id = 0; id < state_.jobs().size(); ++id) {
    const JobRecord& job = state_.jobs()[id];
    if (!job.present || job.bound == 0) continue;
    const auto leaf = tree_.find(job.queue);
    if (!leaf || !tree_.node(*leaf).is_leaf()) continue;
    std::vector<PodId> running;
    bool eligible = true;
    int32_t priority = std::numeric_limits<int32_t>::min();
    for (PodId pod : job.all) {
      const PodRecord& record = pods[pod];
      if (!record.counted_bound || record.pod.deleting) continue;
      // A binding in flight, or a pod that may not be disrupted: the job is not a victim.
      if (record.assumed || !preemptible(record) || memory_.pod_blocked(record.pod.key(), now)) {
        eligible = false;
        break;
      }
      if (!state_.nodes()[record.node].schedulable()) {
        eligible = false;
        break;
      }
      running.push_back(pod);
      priority = std::max(priority, state_.priority_of(record));
    }
    if (!eligible || running.empty()) continue;
    std::sort(running.begin(), running.end(),
              [&pods](PodId a, PodId b) { return pods[a].pod.name < pods[b].pod.name; });
    Unit base;
    base.job = id;
    base.leaf = *leaf;
    base.priority = priority;
    base.started = job.creation_ms;
    const TimeMs age = now - job.creation_ms;
    if (const auto min = min_runtime_s(job.queue, false))
      base.preempt_protected = age < *min * 1000;
    if (const auto min = min_runtime_s(job.queue, true)) base.reclaim_protected = age < *min * 1000;
    auto add = [&](std::vector<PodId> members, int part) {
      Unit unit = base;
      unit.part = part;
      unit.pods = std::move(members);
      for (PodId pod : unit.pods) unit.charge += queue_charge(pods[pod]);
      mark_idle(unit);
      units_.push_back(std::move(unit));
    };
    const auto min = static_cast<size_t>(std::max(job.min_member, 1));
    if (running.size() > min) {
      // The pods beyond minMember can go alone; the minimum only after them, as a whole.
      add({running.begin() + static_cast<std::ptrdiff_t>(min), running.end()}, 1);
      add({running.begin(), running.begin() + static_cast<std::ptrdiff_t>(min)}, 2);
      units_[units_.size() - 2].sibling = units_.size() - 1;
      units_.back().sibling = units_.size() - 2;
    } else {
      add(std::move(running), 0);
    }
  }
}

// The idle-victim policy: never a job of a queue within its fair share or deserved quota of GPUs.
void Planner::mark_idle(Unit& unit) const {
  if (options_.idle_gpu_pods == nullptr) return;
  const double held = static_cast<double>(allocated_[unit.leaf][kGpu]);
  if (!above(held, shares_.share(unit.leaf, kGpu)) ||
      !above(held, static_cast<double>(shares_.deserved[unit.leaf][kGpu]))) {
    return;
  }
  std::string note;
  for (PodId pod : unit.pods) {
    const PodRecord& record = state_.pods()[pod];
    if (record.requests[kGpu] <= 0) continue;
    const auto idle = options_.idle_gpu_pods->find(record.pod.key());
    if (idle == options_.idle_gpu_pods->end()) return;  // one busy GPU pod: the job is busy
    if (note.empty()) note = idle->second;
  }
  unit.idle_first = !note.empty();
  unit.idle_note = std::move(note);
}

// Pending jobs that need capacity for their minimum, highest priority first, then oldest.
std::vector<Preemptor> Planner::preemptors() const {
  std::vector<Preemptor> out;
  const auto& pods = state_.pods();
  for (const auto& [queue, jobs] : state_.pending_jobs()) {
    std::string why;
    const auto leaf = resolve_leaf_queue(state_, tree_, queue, &why);
    if (!leaf) continue;  // QueueInvalid: the cycle says why
    for (JobId id : jobs) {
      const JobRecord& job = state_.jobs()[id];
      if (memory_.nominated(job.key)) continue;  // already has room on the way
      if (memory_.resting(job.key, start_)) continue;
      if (job.awaiting_group) continue;  // its size is unknown until its PodGroup arrives
      const auto min = static_cast<uint32_t>(std::max(job.min_member, 1));
      if (job.bound >= min) continue;  // elastic extras do not justify evictions
      const size_t need = min - job.bound;
      // Gated pods are not scheduled until their gates are removed: nothing is evicted for them.
      std::vector<PodId> pending;
      for (PodId pod : job.pending) {
        if (pods[pod].pod.scheduling_gates.empty()) pending.push_back(pod);
      }
      if (pending.size() < need) continue;  // the gang is incomplete
      std::sort(pending.begin(), pending.end(),
                [&pods](PodId a, PodId b) { return pods[a].pod.name < pods[b].pod.name; });
      // The cycle's own first checks (job_gate.h), on all the pods it would place: a job that it
      // refuses (InvalidPod, QueueNotAllowed) never preempts, reclaims, consolidates or holds
      // room, whatever its priority.
      if (job_refusal(state_, job, pending)) continue;
      if (job.subgroups.empty()) {
        pending.resize(need);
      } else {
        // The pods the cycle places first: each subgroup's minimum, then the gang's.
        const std::vector<GangPart> parts = split_gang(state_, job, pending);
        if (!incomplete_subgroup(parts).empty()) continue;
        pending.clear();
        for (const GangPart& part : parts) {
          pending.insert(pending.end(), part.core.begin(), part.core.end());
        }
      }
      Preemptor p;
      p.job = id;
      p.leaf = *leaf;
      p.priority = std::numeric_limits<int32_t>::min();
      bool valid = true;
      for (PodId pod : pending) {
        const PodRecord& record = pods[pod];
        if (!record.intent.valid() || record.intent.gpu_fraction) valid = false;
        if (record.pod.preemption_policy == "Never") valid = false;  // never evicts others
        p.priority = std::max(p.priority, state_.priority_of(record));
        p.charge += queue_charge(record);
      }
      if (!valid) continue;
      p.pods = std::move(pending);
      out.push_back(std::move(p));
    }
  }
  std::sort(out.begin(), out.end(), [this](const Preemptor& a, const Preemptor& b) {
    const JobRecord& ja = state_.jobs()[a.job];
    const JobRecord& jb = state_.jobs()[b.job];
    if (a.priority != b.priority) return a.priority > b.priority;
    if (ja.creation_ms != jb.creation_ms) return ja.creation_ms < jb.creation_ms;
    return ja.key < jb.key;
  });
  return out;
}

// Victim order: lowest priority, then least run time lost (started last), then a gang's extras
// before its minimum, then fewest pods, then by job key for determinism.
void Planner::order(std::vector<size_t>& units, bool idle_first) const {
  std::sort(units.begin(), units.end(), [this, idle_first](size_t a, size_t b) {
    const Unit& ua = units_[a];
    const Unit& ub = units_[b];
    if (idle_first && ua.idle_first != ub.idle_first) return ua.idle_first;
    if (ua.priority != ub.priority) return ua.priority < ub.priority;
    if (ua.started != ub.started) return ua.started > ub.started;
    if (ua.part != ub.part) return ua.part < ub.part;
    if (ua.pods.size() != ub.pods.size()) return ua.pods.size() < ub.pods.size();
    return state_.jobs()[ua.job].key < state_.jobs()[ub.job].key;
  });
}

std::vector<QueueIndex> Planner::path(QueueIndex leaf) const {
  std::vector<QueueIndex> out;
  for (QueueIndex q = leaf; q != kNoQueue; q = tree_.node(q).parent) out.push_back(q);
  return out;
}

}  // namespace planner_internal

PlanResult plan_preemptions(ClusterState& state, const PreemptionMemory& memory,
                            const PlannerOptions& options, const std::function<TimeMs()>& now) {
  return planner_internal::Planner(state, memory, options, now).run();
}

}  // namespace fairway
