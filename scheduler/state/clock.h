#pragma once
// Clock: the one source of time for everything that waits, backs off or stamps (the scheduling
// loop, k8s-client's back-offs, rate limiter and Lease, the actuator, evictor and reservation
// workers). Production passes SystemClock; tests pass a ManualClock and move time by hand, so no
// test sleeps and none asserts on the wall clock.
//
// Two readings, as Kubernetes needs both: `now()` is monotonic (intervals, deadlines, back-offs)
// and `wall()` is the calendar time written into objects (Lease renewTime, Event timestamps,
// usage history persisted in Queue status).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>

namespace fairway {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  virtual std::chrono::system_clock::time_point wall() const = 0;

  // Wall time in milliseconds since the Unix epoch (creationTimestamp arithmetic).
  int64_t wall_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(wall().time_since_epoch()).count();
  }

  // The longest real wait that may stand for a wait on this clock: unbounded for the system
  // clock, short for a clock that only moves when told to (waiters look again soon).
  virtual duration max_real_wait() const { return std::chrono::hours(1); }
};

// Waits on `cv` (its `lock` held) until `pred()` holds or `clock` reaches `deadline`; returns
// pred(). On the system clock this is cv.wait_until; on a ManualClock the waiter looks again
// every millisecond of real time, since that clock moves by advance(), not by waiting.
template <typename Cv, typename Lock, typename Pred>
bool wait_until(const Clock& clock, Cv& cv, Lock& lock, Clock::time_point deadline, Pred pred) {
  while (!pred()) {
    const auto now = clock.now();
    if (now >= deadline) return pred();
    cv.wait_for(lock, std::min<Clock::duration>(deadline - now, clock.max_real_wait()));
  }
  return true;
}

// Waits `duration` on `clock` unless `stop` is requested first; true when the time passed.
inline bool sleep_unless_stopped(const Clock& clock, std::stop_token stop,
                                 Clock::duration duration) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  const auto deadline = clock.now() + duration;
  while (!stop.stop_requested()) {
    const auto now = clock.now();
    if (now >= deadline) return true;
    cv.wait_for(lock, stop, std::min<Clock::duration>(deadline - now, clock.max_real_wait()),
                [] { return false; });
  }
  return false;
}

class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall() const override {
    return std::chrono::system_clock::now();
  }
  // The process's clock, for callers that were given none.
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// Time that moves only when told to. Both readings advance together. Thread-safe: workers may
// read it while the test advances it.
class ManualClock final : public Clock {
 public:
  // Starts at `wall_start` on the calendar and `steady_start` on the monotonic reading (an
  // hour by default: some callers read a zero time_point as "never").
  explicit ManualClock(
      std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::time_point{} +
                                                         std::chrono::hours(24 * 365 * 56),
      duration steady_start = std::chrono::hours(1))
      : wall_start_(wall_start), steady_start_(steady_start) {}

  time_point now() const override {
    std::lock_guard lock(mutex_);
    return time_point{} + steady_start_ + elapsed_;
  }
  std::chrono::system_clock::time_point wall() const override {
    std::lock_guard lock(mutex_);
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed_);
  }
  void advance(duration by) {
    std::lock_guard lock(mutex_);
    elapsed_ += by;
  }
  duration max_real_wait() const override { return std::chrono::milliseconds(1); }

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point wall_start_;
  duration steady_start_;
  duration elapsed_{};
};

}  // namespace fairway
