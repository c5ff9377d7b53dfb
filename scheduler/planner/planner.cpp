#include "scheduler/planner/planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "queues/fair_share.h"
#include "scheduler/cycle/node_ledger.h"
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

// ------------------------------------------------------------------------------------ memory

void PreemptionMemory::record(const PreemptionPlan& plan, TimeMs now,
                              const PlannerOptions& options) {
  if (plan.action == PreemptionAction::kStaleGang) {
    partial_since_.erase(plan.preemptor);  // it makes room for nobody: nothing to nominate
    return;
  }
  for (const Nomination& nomination : plan.nominations) nominations_.push_back(nomination);
  nomination_expiry_[plan.preemptor] = now + options.nomination_ms;
  auto& victims = victims_[plan.preemptor];
  for (const Victim& victim : plan.victims) {
    cool_downs_[victim.job][plan.preemptor] = now + options.cool_down_ms;
    victims.emplace_back(victim.pod, victim.uid);
  }
  victims_gone_since_.erase(plan.preemptor);
}

void PreemptionMemory::drop_nomination(const std::string& job) {
  std::erase_if(nominations_, [&job](const Nomination& n) { return n.job == job; });
  nomination_expiry_.erase(job);
  victims_.erase(job);
  victims_gone_since_.erase(job);
}

void PreemptionMemory::blocked(const std::string& preemptor, const std::string& pod, TimeMs now,
                               TimeMs for_ms) {
  drop_nomination(preemptor);
  blocked_pods_[pod] = now + for_ms;
}

void PreemptionMemory::prune(ClusterState& state, TimeMs now, const PlannerOptions& options) {
  std::unordered_map<std::string_view, JobId> waiting;
  for (const auto& [queue, jobs] : state.pending_jobs()) {
    for (JobId id : jobs) waiting.emplace(state.jobs()[id].key, id);
  }
  const QueueTree& tree = state.queue_tree();
  // A victim is gone once its pod no longer holds a node (deleted, finished, or created again).
  auto victim_gone = [&state](const std::pair<std::string, std::string>& victim) {
    const PodRecord* pod = state.find_pod(victim.first);
    return pod == nullptr || pod->pod.uid != victim.second || !pod->counted_bound;
  };
  std::vector<std::string> expired;
  for (const auto& [job, expiry] : nomination_expiry_) {
    const auto it = waiting.find(job);
    // A job that may no longer be scheduled at all (its namespace lost access to its queue, the
    // queue became invalid, a pod or its PodGroup cannot be read) keeps no room either.
    if (expiry <= now || it == waiting.end() ||
        waiting_job_refusal(state, tree, state.jobs()[it->second])) {
      expired.push_back(job);
      continue;
    }
    const auto& victims = victims_[job];
    if (!std::all_of(victims.begin(), victims.end(), victim_gone)) continue;
    const TimeMs since = victims_gone_since_.try_emplace(job, now).first->second;
    if (now - since >= options.nomination_after_victims_ms) {
      // The room was made and the cycle still could not use it: let others have it, and do not
      // evict for this job again soon.
      expired.push_back(job);
      resting_[job] = now + options.nomination_ms;
    }
  }
  for (const std::string& job : expired) drop_nomination(job);
  std::unordered_set<std::string> partial;
  for (const JobRecord& job : state.jobs()) {
    if (!job.present || job.min_member <= 1) continue;
    if (job.bound == 0 || job.bound >= static_cast<uint32_t>(job.min_member)) continue;
    partial.insert(job.key);
    partial_since_.try_emplace(job.key, now);
  }
  std::erase_if(partial_since_, [&](const auto& entry) { return !partial.contains(entry.first); });
  for (auto& [job, evictors] : cool_downs_) {
    std::erase_if(evictors, [now](const auto& entry) { return entry.second <= now; });
  }
  std::erase_if(cool_downs_, [](const auto& entry) { return entry.second.empty(); });
  std::erase_if(blocked_pods_, [now](const auto& entry) { return entry.second <= now; });
  std::erase_if(resting_, [now](const auto& entry) { return entry.second <= now; });
}

std::optional<TimeMs> PreemptionMemory::partial_since(const std::string& job) const {
  const auto it = partial_since_.find(job);
  if (it == partial_since_.end()) return std::nullopt;
  return it->second;
}

bool PreemptionMemory::nominated(const std::string& job) const {
  return nomination_expiry_.contains(job);
}

bool PreemptionMemory::cooling_down(const std::string& job, const std::string& victim_job,
                                    TimeMs now) const {
  const auto evicted = cool_downs_.find(job);
  if (evicted == cool_downs_.end()) return false;
  const auto it = evicted->second.find(victim_job);
  return it != evicted->second.end() && it->second > now;
}

bool PreemptionMemory::resting(const std::string& job, TimeMs now) const {
  const auto it = resting_.find(job);
  return it != resting_.end() && it->second > now;
}

bool PreemptionMemory::pod_blocked(const std::string& pod, TimeMs now) const {
  const auto it = blocked_pods_.find(pod);
  return it != blocked_pods_.end() && it->second > now;
}

// ----------------------------------------------------------------------------------- planner

namespace {

constexpr double kShareSlack = 1e-9;
// Trials spent dropping victims the placement turned out not to need.
constexpr size_t kMaxTrimTrials = 64;

bool above(double value, double bound) {
  return value > bound + kShareSlack * std::max(1.0, std::abs(bound));
}

// A set of pods evicted together: a whole job, or the pods of a gang beyond its minMember
// (part 1) and then the rest (part 2), so a gang is never left running below minMember.
struct Unit {
  JobId job = 0;
  QueueIndex leaf = kNoQueue;
  std::vector<PodId> pods;
  ResourceVector charge;
  int32_t priority = 0;
  TimeMs started = 0;
  int part = 0;  // 0: whole job; 1: beyond minMember; 2: the minimum, after part 1
  size_t sibling = std::numeric_limits<size_t>::max();  // the other part of the same job
  bool preempt_protected = false;  // younger than its queue's preemptMinRuntime
  bool reclaim_protected = false;  // younger than its queue's reclaimMinRuntime
  bool used = false;               // a victim of an earlier plan of this pass
  // The idle-victim policy: every GPU pod idle, its queue above its fair share and deserved
  // quota of GPUs; taken first by reclaim and consolidation. `idle_note` says why, for Events.
  bool idle_first = false;
  std::string idle_note;
};

struct Preemptor {
  JobId job = 0;
  QueueIndex leaf = kNoQueue;
  std::vector<PodId> pods;  // the pods it needs placed now (up to its minMember)
  ResourceVector charge;
  int32_t priority = 0;
};

class Planner {
 public:
  Planner(ClusterState& state, const PreemptionMemory& memory, const PlannerOptions& options,
          const std::function<TimeMs()>& now)
      : state_(state),
        tree_(state.queue_tree()),
        memory_(memory),
        options_(options),
        clock_(now),
        start_(now()),
        ledger_(state) {
    cycle_options_ = options.cycle;
    cycle_options_.nominations = nullptr;
  }

  PlanResult run();

 private:
  bool preemptible(const PodRecord& pod) const;
  std::optional<int64_t> min_runtime_s(const std::string& queue, bool reclaim) const;
  void prepare_ledger();
  void build_units();
  std::vector<Preemptor> preemptors() const;
  bool out_of_time();

  std::optional<PreemptionPlan> preempt(const Preemptor& p);
  std::optional<PreemptionPlan> reclaim(const Preemptor& p);
  std::optional<PreemptionPlan> consolidate(const Preemptor& p);
  // Plans evicting the bound pods of gangs stuck below their minMember past their grace; returns
  // those gangs (not preemptors in this pass: they start again whole).
  std::unordered_set<JobId> stale_gangs();

  // Whether a candidate may join the victims taken so far (reclaim keeps victim queues at their
  // fair share): `allows` only asks, `take` records it, `reset` forgets every victim taken.
  struct Accept {
    std::function<bool(size_t unit)> allows;
    std::function<void(size_t unit)> take;
    std::function<void()> reset;
  };
  static Accept accept_all() {
    return {[](size_t) { return true; }, [](size_t) {}, [] {}};
  }
  std::optional<std::vector<size_t>> choose_victims(const Preemptor& p,
                                                    const std::vector<size_t>& candidates,
                                                    const Accept& accept,
                                                    std::vector<Binding>* placements);
  std::optional<std::vector<size_t>> victims_by_node(const Preemptor& p,
                                                     const std::vector<size_t>& candidates,
                                                     const Accept& accept,
                                                     std::vector<Binding>* placements);
  std::optional<std::vector<Binding>> simulate(const Preemptor& p,
                                               const std::vector<size_t>& victims,
                                               bool place_victims);
  bool within_limits(const Preemptor& p, const std::vector<size_t>& victims) const;
  void evict_on_ledger(const Unit& unit, bool evict);
  NodeId node_id(const std::string& name) const;
  PreemptionPlan commit(PreemptionAction action, const Preemptor& p,
                        const std::vector<size_t>& victims, std::vector<Binding> placements,
                        bool place_victims);
  // Victim order; `idle_first`: units the idle-victim policy picks come before all others.
  void order(std::vector<size_t>& units, bool idle_first) const;
  void mark_idle(Unit& unit) const;
  std::vector<QueueIndex> path(QueueIndex leaf) const;

  ClusterState& state_;
  const QueueTree& tree_;
  const PreemptionMemory& memory_;
  const PlannerOptions& options_;
  const std::function<TimeMs()>& clock_;
  TimeMs start_;
  CycleOptions cycle_options_;
  NodeLedger ledger_;
  // Free capacity of schedulable nodes on the ledger, summed (queue charge: without "pods").
  ResourceVector free_total_;
  FairShares shares_;
  std::vector<ResourceVector> allocated_;  // per queue, with this pass's plans applied
  std::vector<Unit> units_;
  // Consolidation's view: units by node, in victim order (made on first use).
  std::unordered_map<NodeId, std::vector<size_t>> units_by_node_;
  bool units_by_node_ready_ = false;
  PlanResult result_;
};

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

void Planner::evict_on_ledger(const Unit& unit, bool evict) {
  for (PodId pod : unit.pods) {
    const PodRecord& record = state_.pods()[pod];
    if (evict) {
      ledger_.give(record.node, record.requests);
    } else {
      ledger_.take(record.node, record.requests);
    }
    ledger_.set_evicted(record.pod, evict);
  }
}

// The what-if: evict `victims` on the scratch ledger, place the preemptor with the cycle's own
// placement code, and (consolidation) every moved pod after it; then undo everything. Returns the
// preemptor's placements when all of it fits.
std::optional<std::vector<Binding>> Planner::simulate(const Preemptor& p,
                                                      const std::vector<size_t>& victims,
                                                      bool place_victims) {
  ++result_.stats.simulations;
  for (size_t v : victims) evict_on_ledger(units_[v], true);
  std::vector<Binding> placed;
  auto placed_all = place_on_ledger(state_, ledger_, p.job, p.pods, cycle_options_);
  bool ok = placed_all.has_value();
  if (ok) placed = *placed_all;
  std::vector<Binding> moved;
  if (ok && place_victims) {
    for (size_t v : victims) {
      auto again = place_on_ledger(state_, ledger_, units_[v].job, units_[v].pods, cycle_options_);
      if (!again) {
        ok = false;
        break;
      }
      moved.insert(moved.end(), again->begin(), again->end());
    }
  }
  auto undo = [this](const std::vector<Binding>& bindings) {
    for (const Binding& b : bindings) {
      ledger_.give(node_id(b.node), state_.find_pod(b.pod)->requests);
    }
  };
  undo(moved);
  undo(placed);
  for (size_t v : victims) evict_on_ledger(units_[v], false);
  if (!ok) return std::nullopt;
  return placed;
}

// Queue limits hold on the preemptor's queue and every ancestor once its victims are gone.
bool Planner::within_limits(const Preemptor& p, const std::vector<size_t>& victims) const {
  for (QueueIndex q : path(p.leaf)) {
    ResourceVector after = allocated_[q] + p.charge;
    for (size_t v : victims) {
      for (QueueIndex vq : path(units_[v].leaf)) {
        if (vq == q) after -= units_[v].charge;
      }
    }
    for (size_t i = 0; i < p.charge.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (p.charge[r] > 0 && after[r] > tree_.node(q).limit_of(r)) return false;
    }
  }
  return true;
}

// Greedy: take candidates in victim order while `accept` allows, simulating once the freed
// capacity could be enough (then after every doubling of the victim count); on success, drop the
// victims the placement did not need, newest choice first.
std::optional<std::vector<size_t>> Planner::choose_victims(const Preemptor& p,
                                                           const std::vector<size_t>& candidates,
                                                           const Accept& accept,
                                                           std::vector<Binding>* placements) {
  ResourceVector free_total = free_total_;
  std::vector<size_t> chosen;
  size_t pods = 0;
  size_t next_trial = 1;
  std::optional<std::vector<Binding>> placed;
  bool tested_last = true;
  for (size_t candidate : candidates) {
    const Unit& unit = units_[candidate];
    if (unit.part == 2 && std::find(chosen.begin(), chosen.end(), unit.sibling) == chosen.end()) {
      continue;  // a gang's minimum goes only after its extras
    }
    if (pods + unit.pods.size() > options_.max_victims) continue;
    if (!accept.allows(candidate)) continue;
    accept.take(candidate);
    chosen.push_back(candidate);
    pods += unit.pods.size();
    free_total += unit.charge;
    tested_last = false;
    if (!p.charge.fits_in(free_total) || chosen.size() < next_trial) continue;
    if (!within_limits(p, chosen)) continue;
    tested_last = true;
    placed = simulate(p, chosen, false);
    if (placed) break;
    next_trial = chosen.size() * 2;
    if (out_of_time()) return std::nullopt;
  }
  if (!placed && !tested_last && p.charge.fits_in(free_total) && within_limits(p, chosen)) {
    placed = simulate(p, chosen, false);
  }
  if (!placed) {
    // Enough capacity in victim order did not make the job fit: the freed room is scattered
    // over nodes. Choose victims node by node instead.
    if (out_of_time()) return std::nullopt;
    return victims_by_node(p, candidates, accept, placements);
  }
  size_t trials = 0;
  for (size_t k = chosen.size(); k-- > 0 && trials < kMaxTrimTrials && chosen.size() > 1;) {
    const Unit& unit = units_[chosen[k]];
    // Keeping a gang's extras while evicting its minimum would leave it below minMember.
    if (unit.part == 1 && std::find(chosen.begin(), chosen.end(), unit.sibling) != chosen.end()) {
      continue;
    }
    std::vector<size_t> fewer = chosen;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(k));
    if (!within_limits(p, fewer)) continue;
    ++trials;
    if (auto again = simulate(p, fewer, false)) {
      chosen = std::move(fewer);
      placed = std::move(again);
    }
    if (out_of_time()) break;
  }
  *placements = std::move(*placed);
  return chosen;
}

// For each pod of the preemptor in turn: the node where it fits with the fewest victims' pods
// (victim order inside a node; a node where it fits already costs nothing). Then one simulation
// of the whole placement decides.
std::optional<std::vector<size_t>> Planner::victims_by_node(const Preemptor& p,
                                                            const std::vector<size_t>& candidates,
                                                            const Accept& accept,
                                                            std::vector<Binding>* placements) {
  accept.reset();
  const auto& pods = state_.pods();
  const auto& nodes = state_.nodes();
  std::unordered_map<NodeId, std::vector<size_t>> on_node;
  for (size_t c : candidates) {
    std::vector<NodeId> seen;
    for (PodId pod : units_[c].pods) {
      const NodeId node = pods[pod].node;
      if (std::find(seen.begin(), seen.end(), node) != seen.end()) continue;
      seen.push_back(node);
      on_node[node].push_back(c);
    }
  }
  auto freed_on = [&](const Unit& unit, NodeId node) {
    ResourceVector freed;
    for (PodId pod : unit.pods) {
      if (pods[pod].node == node) freed += pods[pod].requests;
    }
    return freed;
  };
  std::vector<char> is_chosen(units_.size(), 0);
  std::vector<size_t> chosen;
  size_t victim_pods = 0;
  std::vector<ResourceVector> delta(nodes.size());  // freed by victims minus planned pods
  for (PodId wanted : p.pods) {
    const PodRecord& pod = pods[wanted];
    size_t best_cost = std::numeric_limits<size_t>::max();
    NodeId best_node = kNoNode;
    std::vector<size_t> best_units;
    for (NodeId node = 0; node < nodes.size() && best_cost > 0; ++node) {
      if (!nodes[node].schedulable()) continue;
      ResourceVector free = ledger_.free(node) + delta[node];
      const bool fits_now = pod.requests.fits_in(free);
      const auto it = on_node.find(node);
      if (!fits_now && it == on_node.end()) continue;
      if (!filter_node(pod.pod, nodes[node].node).fits()) continue;
      if (fits_now) {
        best_cost = 0;
        best_node = node;
        best_units.clear();
        break;
      }
      std::vector<size_t> picks;
      size_t cost = 0;
      for (size_t u : it->second) {
        if (is_chosen[u] != 0) continue;
        const Unit& unit = units_[u];
        if (unit.part == 2 && is_chosen[unit.sibling] == 0 &&
            std::find(picks.begin(), picks.end(), unit.sibling) == picks.end()) {
          continue;
        }
        if (!accept.allows(u)) continue;
        picks.push_back(u);
        cost += unit.pods.size();
        if (cost >= best_cost) break;
        free += freed_on(unit, node);
        if (pod.requests.fits_in(free)) break;
      }
      if (cost < best_cost && pod.requests.fits_in(free)) {
        best_cost = cost;
        best_node = node;
        best_units = std::move(picks);
      }
    }
    if (best_node == kNoNode) return std::nullopt;
    for (size_t u : best_units) {
      if (!accept.allows(u)) return std::nullopt;
      accept.take(u);
      is_chosen[u] = 1;
      chosen.push_back(u);
      victim_pods += units_[u].pods.size();
      for (PodId pod_id : units_[u].pods) delta[pods[pod_id].node] += pods[pod_id].requests;
    }
    delta[best_node] -= pod.requests;
    if (victim_pods > options_.max_victims || out_of_time()) return std::nullopt;
  }
  if (chosen.empty() || !within_limits(p, chosen)) return std::nullopt;
  auto placed = simulate(p, chosen, false);
  if (!placed) return std::nullopt;
  *placements = std::move(*placed);
  return chosen;
}

std::optional<PreemptionPlan> Planner::preempt(const Preemptor& p) {
  const std::string& job = state_.jobs()[p.job].key;
  std::vector<size_t> candidates;
  for (size_t i = 0; i < units_.size(); ++i) {
    const Unit& unit = units_[i];
    if (unit.used || unit.leaf != p.leaf || unit.priority >= p.priority) continue;
    if (unit.preempt_protected) continue;
    if (memory_.cooling_down(job, state_.jobs()[unit.job].key, start_)) continue;
    candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;
  order(candidates, false);
  std::vector<Binding> placements;
  const auto victims = choose_victims(p, candidates, accept_all(), &placements);
  if (!victims) return std::nullopt;
  return commit(PreemptionAction::kPreempt, p, *victims, std::move(placements), false);
}

// Reclaim compares the two queues at the level where their paths diverge: below that level, the
// reclaimer's side must stay within its fair share (or its deserved quota) with the job placed,
// and the victim's side must be above its fair share and stay at or above it after the evictions.
// Only resources the preemptor asks for count, and on the victim's side only those it is
// rationed on (its fair share is below its demand): a queue that gets all it asks of a resource
// is not over its share of it.
std::optional<PreemptionPlan> Planner::reclaim(const Preemptor& p) {
  const std::string& job = state_.jobs()[p.job].key;
  const std::vector<QueueIndex> mine = path(p.leaf);
  std::vector<ResourceId> asked;
  for (size_t i = 0; i < p.charge.size(); ++i) {
    if (p.charge[static_cast<ResourceId>(i)] > 0) asked.push_back(static_cast<ResourceId>(i));
  }
  // Reclaimer side, queue by queue from the leaf up: allowed while within share or quota.
  std::vector<char> may_reclaim(mine.size(), 0);
  bool ok = true;
  for (size_t k = 0; k < mine.size(); ++k) {
    const QueueIndex q = mine[k];
    for (ResourceId r : asked) {
      const double after = static_cast<double>(allocated_[q][r] + p.charge[r]);
      const double bound =
          std::max(shares_.share(q, r), static_cast<double>(shares_.deserved[q][r]));
      if (above(after, bound)) ok = false;
    }
    may_reclaim[k] = ok ? 1 : 0;
    if (k == 0 && !ok) return std::nullopt;  // the leaf itself is at its share
  }

  // Per candidate: the victim-side path below the divergence point.
  std::unordered_map<size_t, std::vector<QueueIndex>> sides;
  std::vector<size_t> candidates;
  for (size_t i = 0; i < units_.size(); ++i) {
    const Unit& unit = units_[i];
    if (unit.used || unit.leaf == p.leaf || unit.reclaim_protected) continue;
    if (memory_.cooling_down(job, state_.jobs()[unit.job].key, start_)) continue;
    std::vector<QueueIndex> theirs = path(unit.leaf);
    // Strip the common ancestors: what is left are the two sides below the divergence.
    size_t common = 0;
    while (common < theirs.size() && common < mine.size() &&
           theirs[theirs.size() - 1 - common] == mine[mine.size() - 1 - common]) {
      ++common;
    }
    const size_t my_side = mine.size() - common;  // queues of mine below the divergence
    if (my_side == 0 || may_reclaim[my_side - 1] == 0) continue;
    theirs.resize(theirs.size() - common);
    const QueueIndex top = theirs.back();
    bool over = false;
    for (ResourceId r : asked) {
      if (above(static_cast<double>(allocated_[top][r]), shares_.share(top, r))) over = true;
    }
    if (!over) continue;
    sides.emplace(i, std::move(theirs));
    candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;
  order(candidates, true);

  // What the victims chosen so far take from each queue, to keep every victim queue at or above
  // its fair share.
  std::unordered_map<QueueIndex, ResourceVector> removed;
  Accept accept;
  accept.allows = [&](size_t candidate) {
    const Unit& unit = units_[candidate];
    for (QueueIndex q : sides.at(candidate)) {
      ResourceVector after = allocated_[q] - unit.charge;
      if (const auto it = removed.find(q); it != removed.end()) after -= it->second;
      for (ResourceId r : asked) {
        const double share = shares_.share(q, r);
        const bool rationed = above(static_cast<double>(shares_.demand[q][r]), share);
        if (unit.charge[r] > 0 && rationed && above(share, static_cast<double>(after[r]))) {
          return false;
        }
      }
    }
    return true;
  };
  accept.take = [&](size_t candidate) {
    for (QueueIndex q : sides.at(candidate)) removed[q] += units_[candidate].charge;
  };
  accept.reset = [&] { removed.clear(); };
  std::vector<Binding> placements;
  const auto victims = choose_victims(p, candidates, accept, &placements);
  if (!victims) return std::nullopt;
  return commit(PreemptionAction::kReclaim, p, *victims, std::move(placements), false);
}

// Consolidation: there is room in total, only scattered. For each pod of the preemptor, pick the
// node where the fewest movable pods (preemptible, not above the preemptor's priority, past their
// preemptMinRuntime) make it fit; commit only if the preemptor and every moved pod then place.
std::optional<PreemptionPlan> Planner::consolidate(const Preemptor& p) {
  if (!p.charge.fits_in(free_total_)) return std::nullopt;
  // Moved pods stay charged to their queues: a preemptor its queue limits keep out gains nothing.
  if (!within_limits(p, {})) return std::nullopt;
  const std::string& job = state_.jobs()[p.job].key;

  if (!units_by_node_ready_) {
    // Built once per pass: units (a gang's minimum excluded) by node, in victim order.
    for (size_t i = 0; i < units_.size(); ++i) {
      if (units_[i].part == 2) continue;
      std::vector<NodeId> seen;
      for (PodId pod : units_[i].pods) {
        const NodeId node = state_.pods()[pod].node;
        if (std::find(seen.begin(), seen.end(), node) != seen.end()) continue;
        seen.push_back(node);
        units_by_node_[node].push_back(i);
      }
    }
    for (auto& [node, units] : units_by_node_) order(units, true);
    units_by_node_ready_ = true;
  }
  const auto& by_node = units_by_node_;
  auto movable = [&](size_t u) {
    const Unit& unit = units_[u];
    return !unit.used && unit.priority <= p.priority && !unit.preempt_protected &&
           !memory_.cooling_down(job, state_.jobs()[unit.job].key, start_);
  };

  // Candidate moves for the first pod, cheapest first; the gang's other pods follow greedily.
  struct Option {
    size_t pods;
    NodeId node;
    std::vector<size_t> units;
  };
  auto options_for = [&](const PodRecord& pod, const std::vector<size_t>& already,
                         const std::unordered_map<NodeId, ResourceVector>& used) {
    std::vector<Option> found;
    for (const auto& [node, units] : by_node) {
      const NodeRecord& record = state_.nodes()[node];
      ResourceVector free = ledger_.free(node);
      if (auto it = used.find(node); it != used.end()) free -= it->second;
      for (size_t u : already) {
        for (PodId victim : units_[u].pods) {
          if (state_.pods()[victim].node == node) free += state_.pods()[victim].requests;
        }
      }
      Option option{0, node, {}};
      for (size_t u : units) {
        if (pod.requests.fits_in(free)) break;
        if (!movable(u)) continue;
        if (std::find(already.begin(), already.end(), u) != already.end()) continue;
        option.units.push_back(u);
        option.pods += units_[u].pods.size();
        for (PodId victim : units_[u].pods) {
          if (state_.pods()[victim].node == node) free += state_.pods()[victim].requests;
        }
      }
      if (option.units.empty() || !pod.requests.fits_in(free)) continue;
      if (!filter_node(pod.pod, record.node).fits()) continue;
      found.push_back(std::move(option));
    }
    std::sort(found.begin(), found.end(), [](const Option& a, const Option& b) {
      return std::tie(a.pods, a.node) < std::tie(b.pods, b.node);
    });
    return found;
  };

  const PodRecord& first = state_.pods()[p.pods.front()];
  const std::vector<Option> starts = options_for(first, {}, {});
  uint32_t trials = 0;
  for (const Option& start : starts) {
    if (trials++ >= options_.max_consolidation_trials || out_of_time()) break;
    std::vector<size_t> victims = start.units;
    std::unordered_map<NodeId, ResourceVector> used;
    used[start.node] += first.requests;
    bool ok = true;
    for (size_t k = 1; k < p.pods.size() && ok; ++k) {
      const PodRecord& pod = state_.pods()[p.pods[k]];
      // A pod that fits somewhere already needs no move.
      bool fits = false;
      for (NodeId node = 0; node < state_.nodes().size() && !fits; ++node) {
        if (!state_.nodes()[node].schedulable()) continue;
        ResourceVector free = ledger_.free(node);
        if (auto it = used.find(node); it != used.end()) free -= it->second;
        if (pod.requests.fits_in(free) && filter_node(pod.pod, state_.nodes()[node].node).fits()) {
          used[node] += pod.requests;
          fits = true;
        }
      }
      if (fits) continue;
      const std::vector<Option> next = options_for(pod, victims, used);
      if (next.empty()) {
        ok = false;
        break;
      }
      victims.insert(victims.end(), next.front().units.begin(), next.front().units.end());
      used[next.front().node] += pod.requests;
    }
    size_t pods = 0;
    for (size_t v : victims) pods += units_[v].pods.size();
    if (!ok || pods > options_.max_victims) continue;
    if (auto placements = simulate(p, victims, true)) {
      return commit(PreemptionAction::kConsolidate, p, victims, std::move(*placements), true);
    }
  }
  return std::nullopt;
}

std::unordered_set<JobId> Planner::stale_gangs() {
  std::unordered_set<JobId> stale;
  if (options_.stale_gang_grace_ms <= 0) return stale;
  for (JobId id = 0; id < state_.jobs().size(); ++id) {
    const JobRecord& job = state_.jobs()[id];
    const auto since = memory_.partial_since(job.key);
    if (!job.present || !since) continue;
    TimeMs grace = options_.stale_gang_grace_ms;
    if (const PodGroup* group = state_.find_pod_group(job.key);
        group != nullptr && group->schedule_timeout_seconds &&
        *group->schedule_timeout_seconds > 0) {
      grace = *group->schedule_timeout_seconds * 1000;
    }
    if (start_ - *since < grace) continue;
    PreemptionPlan plan;
    plan.action = PreemptionAction::kStaleGang;
    plan.preemptor = job.key;
    plan.queue = job.queue;
    for (PodId pod : job.all) {
      const PodRecord& record = state_.pods()[pod];
      // Terminating already (an earlier round), or a bind still in flight: not taken back.
      if (!record.counted_bound || record.pod.deleting || record.assumed) continue;
      plan.victims.push_back({record.pod.key(), record.pod.uid,
                              state_.nodes()[record.node].node.name, job.key, job.queue, ""});
    }
    if (plan.victims.empty()) continue;
    stale.insert(id);
    for (Unit& unit : units_) {
      if (unit.job == id) unit.used = true;  // no other plan counts on these pods
    }
    plan.message = fmt::format(
        "stale-gang for {}: evicting its {} bound pod(s): {} of minMember {} bound for {} s "
        "(grace {} s), so the gang can start again whole",
        job.key, plan.victims.size(), job.bound, job.min_member, (start_ - *since) / 1000,
        grace / 1000);
    result_.plans.push_back(std::move(plan));
  }
  return stale;
}

// Applies a plan to the pass's view (ledger and queue totals), so later plans build on it.
PreemptionPlan Planner::commit(PreemptionAction action, const Preemptor& p,
                               const std::vector<size_t>& victims, std::vector<Binding> placements,
                               bool place_victims) {
  const JobRecord& job = state_.jobs()[p.job];
  PreemptionPlan plan;
  plan.action = action;
  plan.preemptor = job.key;
  plan.queue = job.queue;
  for (PodId pod : p.pods) plan.preemptor_pods.push_back(state_.pods()[pod].pod.key());
  std::set<std::string> victim_jobs;
  std::set<std::string> victim_queues;
  for (size_t v : victims) {
    Unit& unit = units_[v];
    unit.used = true;
    evict_on_ledger(unit, true);
    free_total_ += unit.charge;
    const JobRecord& victim_job = state_.jobs()[unit.job];
    victim_jobs.insert(victim_job.key);
    victim_queues.insert(victim_job.queue);
    for (PodId pod : unit.pods) {
      const PodRecord& record = state_.pods()[pod];
      const bool idle_first = unit.idle_first && action != PreemptionAction::kPreempt;
      plan.victims.push_back({record.pod.key(), record.pod.uid,
                              state_.nodes()[record.node].node.name, victim_job.key,
                              victim_job.queue, idle_first ? unit.idle_note : std::string()});
    }
    if (!place_victims) {
      for (QueueIndex q : path(unit.leaf)) allocated_[q] -= unit.charge;
    }
  }
  for (const Binding& b : placements) {
    const ResourceVector& requests = state_.find_pod(b.pod)->requests;
    ledger_.take(node_id(b.node), requests);
    free_total_ -= queue_charge(requests);
    Nomination& nomination = plan.nominations.emplace_back();
    nomination.job = job.key;
    nomination.node = b.node;
    nomination.amount += requests;
  }
  if (place_victims) {
    // Moved pods need their new places too; keep them out of later plans' reach.
    for (size_t v : victims) {
      if (place_on_ledger(state_, ledger_, units_[v].job, units_[v].pods, cycle_options_)) {
        free_total_ -= units_[v].charge;
      }
    }
  }
  for (QueueIndex q : path(p.leaf)) allocated_[q] += p.charge;
  plan.placements = std::move(placements);

  std::string queues;
  for (const std::string& q : victim_queues) queues += (queues.empty() ? "\"" : ", \"") + q + "\"";
  const char* why = action == PreemptionAction::kPreempt ? "of lower priority in the same queue"
                    : action == PreemptionAction::kReclaim
                        ? "above their fair share"
                        : "moved so the job's GPUs are not scattered";
  plan.message = fmt::format("{} for {}: evicting {} pod(s) of {} job(s) in queue(s) {} ({})",
                             action_name(action), job.key, plan.victims.size(), victim_jobs.size(),
                             queues, why);
  return plan;
}

}  // namespace

PlanResult plan_preemptions(ClusterState& state, const PreemptionMemory& memory,
                            const PlannerOptions& options, const std::function<TimeMs()>& now) {
  return Planner(state, memory, options, now).run();
}

}  // namespace fairway
