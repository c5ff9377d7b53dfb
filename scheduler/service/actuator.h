#pragma once
// The actuator: turns the cycle's decisions into API writes, off the scheduling loop.
//
// Binds run on several worker threads of a WorkQueue (work_queue.h; each RestClient request
// takes a pooled keep-alive connection), so one slow bind does not hold up the others. 201 → done
// (the watch confirms); 409 "already assigned" → somebody bound it first, the watch brings the
// truth, nothing is counted twice; 404 → the pod is gone; anything else → on_failed, which forgets
// the assumed placement so the next cycle retries.
//
// Pending explanations (PodScheduled=False condition + FailedScheduling Event) and Scheduled
// Events (counted, aggregated and limited as client-go's recorder does: event_recorder.h) go
// through one writer thread, a keyed WorkQueue (the latest message per pod wins), so a burst of
// cycles never queues stale writes ahead of binds. A condition or status patch
// that failed for a reason that may pass (transport error, 429, 5xx) is retried with back-off
// unless a newer one for the same object replaced it: the loop writes a message only when it
// changes, so a write lost here would otherwise never be made again.
//
// A pod with Binding::volume_bindings has its claims bound first (volume_binder.h), one with
// Binding::claim_allocations its ResourceClaims allocated and reserved (claim_writer.h); a pod
// whose Binding then fails (not a 409) has those writes rolled back before on_failed.
//
// Every write checks `may_write()` first: a replica that lost its lease writes nothing.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/decisions.h"
#include "scheduler/service/claim_writer.h"
#include "scheduler/service/cluster_writer.h"
#include "scheduler/service/event_recorder.h"
#include "scheduler/service/volume_binder.h"
#include "scheduler/service/work_queue.h"
#include "scheduler/state/clock.h"

namespace fairway {

struct ActuatorStats {
  std::atomic<uint64_t> binds{0};
  std::atomic<uint64_t> bind_conflicts{0};
  std::atomic<uint64_t> bind_errors{0};
  std::atomic<uint64_t> status_writes{0};
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> events_dropped{
      0};  // by the per-(object, reason) limit (event_correlator.h)
};

class Actuator {
 public:
  struct Hooks {
    std::function<bool()> may_write;
    std::function<void(const Binding&, const std::string& why)> on_failed;
    std::function<void(const Binding&)> on_bound;  // optional
  };

  // `client`: binds, volume binding and claim allocation. `volumes`: how a pod's claims are bound
  // before the pod (volume_binder.h). `writer`: Events, pod conditions and status patches, on a
  // client with a budget of its own so that an Event storm never slows binds (null: `client` for
  // everything). Both are ClusterWriters (cluster_writer.h): tests pass a recording fake. `clock`:
  // retries' back-offs, volume waits and the condition's lastTransitionTime. `threads` false: no
  // worker threads, the owner runs the queued work with run_pending() (tests, with a ManualClock).
  Actuator(ClusterWriter& client, int bind_workers, Hooks hooks, VolumeBinderOptions volumes = {},
           ClusterWriter* writer = nullptr, const Clock& clock = SystemClock::instance(),
           bool threads = true);
  ~Actuator();
  Actuator(const Actuator&) = delete;
  Actuator& operator=(const Actuator&) = delete;

  void bind(Binding binding);
  void explain(Unschedulable pending);
  // The pod was placed: an explanation still queued or waiting for a retry is dropped.
  void forget_explanation(const std::string& pod);
  // `binding` was made by someone else (a shared-GPU bind, reservations.h): its Scheduled Event
  // is written and its pending explanations dropped, as after bind().
  void scheduled(const Binding& binding);
  // A JSON merge patch for a status subresource (Queue, PodGroup); the latest per path wins.
  void patch_status(std::string path, std::string merge_patch);
  // Creates the object at `path` (".../namespaces/ns/podgroups/name") with `body`, or, when it
  // exists already, merge-patches it with `body`; the latest per path wins. Failures are
  // logged; the caller asks again while it does not see the object.
  void apply_object(std::string path, std::string body);
  // Finishes queued binds, then stops the threads.
  void stop();
  // Runs the binds and writes that are due by the clock on the calling thread (binds first: a
  // bind queues its Scheduled Event); returns how many ran. For an actuator without threads.
  size_t run_pending();

  const ActuatorStats& stats() const { return stats_; }
  size_t binds_in_flight() const { return in_flight_.load(); }

 private:
  // One write of the writer queue: a pending explanation, a status patch, an object to apply,
  // or a Scheduled Event.
  struct Write {
    enum class Kind { kExplain, kStatus, kObject, kScheduled };
    Kind kind = Kind::kExplain;
    Unschedulable pending;  // kExplain
    std::string path;       // kStatus, kObject
    std::string body;       // kStatus (the merge patch), kObject
    Binding binding;        // kScheduled
  };
  void do_bind(const Binding& binding);
  // The writer queue's handler: nullopt when done, else the back-off before the retry.
  std::optional<Clock::duration> do_write(Write& write, int attempt);
  // Both return false when the write failed and is worth retrying.
  bool do_explain(const Unschedulable& pending);
  bool do_patch_status(const std::string& path, const std::string& patch);
  void do_apply_object(const std::string& path, const std::string& body);
  void post_event(const std::string& kind, const std::string& ns, const std::string& name,
                  const std::string& uid, const std::string& type, const std::string& reason,
                  const std::string& message);

  const Clock& clock_;
  ClusterWriter& client_;  // binds and volume binding
  ClusterWriter& writer_;  // Events, conditions, status patches
  Hooks hooks_;
  VolumeBinder volume_binder_;
  ClaimWriter claim_writer_;
  ActuatorStats stats_;
  std::atomic<size_t> in_flight_{0};
  EventRecorder events_;  // on writer_; correlates repeats and limits them

  // Last: their threads use everything above. Writes are keyed by object: explanations by
  // "<kind>/<pod>", status patches by "status <path>", objects by "object <path>"; Scheduled
  // Events are FIFO, the oldest dropped beyond a bound.
  WorkQueue<Binding> binds_;
  WorkQueue<Write> writes_;
};

}  // namespace fairway
