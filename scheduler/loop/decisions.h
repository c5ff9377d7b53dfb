#pragma once
// Decisions: everything one Scheduler::step (scheduler.h) wants written to the cluster, as plain
// data. The edge (scheduler/service) carries them out through its workers; the in-process
// simulator (sim/driver) plays them out on its own state. Nothing here does I/O.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/planner/planner.h"
#include "scheduler/state/clock.h"

namespace fairway {

// Why a pod or a gang waits, as the API server is told.
struct Unschedulable {
  std::string pod;  // namespace/name (of the PodGroup when kind is PodGroup)
  std::string uid;
  std::string reason;  // PendingReason name, for the Event
  std::string message;
  // "Pod": PodScheduled=False condition + FailedScheduling Event; "PodGroup": an Event on the
  // PodGroup (its status condition is written with the rest of its status).
  std::string kind = "Pod";
};

// A JSON body for an API path: a merge patch of a status subresource, or an object to create
// (or merge-patch when it exists).
struct ObjectWrite {
  std::string path;
  std::string body;
};

// A queue's Warning condition appeared, changed or cleared.
struct QueueWarning {
  std::string queue;
  std::string reason;
  std::string message;
  bool cleared = false;
};

// What the preemption pass did in this step, for metrics and logs.
struct PassReport {
  bool ran = false;
  bool out_of_time = false;
  int64_t pass_ns = 0;          // the pass's own time, on the scheduler's clock
  Clock::time_point decided{};  // when its plans were decided (decision → eviction latency)
};

struct Decisions {
  // Placements to bind, in the cycle's order: a pod's volume bindings and claim allocations ride
  // in its Binding; one on shared GPUs (Binding::shares) needs its reservation pods first.
  std::vector<Binding> binds;
  // Preemption plans: every victim is to be evicted (the plan says for whom).
  std::vector<PreemptionPlan> evictions;
  // Pods and gangs whose explanation changed.
  std::vector<Unschedulable> explanations;
  // Queue and PodGroup status merge patches that changed since they were last written.
  std::vector<ObjectWrite> status_patches;
  // fairway's own PodGroups of inferred gangs, to create or update.
  std::vector<ObjectWrite> pod_groups;
  std::vector<QueueWarning> queue_warnings;
  PassReport pass;
  // The cycle run in this step, if one ran (its bindings moved into binds/reservations).
  std::shared_ptr<const CycleResult> cycle;
  // Time spent applying this step's changes to the state (the "snapshot" phase).
  int64_t apply_ns = 0;

  bool empty() const {
    return binds.empty() && evictions.empty() && explanations.empty() && status_patches.empty() &&
           pod_groups.empty() && queue_warnings.empty();
  }
};

}  // namespace fairway
