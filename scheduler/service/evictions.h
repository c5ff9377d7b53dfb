#pragma once
// The preemption pass's plans at the edge: the Scheduler (scheduler/loop/preemption_pass.h)
// decides them on the loop thread; the Evictor carries them out through the Eviction API on a
// worker thread of its own, so the allocation cycle never waits on an eviction, and reports
// refusals back to the loop (Scheduler::eviction_refused).
//
// Evictions: POST pods/{name}/eviction without deleteOptions, so the pod's own
// terminationGracePeriodSeconds applies. The Eviction's apiVersion is what discovery offers
// (GET /apis/policy before the first eviction, and again after a 400/404 that names the version
// sent): policy/v1, else policy/v1beta1 (Kubernetes before 1.22). A PodDisruptionBudget that
// refuses answers 429, and then the rest of that plan is dropped, its nomination released, the
// pod avoided for a while, and a new pass is run at once to find another plan. 404: the pod is
// gone already, which is fine. Events on each victim and on the preemptor name the other side
// and the action.
//
// Other failures never loop (docs/reliability.md): each is logged and evented on the victim with
// the Status's reason and message (k8s-client/api_error.h), and the victim is not asked again
// until its back-off ends. A failure that repeating will not change (4xx other than 409 and 429)
// backs off per pod exponentially, 1 s doubling up to 5 min; a retryable one (5xx, transport
// error) waits its Retry-After or 1 s. A pod still backing off is not sent a request at all.
//
// Counters are atomics for the metrics registry to read.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/preemption_pass.h"
#include "scheduler/planner/planner.h"
#include "scheduler/service/cluster_writer.h"
#include "scheduler/service/event_recorder.h"
#include "scheduler/service/work_queue.h"
#include "scheduler/state/clock.h"

namespace fairway {

struct EvictionStats {
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> plans{0};
  // Evictions the API server accepted, by action: preempt, reclaim, consolidate, stale-gang.
  std::atomic<uint64_t> preempt_evictions{0};
  std::atomic<uint64_t> reclaim_evictions{0};
  std::atomic<uint64_t> consolidate_evictions{0};
  std::atomic<uint64_t> stale_gang_evictions{0};
  std::atomic<uint64_t> refused{0};  // 429: a PodDisruptionBudget said no
  std::atomic<uint64_t> errors{0};   // other failures
  // Evictions not sent because the victim was still backing off from an earlier failure.
  std::atomic<uint64_t> backed_off{0};
  std::atomic<uint64_t> events{0};
  // From the end of the pass that decided a plan to its first eviction request, nanoseconds:
  // the latest and the largest seen.
  std::atomic<int64_t> last_decision_to_request_ns{0};
  std::atomic<int64_t> max_decision_to_request_ns{0};
  std::atomic<int64_t> last_pass_ns{0};  // the loop thread's time in the latest pass
};

// The evictor's client options: no 429 retries (a PodDisruptionBudget's 429 is an answer, not a
// rate limit) and one connection.
k8s::RestOptions eviction_rest_options(k8s::RestOptions rest);

// Carries plans out on its own thread through a ClusterWriter (cluster_writer.h) over a client of
// its own (no 429 retries: a refusal is an answer).
class Evictor {
 public:
  struct Hooks {
    std::function<bool()> may_write;
    // A victim's eviction failed: the plan was for `preemptor`; `status` is the HTTP status
    // (0: transport error). Called on the evictor thread.
    std::function<void(const std::string& preemptor, const std::string& pod, int status)>
        on_refused;
  };

  // First failure's back-off for a non-retryable error, and the most it doubles to.
  static constexpr std::chrono::milliseconds kFirstBackoff{1000};
  static constexpr std::chrono::milliseconds kMaxBackoff{300'000};

  // `clock`: back-offs, the decision-to-request latency and Event timestamps. `threads` false:
  // no worker thread, the owner runs queued plans with run_pending() (tests).
  Evictor(ClusterWriter& writer, Hooks hooks, EvictionStats& stats,
          const Clock& clock = SystemClock::instance(), bool threads = true);
  ~Evictor();
  Evictor(const Evictor&) = delete;
  Evictor& operator=(const Evictor&) = delete;

  void carry_out(PreemptionPlan plan, Clock::time_point decided);
  // Takes no more plans; the one being carried out finishes (stop() then waits for it).
  void close() { work_.close(); }
  void stop();
  // Carries out the queued plans on the calling thread; returns how many. Without threads only.
  size_t run_pending() { return work_.run_due(); }

  // How long `pod` is still backing off (zero: not at all). Any thread.
  std::chrono::milliseconds backoff_left(const std::string& pod);
  // The Eviction apiVersion in use ("policy/v1" until discovery has been read).
  std::string eviction_version();

 private:
  struct Backoff {
    int failures = 0;  // consecutive non-retryable failures
    int last_status = 0;
    Clock::time_point until{};
  };
  struct Work {
    PreemptionPlan plan;
    Clock::time_point decided;
  };
  void run_plan(const Work& work);
  void post_event(const std::string& pod_key, const std::string& uid, const std::string& reason,
                  const std::string& message, const std::string& type = "Normal");
  Clock::time_point now() const { return clock_.now(); }
  // Reads /apis/policy and picks the Eviction version; false when discovery could not be read.
  bool discover();
  // A failed eviction of `victim`: back-off, log, Event. Evictor thread.
  void failed(const PreemptionPlan& plan, const Victim& victim, const WriteResult& response);

  const Clock& clock_;
  ClusterWriter& writer_;
  Hooks hooks_;
  EvictionStats& stats_;
  std::mutex mutex_;
  std::string version_ = "policy/v1";  // under mutex_
  bool discovered_ = false;            // evictor thread only
  Clock::time_point last_discovery_{};
  std::map<std::string, Backoff> backoffs_;  // under mutex_
  EventRecorder events_{writer_, clock_};    // counted and limited as client-go's recorder
  WorkQueue<Work> work_;                     // FIFO, one worker; last: it runs run_plan
};

}  // namespace fairway
