#pragma once
// The reservation manager: the edge that turns the cycle's decisions for fractional pods into
// API writes (docs/gpu-sharing.md).
//
// For a pod joining shared GPUs, on a worker thread:
//   1. each new group gets its reservation pod (namespace fairway-reservation, named after the
//      group, nvidia.com/gpu: 1, spec.nodeName set, the pod's tolerations, a PriorityClass that
//      keeps it from being preempted alone). The name is deterministic: a retry or a second
//      replica gets 409 AlreadyExists instead of a second GPU;
//   2. wait (up to the timeout) for `fairway reservation-agent` to annotate that pod with its
//      GPU's UUID. The UUID arrives through the pod informer (observe()), not by polling;
//   3. write the pod's ConfigMap: NVIDIA_VISIBLE_DEVICES=<uuid,...>, GPU_FRACTION (and
//      GPU_MEMORY_MIB when known), owned by the pod so it goes away with it;
//   4. label the pod with its group(s) (so a restarted scheduler rebuilds the groups), and bind.
// Any failure rolls back what this attempt wrote (ConfigMap, labels) and reports the binding as
// failed: the loop forgets the placement, the group empties, and reconcile() deletes the
// reservation pod nobody uses. The pod is retried by a later cycle.
//
// reconcile(), on the loop thread, keeps the API in line with the state: reservation pods of
// groups without sharers are deleted (orphans after a restart included), and a group with
// sharers but no reservation pod (deleted by someone) gets it back.
//
// API round trips: a new shared GPU costs one POST (the reservation pod); the UUID comes on the
// watch. Each sharer costs a ConfigMap POST, a label PATCH and the binding POST.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/service/cluster_writer.h"
#include "scheduler/service/work_queue.h"
#include "scheduler/state/clock.h"

namespace fairway {

// "fairway:<this release's version>".
std::string default_reservation_image();

struct ReservationOptions {
  std::string namespace_ = "fairway-reservation";      // --reservation-namespace
  std::string priority_class = "fairway-reservation";  // --reservation-priority-class
  std::string runtime_class;                           // --reservation-runtime-class
  std::chrono::milliseconds timeout{60'000};           // --reservation-timeout
  std::string image = default_reservation_image();     // --reservation-image
  std::string service_account = "fairway-reservation";
  int workers = 4;
};

// Counters for metrics (the lead wires them to fairway_* metrics).
struct ReservationStats {
  std::atomic<uint64_t> reservations_created{0};
  std::atomic<uint64_t> reservations_deleted{0};
  std::atomic<uint64_t> rollbacks{0};
  std::atomic<uint64_t> uuid_timeouts{0};
  std::atomic<uint64_t> configmaps_created{0};
  std::atomic<uint64_t> shared_binds{0};
};

// The reservation pod's parts: the init container that reports the GPU's UUID with the pod's
// only token (a projected volume), and the app container that holds the GPU with none.
inline constexpr std::string_view kReservationReportContainer = "report";
inline constexpr std::string_view kReservationHoldContainer = "hold";
inline constexpr std::string_view kReservationTokenVolume = "report-token";

// The reservation pod for a group, as JSON (exposed for tests).
std::string reservation_pod_body(const ReservationOptions& options, const std::string& group,
                                 const std::string& node,
                                 const std::vector<Toleration>& tolerations);
// The sharer's ConfigMap, as JSON (exposed for tests).
std::string sharer_configmap_body(const Binding& binding, const std::vector<std::string>& uuids);

class ReservationManager {
 public:
  struct Hooks {
    std::function<bool()> may_write;
    std::function<void(const Binding&, const std::string& why)> on_failed;
    std::function<void(const Binding&)> on_bound;  // optional
    // Why a placement was rolled back, for the pod's condition and Event (optional).
    std::function<void(const Binding&, const std::string& why)> on_rollback;
    // Why no reservation can be made now, e.g. its namespace is missing and fairway may not
    // create it (preflight.h); empty: go ahead. A placement it blocks fails with these words
    // before any request, instead of meeting a 404 or 403 (optional).
    std::function<std::string()> blocker;
  };

  // `clock`: the wait for a UUID, back-offs after a rollback, delete retries. `threads` false: no
  // workers, the owner runs submitted jobs with run_pending() (tests).
  ReservationManager(ClusterWriter& client, ReservationOptions options, ReservationStats& stats,
                     Hooks hooks, const Clock& clock = SystemClock::instance(),
                     bool threads = true);
  ~ReservationManager();
  ReservationManager(const ReservationManager&) = delete;
  ReservationManager& operator=(const ReservationManager&) = delete;

  // Loop thread: a binding with shares; `state` supplies what is known of its groups.
  void submit(Binding binding, const ClusterState& state);
  // Loop thread, after changes are applied: hands UUIDs to waiting workers and deletes or
  // recreates reservation pods (only when synced and leading: the caller checks).
  void observe(const ClusterState& state);
  void reconcile(ClusterState& state);
  void stop();
  // Runs the submitted jobs on the calling thread; returns how many. Without threads only.
  size_t run_pending() { return jobs_.run_due(); }

  size_t in_flight() const { return in_flight_.load(); }

 private:
  struct Job {
    Binding binding;
    std::vector<std::string> known_uuids;  // per share; empty: wait for it
  };
  // The queue's handler: runs the job, then releases its groups.
  void work(const Job& job);
  void run(const Job& job);
  // Returns the group's UUID, creating its reservation pod first if needed; empty + why on failure.
  std::string reserve(const Binding& binding, const GpuShare& share, std::string* why);
  bool create_reservation(const std::string& group, const std::string& node,
                          const std::vector<Toleration>& tolerations, std::string* why);
  void delete_reservation(const std::string& group);

  const Clock& clock_;
  ClusterWriter& client_;
  ReservationOptions options_;
  ReservationStats& stats_;
  Hooks hooks_;
  std::atomic<size_t> in_flight_{0};

  std::mutex mutex_;
  std::condition_variable uuid_ready_;
  std::condition_variable stopped_;  // back-offs wait on it, so they never take a UUID's wake-up
  bool stopping_ = false;
  std::map<std::string, std::string, std::less<>> uuids_;  // group → UUID seen on the watch
  std::set<std::string, std::less<>> created_;             // reservation pods POSTed by us
  std::map<std::string, int, std::less<>> busy_;           // groups workers are using
  // Groups whose reservation pod we asked to delete, and when (re-asked after a while).
  std::map<std::string, Clock::time_point, std::less<>> deleting_;
  // Consecutive rollbacks per pod: each holds the pod back twice as long (0.5 s … 30 s) before
  // it is handed back for another cycle, so a broken reservation path is not hammered.
  std::map<std::string, int, std::less<>> failures_;

  WorkQueue<Job> jobs_;  // FIFO; last: its workers use everything above
};

}  // namespace fairway
