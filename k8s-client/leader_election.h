#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, with kube-scheduler's timings. Only the
// leader writes: is_leader() turns false as soon as a renewal has not succeeded within the
// renew deadline, before another replica can take the lease (lease duration).

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "k8s-client/rest_client.h"
#include "scheduler/state/clock.h"

namespace fairway::k8s {

struct LeaderElectionConfig {
  std::string lease_namespace = "fairway-system";
  std::string lease_name = "fairway-scheduler";
  std::string identity;  // unique per replica: hostname + "_" + random
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
  // Called (on run()'s thread) with a warning when the Lease cannot be read or written for a
  // reason waiting will not fix, e.g. its namespace does not exist (404): at most once per
  // `problem_interval` for the same text. Empty: no report.
  std::function<void(const std::string& warning)> on_problem;
  std::chrono::seconds problem_interval{60};
  // The clock the lease's ages, the renew deadline, that rate limit, the waits between attempts
  // and renewTime are read on (scheduler/state/clock.h); tests pass a ManualClock and move it.
  // Read from run()'s thread and from is_leader()'s callers.
  const Clock* clock = &SystemClock::instance();
};

// Semantics follow client-go's leaderelection: the lease is taken when it is free, held by us, or
// its holder has not renewed for lease_duration as measured on OUR clock from when we last saw
// the record change (no reliance on synchronized clocks); writes are PUTs conditional on the
// resourceVersion read (409 → someone else won this round); acquireTime and leaseTransitions
// change only when the holder changes. Differences: after losing the lease run() goes back to
// acquiring instead of returning (the caller decides whether to exit in on_stopped_leading).
class LeaderElector {
 public:
  // Both callbacks run on run()'s thread and must return promptly (start work elsewhere):
  // renewals wait while they run.
  LeaderElector(RestClient& client, LeaderElectionConfig config,
                std::function<void()> on_started_leading, std::function<void()> on_stopped_leading);
  // Blocks: tries to acquire, then renews, until stop (then releases the lease if held).
  void run(std::stop_token stop);
  // True while the last successful renewal is younger than renew_deadline, even if run() is
  // blocked in a slow request at the moment.
  bool is_leader() const;

 private:
  struct Observed;
  bool try_acquire_or_renew(Observed& observed);
  void release();
  void set_leader(bool leader);
  void problem(const std::string& warning);
  Clock::time_point now() const;
  const Clock& clock() const;
  int64_t now_ns() const;

  RestClient& client_;
  LeaderElectionConfig config_;
  std::function<void()> on_started_;
  std::function<void()> on_stopped_;
  std::atomic<bool> leader_{false};
  std::atomic<int64_t> renewed_at_ns_{0};  // steady clock, last successful acquire/renew
  std::string last_problem_;               // run()'s thread only
  Clock::time_point last_problem_at_{};
};

}  // namespace fairway::k8s
