#pragma once
// The actuator: turns the cycle's decisions into API writes, off the scheduling loop.
//
// Binds run on several worker threads (each RestClient request takes a pooled keep-alive
// connection), so one slow bind does not hold up the others. 201 → done (the watch confirms);
// 409 "already assigned" → somebody bound it first, the watch brings the truth, nothing is
// counted twice; 404 → the pod is gone; anything else → on_failed, which forgets the assumed
// placement so the next cycle retries.
//
// Pending explanations (PodScheduled=False condition + FailedScheduling Event) and Scheduled
// Events (counted, aggregated and limited as client-go's recorder does: event_recorder.h) go
// through one writer thread with a coalescing map (the latest message per pod wins),
// so a burst of cycles never queues stale writes ahead of binds. A condition or status patch
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
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "k8s-client/rest_client.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/decisions.h"
#include "scheduler/service/claim_writer.h"
#include "scheduler/service/event_recorder.h"
#include "scheduler/service/volume_binder.h"

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

  // `volumes`: how a pod's claims are bound before the pod (volume_binder.h). `writer`: the
  // client for Events, pod conditions and status patches, with a budget of its own so that an
  // Event storm never slows binds (null: `client` for everything).
  Actuator(k8s::RestClient& client, int bind_workers, Hooks hooks, VolumeBinderOptions volumes = {},
           k8s::RestClient* writer = nullptr);
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

  const ActuatorStats& stats() const { return stats_; }
  size_t binds_in_flight() const { return in_flight_.load(); }

 private:
  void bind_loop();
  void write_loop();
  void do_bind(const Binding& binding);
  // Both return false when the write failed and is worth retrying.
  bool do_explain(const Unschedulable& pending);
  bool do_patch_status(const std::string& path, const std::string& patch);
  void do_apply_object(const std::string& path, const std::string& body);
  // Write-thread helpers, under write_mutex_: queue a retry, and take the retries now due whose
  // object has no newer write queued.
  template <typename Item>
  struct Retry {
    Item item;
    std::chrono::steady_clock::time_point due;
    int attempt = 0;
  };
  template <typename Item>
  static void schedule_retry(std::map<std::string, Retry<Item>>& retries, const std::string& key,
                             Item item, int attempt);
  std::chrono::steady_clock::time_point next_retry_due() const;
  void post_event(const std::string& kind, const std::string& ns, const std::string& name,
                  const std::string& uid, const std::string& type, const std::string& reason,
                  const std::string& message);

  k8s::RestClient& client_;  // binds and volume binding
  k8s::RestClient& writer_;  // Events, conditions, status patches
  Hooks hooks_;
  VolumeBinder volume_binder_;
  ClaimWriter claim_writer_;
  ActuatorStats stats_;
  std::atomic<size_t> in_flight_{0};

  std::mutex bind_mutex_;
  std::condition_variable bind_ready_;
  std::deque<Binding> binds_;
  bool stopping_ = false;

  std::mutex write_mutex_;
  std::condition_variable write_ready_;
  std::map<std::string, Unschedulable> explanations_;  // coalesced by pod
  std::map<std::string, std::string> status_patches_;  // coalesced by path
  std::map<std::string, std::string> objects_;         // apply_object, coalesced by path
  std::deque<Binding> scheduled_events_;
  std::map<std::string, Retry<Unschedulable>> explanation_retries_;
  std::map<std::string, Retry<std::string>> status_retries_;
  // Pods placed since the writer took its current batch: their failed explanations are dropped.
  std::set<std::string> placed_;

  EventRecorder events_;  // on writer_; correlates repeats and limits them

  std::vector<std::thread> bind_threads_;
  std::thread write_thread_;
};

}  // namespace fairway
