#pragma once
// Client-side rate limit: a token bucket like golang.org/x/time/rate (what client-go's
// --kube-api-qps/--kube-api-burst drive). Tokens accrue at `qps` up to `burst`; each request takes
// one. reserve() never blocks: it books a token (the bucket may go into debt, so concurrent
// callers queue up fairly in arrival order) and says how long the caller must wait before
// using it. The clock is injected (scheduler/state/clock.h) so tests can drive time by hand.

#include <algorithm>
#include <chrono>
#include <mutex>

#include "scheduler/state/clock.h"

namespace fairway::k8s {

class TokenBucket {
 public:
  // qps <= 0: unlimited. burst < 1 counts as 1. The bucket starts full.
  TokenBucket(double qps, int burst, const Clock& clock = SystemClock::instance())
      : qps_(qps),
        burst_(std::max(burst, 1)),
        clock_(clock),
        tokens_(burst_),
        last_(clock_.now()) {}

  // Takes one token; returns how long to wait before it may be used (zero when one was there).
  std::chrono::nanoseconds reserve() {
    if (qps_ <= 0) return std::chrono::nanoseconds::zero();
    std::lock_guard lock(mutex_);
    const Clock::time_point now = clock_.now();
    if (now > last_) {
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
      last_ = now;
    }
    tokens_ -= 1;
    if (tokens_ >= 0) return std::chrono::nanoseconds::zero();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(-tokens_ / qps_));
  }

 private:
  const double qps_;
  const int burst_;
  const Clock& clock_;
  std::mutex mutex_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace fairway::k8s
