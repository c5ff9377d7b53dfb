#include "sim/driver.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "scheduler/state/gpu_sharing.h"

namespace fairway::sim {
namespace {

constexpr double kMilli = 1000.0;

TimeMs align_up(TimeMs time, TimeMs period) {
  return (time + period - 1) / period * period;
}

}  // namespace

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kAllJobsDone:
      return "all jobs finished";
    case StopReason::kDurationReached:
      return "durationSeconds reached";
    case StopReason::kStalled:
      return "stalled: pending jobs can never fit";
    case StopReason::kHardCap:
      return "hard time cap reached";
  }
  return "unknown";
}

JobOutcome job_outcome(const JobArrival& arrival, const JobStreamSpec& stream) {
  JobOutcome job;
  job.name = arrival.name;
  job.queue = stream.queue.empty() ? std::string(kDefaultQueueName) : stream.queue;
  job.stream = arrival.stream;
  job.pods = stream.pods;
  if (auto gpu = stream.requests.find(kGpuResourceName); gpu != stream.requests.end()) {
    job.gpus = gpu->second * stream.pods;
  }
  if (stream.gpu_fraction > 0) {
    job.gpus = std::llround(stream.gpu_fraction * kMilli) * stream.pods;
  }
  job.arrival_ms = arrival.arrival_ms;
  // A gang named by its pods' annotations is what the scenario wrote; a workload's gang is
  // whatever fairway infers, filled in by the driver from what the scheduler reports.
  if (stream.workload == SimWorkload::kNone && stream.pods > 1) {
    job.gang = std::string(kPodGroupAnnotationSource);
    job.min_member = stream.min_member;
  }
  return job;
}

namespace {

// The scheduler service's loop on the simulated clock: a cycle every tick (usage over time moves
// fair shares with the clock alone, and every tick is sampled), usage advanced every tick, the
// pass only after changes (see DriverOptions), nothing written to an API server.
SchedulerConfig scheduler_config(const Scenario& scenario, const DriverOptions& options) {
  SchedulerConfig config;
  config.state.usage = scenario.usage;
  config.cycle = options.cycle;
  config.preemption.period = std::chrono::milliseconds(options.preemption_period_ms);
  config.preemption.no_plan_backoff = std::chrono::milliseconds(options.no_plan_backoff_ms);
  config.preemption.only_after_changes = true;
  config.preemption.planner = options.planner;
  config.preemption.planner.cycle = options.cycle;
  config.schedule_period = std::chrono::milliseconds(0);
  config.usage_period = std::chrono::milliseconds(0);
  config.cycle_when_unchanged = true;
  config.api_writes = false;
  return config;
}

TimeMs as_ms(Clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

SimDriver::SimDriver(Scenario scenario, DriverOptions options)
    : scenario_(std::move(scenario)),
      options_(std::move(options)),
      clock_(std::chrono::system_clock::time_point{}, Clock::duration::zero()),
      scheduler_(scheduler_config(scenario_, options_), clock_),
      state_(scheduler_.state()) {
  result_.scenario = scenario_.name;
  result_.description = scenario_.description;
  result_.report_every_ms = scenario_.report_every_ms;
  result_.cycle_period_ms = scenario_.cycle_period_ms;

  for (Node& node : build_nodes(scenario_)) {
    state_.upsert_node(std::move(node));
    ++result_.nodes;
  }
  for (const QueueSpec& queue : scenario_.queues) state_.upsert_queue(queue);
  for (const TopologySpec& topology : scenario_.topologies) state_.upsert_topology(topology);
  // The kinds the embedded API server serves to the live run's scheduler (Jobs built in, the
  // PyTorchJob CRD installed by the live driver): the same owner inference in both drivers.
  state_.set_workload_kind_watched("batch", "Job");
  state_.set_workload_kind_watched("kubeflow.org", "PyTorchJob");
  result_.gpu_capacity = static_cast<double>(state_.capacity()[kGpu]) / kMilli;

  arrivals_ = expand_arrivals(scenario_);
  result_.jobs.reserve(arrivals_.size());
  job_pods_.resize(arrivals_.size());
  for (size_t i = 0; i < arrivals_.size(); ++i) {
    const JobArrival& arrival = arrivals_[i];
    const JobStreamSpec& stream = scenario_.jobs[arrival.stream];
    result_.jobs.push_back(job_outcome(arrival, stream));
    // The cycle names a job "namespace/pod-group" for gangs and "namespace/pod" for single pods
    // (build_pods names a single pod after its job), "namespace/<kind>-<name>" for a workload's.
    job_by_key_.emplace(cycle_job_key(arrival, stream), i);
  }

  // Report order: depth first from the roots, children in the tree's (name) order.
  const QueueTree& tree = state_.queue_tree();
  std::function<void(QueueIndex)> visit = [&](QueueIndex index) {
    const QueueNode& node = tree.node(index);
    QueueInfo info;
    info.name = node.name;
    info.parent = node.parent == kNoQueue ? "" : tree.node(node.parent).name;
    info.depth = node.depth;
    info.leaf = node.is_leaf();
    result_.queues.push_back(std::move(info));
    queue_order_.push_back(index);
    for (QueueIndex child : node.children) visit(child);
  };
  for (QueueIndex root : tree.roots()) visit(root);
}

SimResult SimDriver::run() {
  const TimeMs period = scenario_.cycle_period_ms;
  const TimeMs last_arrival = arrivals_.empty() ? 0 : arrivals_.back().arrival_ms;
  const TimeMs stop_at =
      scenario_.duration_ms.value_or(last_arrival + options_.hard_cap_after_last_arrival_ms);

  TimeMs now = 0;
  while (true) {
    finish_jobs(now);
    admit_arrivals(now);
    const Decisions decided = scheduler_.step(Instant::of(clock_), {});
    const bool evicted = play(decided, now);
    const CycleResult& cycled = *decided.cycle;
    record(now, cycled);
    if (ended_ == result_.jobs.size()) {
      result_.stop = StopReason::kAllJobsDone;
      result_.end_ms = now;
      break;
    }
    TimeMs next = now + period;
    if (decided.binds.empty() && !evicted) {
      const auto event = next_event();
      if (!event) {
        // Nothing can change any more; running on to durationSeconds would only dilute the
        // averages with a frozen state.
        result_.stop = StopReason::kStalled;
        result_.end_ms = now;
        break;
      }
      next = std::max(next, align_up(*event, period));
    }
    if (next > stop_at) {
      result_.stop = scenario_.duration_ms ? StopReason::kDurationReached : StopReason::kHardCap;
      result_.end_ms = stop_at;
      break;
    }
    result_.idle_ticks_skipped += static_cast<uint64_t>((next - now) / period - 1);
    clock_.advance(std::chrono::milliseconds(next - now));
    now = next;
  }
  return std::move(result_);
}

void SimDriver::finish_jobs(TimeMs now) {
  while (!running_.empty() && running_.front().finish_ms <= now) {
    std::pop_heap(running_.begin(), running_.end(), finishes_later);
    const Running done = running_.back();
    running_.pop_back();
    if (result_.jobs[done.job].evicted()) continue;  // ended already, by eviction
    // What a kubelet and a job controller do: the pods succeed, then get deleted.
    for (Pod& pod : job_pods_[done.job]) {
      pod.phase = PodPhase::kSucceeded;
      state_.upsert_pod(pod);
      state_.remove_pod(pod.key());
    }
    job_pods_[done.job].clear();
    release_idle_gpus();
    result_.jobs[done.job].finished_ms = done.finish_ms;
    ++ended_;
    scheduler_.state_changed();
  }
}

void SimDriver::admit_arrivals(TimeMs now) {
  while (next_arrival_ < arrivals_.size() && arrivals_[next_arrival_].arrival_ms <= now) {
    const JobArrival& arrival = arrivals_[next_arrival_];
    const JobStreamSpec& stream = scenario_.jobs[arrival.stream];
    // As an operator does: the workload first, then its pods.
    if (auto workload = build_workload(arrival, stream)) state_.upsert_workload(*workload);
    if (auto group = build_pod_group(arrival, stream)) state_.upsert_pod_group(*group);
    job_pods_[next_arrival_] = build_pods(arrival, stream);
    for (const Pod& pod : job_pods_[next_arrival_]) state_.upsert_pod(pod);
    if (stream.workload != SimWorkload::kNone) note_gang(next_arrival_);
    ++next_arrival_;
    scheduler_.state_changed();
  }
}

// The gang fairway inferred for a workload's pods, as the live run reads it from the PodGroup
// the scheduler writes.
void SimDriver::note_gang(size_t job) {
  const PodRecord* pod = state_.find_pod(job_pods_[job].front().key());
  if (pod == nullptr || pod->job >= state_.jobs().size()) return;
  const JobRecord& record = state_.jobs()[pod->job];
  if (!record.inferred()) return;
  result_.jobs[job].gang = "inferred from " + record.inferred_from;
  result_.jobs[job].min_member = record.min_member;
}

bool SimDriver::play(const Decisions& decided, TimeMs now) {
  const CycleResult& cycled = *decided.cycle;
  ++result_.cycles_run;
  result_.pods_bound += decided.binds.size();
  result_.diagnoses += cycled.stats.diagnoses;
  for (const Binding& binding : decided.binds) bound(binding, now);

  result_.pending.clear();
  for (const PendingJob& pending : cycled.pending) {
    result_.pending.push_back(
        {job_name(pending.job), pending.queue, reason_name(pending.reason), pending.message});
  }
  std::sort(result_.pending.begin(), result_.pending.end(),
            [](const PendingJobInfo& a, const PendingJobInfo& b) { return a.job < b.job; });

  bool evicted = false;
  for (const PreemptionPlan& plan : decided.evictions) {
    for (const Victim& victim : plan.victims) evicted = evict(plan, victim, now) || evicted;
  }
  return evicted;
}

void SimDriver::bound(const Binding& binding, TimeMs now) {
  const auto job_it = job_by_key_.find(binding.job);
  if (job_it == job_by_key_.end()) return;  // not a pod the driver created
  const size_t job = job_it->second;
  // The kubelet: the pod starts on its node at once. The update is built from the driver's own
  // copy, because the state keeps pods without their containers.
  for (Pod& pod : job_pods_[job]) {
    if (pod.key() != binding.pod) continue;
    pod.node_name = binding.node;
    pod.phase = PodPhase::kRunning;
    share_gpus(pod, binding);
    state_.upsert_pod(pod);
  }
  JobOutcome& outcome = result_.jobs[job];
  if (outcome.gpu_group.empty() && !binding.shares.empty()) {
    outcome.gpu_group = binding.shares.front().group;
  }
  if (!outcome.first_bound_ms) outcome.first_bound_ms = now;
  if (++outcome.pods_bound == outcome.pods) {
    outcome.started_ms = now;
    running_.push_back({now + scenario_.jobs[outcome.stream].duration_ms, job});
    std::push_heap(running_.begin(), running_.end(), finishes_later);
  }
}

// A fractional pod's binding, as the reservation manager (scheduler/service/reservations) and the
// device plugin carry it out: a new shared GPU gets its reservation pod (one whole GPU, the
// agent's UUID annotation), and the pod is labelled with the GPU groups it joins.
void SimDriver::share_gpus(Pod& pod, const Binding& binding) {
  if (binding.shares.empty()) return;
  std::string groups;
  for (const GpuShare& share : binding.shares) {
    groups += (groups.empty() ? "" : ",") + share.group;
    const std::string key = fmt::format("{}/{}", kDefaultReservationNamespace, share.group);
    if (!share.reserve || state_.find_pod(key) != nullptr) continue;
    Pod reservation;
    reservation.namespace_ = std::string(kDefaultReservationNamespace);
    reservation.name = share.group;
    reservation.uid = "uid-reservation-" + share.group;
    reservation.scheduler_name = "default-scheduler";
    reservation.node_name = binding.node;
    reservation.phase = PodPhase::kRunning;
    reservation.labels[std::string(kGpuGroupLabel)] = share.group;
    reservation.annotations[std::string(kGpuUuidAnnotation)] = "GPU-sim-" + share.group;
    Container holder;
    holder.name = "reserve";
    holder.requests[std::string(kGpuResourceName)] = 1000;
    reservation.containers.push_back(std::move(holder));
    state_.upsert_pod(reservation);
  }
  pod.labels[std::string(kGpuGroupLabel)] = binding.shares.front().group;
  if (binding.shares.size() > 1) pod.annotations[std::string(kGpuGroupsAnnotation)] = groups;
}

// Reservation pods that hold a GPU for nobody any more go, as the reservation manager deletes
// them, and their GPU returns to the node.
void SimDriver::release_idle_gpus() {
  for (GroupId group : state_.gpu_sharing().idle()) {
    state_.remove_pod(fmt::format("{}/{}", kDefaultReservationNamespace,
                                  state_.gpu_sharing().gpus()[group].group));
  }
}

// The scenario's name of the job the cycle files under `cycle_key` (a workload's gang is
// "sim/<kind>-<job>"), else the key without its namespace.
std::string SimDriver::job_name(const std::string& cycle_key) const {
  if (auto known = job_by_key_.find(cycle_key); known != job_by_key_.end()) {
    return result_.jobs[known->second].name;
  }
  if (cycle_key.starts_with(kSimNamespace) && cycle_key.size() > kSimNamespace.size()) {
    return cycle_key.substr(kSimNamespace.size() + 1);
  }
  return cycle_key;
}

// The Eviction API and the kubelet at once: the victim stops (phase Failed) and is removed. Its
// job loses the pod for good; a job whose every pod was evicted has ended without completing.
bool SimDriver::evict(const PreemptionPlan& plan, const Victim& victim, TimeMs now) {
  const auto job_it = job_by_key_.find(victim.job);
  if (job_it == job_by_key_.end()) return false;  // not a pod the driver created
  const size_t job = job_it->second;
  std::vector<Pod>& pods = job_pods_[job];
  const auto pod = std::find_if(pods.begin(), pods.end(),
                                [&victim](const Pod& p) { return p.key() == victim.pod; });
  if (pod == pods.end()) return false;
  Eviction eviction;
  eviction.time_ms = now;
  eviction.action = action_name(plan.action);
  eviction.pod = pod->name;
  pod->phase = PodPhase::kFailed;
  state_.upsert_pod(*pod);
  state_.remove_pod(pod->key());
  pods.erase(pod);
  release_idle_gpus();
  scheduler_.state_changed();

  JobOutcome& outcome = result_.jobs[job];
  eviction.job = outcome.name;
  eviction.queue = outcome.queue;
  if (plan.action != PreemptionAction::kStaleGang) {
    eviction.for_job = job_name(plan.preemptor);
    eviction.for_queue = plan.queue;
  }
  result_.evictions.push_back(std::move(eviction));
  if (++outcome.pods_evicted == outcome.pods) {
    outcome.evicted_ms = now;
    ++ended_;
  }
  return true;
}

void SimDriver::record(TimeMs now, const CycleResult& cycled) {
  const QueueTree& tree = state_.queue_tree();
  std::vector<double> allocated(tree.size(), 0);
  std::vector<uint32_t> pending(tree.size(), 0);
  auto add_up = [&tree](QueueIndex leaf, auto&& add) {
    for (QueueIndex q = leaf; q != kNoQueue; q = tree.node(q).parent) add(q);
  };
  for (const auto& [name, usage] : state_.queue_usage()) {
    const auto leaf = tree.find(name);
    if (!leaf) continue;
    const double gpus = static_cast<double>(usage.allocated[kGpu]) / kMilli;
    add_up(*leaf, [&](QueueIndex q) { allocated[q] += gpus; });
  }
  for (const auto& [name, jobs] : state_.pending_jobs()) {
    const auto leaf = tree.find(name);
    if (!leaf) continue;
    uint32_t pods = 0;
    for (JobId id : jobs) pods += static_cast<uint32_t>(state_.jobs()[id].pending.size());
    add_up(*leaf, [&](QueueIndex q) { pending[q] += pods; });
  }

  Sample sample;
  sample.time_ms = now;
  for (const NodeRecord& node : state_.nodes()) {
    if (node.present) sample.allocated_gpu += static_cast<double>(node.used[kGpu]) / kMilli;
  }
  sample.queues.reserve(queue_order_.size());
  for (QueueIndex q : queue_order_) {
    QueueSample entry;
    entry.fair_share_gpu = cycled.shares.share(q, kGpu) / kMilli;
    entry.allocated_gpu = allocated[q];
    entry.pending_pods = pending[q];
    sample.queues.push_back(entry);
  }
  result_.samples.push_back(std::move(sample));
}

std::optional<TimeMs> SimDriver::next_event() const {
  std::optional<TimeMs> next;
  if (next_arrival_ < arrivals_.size()) next = arrivals_[next_arrival_].arrival_ms;
  if (!running_.empty()) {
    next = next ? std::min(*next, running_.front().finish_ms) : running_.front().finish_ms;
    // A pass may evict for a waiting job while something runs that could make room.
    if (const auto pass = scheduler_.next_pass_due(); pass != Clock::time_point::max()) {
      next = std::min(*next, std::max<TimeMs>(0, as_ms(pass)));
    }
  }
  return next;
}

SimResult simulate(const Scenario& scenario, const DriverOptions& options) {
  return SimDriver(scenario, options).run();
}

}  // namespace fairway::sim
