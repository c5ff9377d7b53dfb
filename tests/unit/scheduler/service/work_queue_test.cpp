// WorkQueue (scheduler/service/work_queue.h): keyed items replace each other and supersede the
// one being run, retries come due on the clock, FIFO items are bounded, and stop drains or hands
// back. Driven on the test's thread (no workers) with a ManualClock, except where the worker
// threads themselves are the point.

#include "scheduler/service/work_queue.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fairway {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::vector<std::string> ran;  // "item#attempt"
  // Items named here fail (retry after 1 s) this many more times.
  std::map<std::string, int> failures;
  WorkQueue<std::string>::Handler handler() {
    return [this](std::string& item, int attempt) -> std::optional<Clock::duration> {
      ran.push_back(item + "#" + std::to_string(attempt));
      if (auto it = failures.find(item); it != failures.end() && it->second > 0) {
        --it->second;
        return 1s;
      }
      return std::nullopt;
    };
  }
};

TEST(WorkQueue, RunsDueItemsInOrderOfArrivalOnTheCallersThread) {
  ManualClock clock;
  Recorder recorder;
  WorkQueue<std::string> queue(clock, 0, recorder.handler());
  queue.add("a");
  queue.add_after("later", 5s);
  queue.add("b");
  EXPECT_EQ(queue.run_due(), 2u);
  EXPECT_EQ(recorder.ran, (std::vector<std::string>{"a#0", "b#0"}));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.next_due(), clock.now() + 5s);
  clock.advance(5s);
  EXPECT_EQ(queue.run_due(), 1u);
  EXPECT_EQ(recorder.ran.back(), "later#0");
  EXPECT_EQ(queue.next_due(), Clock::time_point::max());
}

TEST(WorkQueue, AKeyedItemReplacesTheQueuedOneAndItsRetry) {
  ManualClock clock;
  Recorder recorder;
  WorkQueue<std::string> queue(clock, 0, recorder.handler());
  queue.add("old", "k");
  queue.add("new", "k");
  queue.add("other", "j");
  queue.run_due();
  EXPECT_EQ(recorder.ran, (std::vector<std::string>{"new#0", "other#0"}));
  // A failed item comes back a second later with its attempt count, unless replaced.
  recorder.failures["x"] = 2;
  queue.add("x", "k");
  queue.run_due();
  clock.advance(1s);
  queue.run_due();
  EXPECT_EQ(recorder.ran.back(), "x#1");
  queue.add("y", "k");  // replaces the retry still waiting
  clock.advance(1s);
  queue.run_due();
  EXPECT_EQ(recorder.ran.back(), "y#0");
  EXPECT_EQ(queue.size(), 0u);
}

TEST(WorkQueue, AnItemSupersededWhileRunningIsNotRetried) {
  ManualClock clock;
  WorkQueue<std::string>* self = nullptr;
  std::vector<std::string> ran;
  WorkQueue<std::string> queue(clock, 0,
                               [&](std::string& item, int) -> std::optional<Clock::duration> {
                                 ran.push_back(item);
                                 if (item == "fails-and-is-forgotten") self->forget("k");
                                 if (item == "fails-and-is-replaced") self->add("newer", "k");
                                 return 1s;  // every item fails
                               });
  self = &queue;
  queue.add("fails-and-is-forgotten", "k");
  queue.run_due();
  clock.advance(1s);
  EXPECT_EQ(queue.run_due(), 0u);  // no retry
  queue.add("fails-and-is-replaced", "k");
  queue.run_due();  // runs it, then "newer" (queued meanwhile), which fails and will retry
  EXPECT_EQ(ran,
            (std::vector<std::string>{"fails-and-is-forgotten", "fails-and-is-replaced", "newer"}));
  EXPECT_EQ(queue.size(), 1u);  // newer's retry only
}

TEST(WorkQueue, FifoItemsAreBoundedByDroppingTheOldest) {
  ManualClock clock;
  Recorder recorder;
  WorkQueue<std::string> queue(clock, 0, recorder.handler(), /*max_fifo=*/2);
  queue.add("keyed", "k");  // not counted
  queue.add("1");
  queue.add("2");
  queue.add("3");
  queue.run_due();
  EXPECT_EQ(recorder.ran, (std::vector<std::string>{"keyed#0", "2#0", "3#0"}));
}

TEST(WorkQueue, StopHandsBackWhatDidNotRunAndRefusesMore) {
  ManualClock clock;
  Recorder recorder;
  WorkQueue<std::string> queue(clock, 0, recorder.handler());
  queue.add("a");
  queue.add_after("b", 1s, "k");
  EXPECT_EQ(queue.stop(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(queue.add("c"));
  EXPECT_EQ(queue.run_due(), 0u);
  EXPECT_TRUE(recorder.ran.empty());
}

// With worker threads: a drain runs everything due before the workers end, and a retry's
// back-off runs on the clock (the worker wakes when the test moves it).
TEST(WorkQueue, WorkersDrainOnStopAndWaitOnTheClock) {
  ManualClock clock;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> ran;
  WorkQueue<std::string> queue(
      clock, 2, [&](std::string& item, int attempt) -> std::optional<Clock::duration> {
        std::lock_guard lock(mutex);
        ran.push_back(item + "#" + std::to_string(attempt));
        cv.notify_all();
        if (item == "retried" && attempt == 0) return 10s;
        return std::nullopt;
      });
  queue.add("retried", "r");
  {
    // Woken by each run; the limit only guards against a hang.
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return ran.size() == 1; }));
  }
  {
    // The retry runs once the clock has moved past its back-off. The worker may not have queued
    // it yet when the first run is seen, so the clock moves 10 s per 20 ms of real time until
    // then (the 10 s of real time only guard against a hang).
    std::unique_lock lock(mutex);
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!cv.wait_for(lock, 20ms, [&] { return ran.size() == 2; })) {
      ASSERT_LT(std::chrono::steady_clock::now(), give_up);
      clock.advance(10s);
    }
    EXPECT_EQ(ran[1], "retried#1");
  }
  for (int i = 0; i < 20; ++i) queue.add(std::to_string(i));
  EXPECT_TRUE(queue.stop(WorkQueue<std::string>::Stop::kDrain).empty());
  std::lock_guard lock(mutex);
  EXPECT_EQ(ran.size(), 22u);
}

}  // namespace
}  // namespace fairway
