#pragma once
// SimDriver: runs a scenario against the real scheduling core, in-process, over simulated time.
//
// Time is a simulated clock (TimeMs from 0, a ManualClock) that the driver advances itself: no
// real time, no I/O, no randomness, so the same scenario always gives the same result. The
// scheduling is the scheduler service's own loop (scheduler/loop: Scheduler::step), so the
// preemption pass, shared GPUs and priority classes behave as in `fairway scheduler`. Every cycle
// period the driver, at tick `now`:
//   1. finishes jobs whose run time is over (their pods go to phase Succeeded, then are removed);
//   2. creates the pods of jobs that arrived by `now` (creationTimestamp = the exact arrival);
//   3. steps the Scheduler: a cycle runs and its bindings are assumed, then the preemption pass
//      runs when due (preempt, reclaim, consolidate; the capacity bought is nominated to the
//      preemptor for the next cycles);
//   4. plays the decisions out: the kubelet makes every bound pod Running on its node at once
//      (a new shared GPU gets its reservation pod); every victim of a plan is evicted, and the
//      kubelet stops it at once (phase Failed, then removed), so its job never completes;
//   5. records a sample: per-queue GPU fair share, allocated and pending pods, cluster GPU usage.
// A job runs for its durationSeconds from the moment its last pod was bound, and its wait time is
// arrival → last pod bound.
//
// Idle ticks are skipped, not approximated: when a cycle bound nothing, the pass evicted nothing
// and no job arrives or finishes (and no pass is due) before the next tick, the state is unchanged
// and a cycle would decide the same again (the cycle is deterministic), so the clock jumps to the
// tick of the next arrival or completion. Samples are therefore piecewise constant: a sample holds
// until the next one.
//
// The run stops when every job finished, at the scenario's durationSeconds, when nothing can
// change any more (no job running, none to arrive, and the pending ones do not fit: stalled), or
// at a hard cap when the scenario gives no duration.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/scheduler.h"
#include "scheduler/planner/planner.h"
#include "scheduler/state/cluster_state.h"
#include "sim/scenario.h"

namespace fairway::sim {

struct DriverOptions {
  CycleOptions cycle;
  // The preemption pass as the scheduler service runs it (PreemptionOptions::period, in
  // simulated time): every period while a job waits (0: never). The service rests a job no
  // eviction can help for 30 s to protect the pass's time budget; the in-process pass has no
  // budget to protect (its clock stands still while it plans), so by default it rests none
  // (no_plan_backoff_ms 0) and tries again whenever the state changed. The planner's placement
  // strategy is `cycle`'s.
  TimeMs preemption_period_ms = 5000;
  TimeMs no_plan_backoff_ms = 0;
  PlannerOptions planner;
  // Without a durationSeconds, stop this long after the last arrival whatever is left.
  TimeMs hard_cap_after_last_arrival_ms = 7LL * 24 * 3600 * 1000;
};

enum class StopReason { kAllJobsDone, kDurationReached, kStalled, kHardCap };
const char* stop_reason_name(StopReason reason);

// JobOutcome::gang of a job whose pods name their gang by annotation (no workload).
inline constexpr std::string_view kPodGroupAnnotationSource =
    "pods' annotation fairway.dev/pod-group";

struct JobOutcome {
  std::string name;
  std::string queue;  // the leaf queue named by the stream, "default" when none
  size_t stream = 0;
  int32_t pods = 1;
  int64_t gpus = 0;  // canonical (milli) GPUs over all pods
  TimeMs arrival_ms = 0;
  int32_t pods_bound = 0;
  // How fairway grouped the pods, as it reported it: "inferred from PyTorchJob sim/llama-ft",
  // "pods' annotation fairway.dev/pod-group"; empty for a single pod. And the gang's minMember.
  std::string gang;
  int32_t min_member = 1;
  std::optional<TimeMs> first_bound_ms;  // when its first pod was bound
  std::optional<TimeMs> started_ms;      // when its last pod was bound
  std::optional<TimeMs> finished_ms;     // started + duration, once the driver finished it
  // Pods of the job that fairway evicted (each had been bound), and when the job ended because
  // every one of its pods was evicted. An evicted job never completes.
  int32_t pods_evicted = 0;
  std::optional<TimeMs> evicted_ms;
  // Fractional pods: the shared GPU (group, e.g. "h100-3-gpu0") its first pod joined.
  std::string gpu_group;

  bool completed() const { return finished_ms.has_value(); }
  bool evicted() const { return evicted_ms.has_value(); }
  bool ended() const { return completed() || evicted(); }
  bool running() const { return started_ms.has_value() && !ended(); }
  std::optional<TimeMs> wait_ms() const {
    if (!started_ms) return std::nullopt;
    return *started_ms - arrival_ms;
  }
};

// A queue as shown in reports: in tree order (every parent before its children).
struct QueueInfo {
  std::string name;
  std::string parent;
  uint32_t depth = 0;
  bool leaf = true;
};

struct QueueSample {
  double fair_share_gpu = 0;  // whole GPUs
  double allocated_gpu = 0;   // whole GPUs, after the cycle's bindings
  uint32_t pending_pods = 0;  // summed over the subtree
};

struct Sample {
  TimeMs time_ms = 0;
  double allocated_gpu = 0;         // whole GPUs, whole cluster
  std::vector<QueueSample> queues;  // parallel to SimResult::queues
};

// One pod evicted by fairway's preemption pass, and for whom.
struct Eviction {
  TimeMs time_ms = 0;     // when the driver saw it evicted
  std::string action;     // action_name(): "preempt", "reclaim", "consolidate", "stale-gang"
  std::string pod;        // pod name (namespace sim)
  std::string job;        // the victim's job (JobOutcome::name)
  std::string queue;      // the victim's leaf queue
  std::string for_job;    // the job it made room for (JobOutcome::name); empty: stale-gang
  std::string for_queue;  // that job's leaf queue
};

struct PendingJobInfo {
  std::string job;
  std::string queue;
  std::string reason;  // PendingReason name
  std::string message;
};

struct SimResult {
  std::string scenario;
  std::string description;
  StopReason stop = StopReason::kAllJobsDone;
  TimeMs end_ms = 0;
  double gpu_capacity = 0;  // whole GPUs of ready nodes
  size_t nodes = 0;
  std::vector<QueueInfo> queues;
  std::vector<Sample> samples;      // one per cycle run, in time order
  std::vector<JobOutcome> jobs;     // in arrival order
  std::vector<Eviction> evictions;  // in time order
  uint64_t cycles_run = 0;
  uint64_t idle_ticks_skipped = 0;
  uint64_t pods_bound = 0;
  uint64_t diagnoses = 0;
  std::vector<PendingJobInfo> pending;    // why each still-pending job waits, from the last cycle
  std::optional<TimeMs> report_every_ms;  // from the scenario, for the report
  TimeMs cycle_period_ms = 1000;          // the scenario's
};

// A job's outcome record as it arrives (nothing bound yet); every driver starts from this.
JobOutcome job_outcome(const JobArrival& arrival, const JobStreamSpec& stream);

class SimDriver {
 public:
  explicit SimDriver(Scenario scenario, DriverOptions options = {});

  // Runs the whole scenario. Call once.
  SimResult run();

  // The state as the scheduler sees it (for tests and, later, debugging endpoints).
  const ClusterState& state() const { return scheduler_.state(); }

 private:
  struct Running {
    TimeMs finish_ms;
    size_t job;
  };
  // For std heap functions, which keep the largest on top: puts the earliest finish there.
  static bool finishes_later(const Running& a, const Running& b) {
    return a.finish_ms != b.finish_ms ? a.finish_ms > b.finish_ms : a.job > b.job;
  }

  void finish_jobs(TimeMs now);
  void note_gang(size_t job);
  void admit_arrivals(TimeMs now);
  // Plays out the step's bindings (the kubelet) and evictions; true when a pod was evicted.
  bool play(const Decisions& decisions, TimeMs now);
  void bound(const Binding& binding, TimeMs now);
  bool evict(const PreemptionPlan& plan, const Victim& victim, TimeMs now);
  std::string job_name(const std::string& cycle_key) const;
  void share_gpus(Pod& pod, const Binding& binding);
  void release_idle_gpus();
  void record(TimeMs now, const CycleResult& result);
  std::optional<TimeMs> next_event() const;

  Scenario scenario_;
  DriverOptions options_;
  ManualClock clock_;  // the simulated time: now() and wall() are TimeMs from 0
  Scheduler scheduler_;
  ClusterState& state_;  // scheduler_'s
  std::vector<JobArrival> arrivals_;
  size_t next_arrival_ = 0;
  // Each job's pods as the driver created them (the state drops containers), by job index.
  std::vector<std::vector<Pod>> job_pods_;
  std::unordered_map<std::string, size_t> job_by_key_;
  std::vector<Running> running_;         // min-heap on finish time (evicted jobs skipped)
  std::vector<QueueIndex> queue_order_;  // tree index per SimResult::queues entry
  size_t ended_ = 0;                     // jobs completed or evicted
  SimResult result_;
};

// Runs `scenario` to the end with default options.
SimResult simulate(const Scenario& scenario, const DriverOptions& options = {});

}  // namespace fairway::sim
