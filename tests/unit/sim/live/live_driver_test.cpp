// The live run's settings for the real scheduler (sim/live/live_driver.h).
#include "sim/live/live_driver.h"

#include <gtest/gtest.h>

#include "scheduler/service/evictions.h"

namespace fairway::sim {
namespace {

// The scheduler works on real time while the scenario runs `speed` times faster: its preemption
// pass must run as often per simulated second as it would per real second on a cluster.
TEST(ScalePreemptionTimes, DividesEveryPeriodAndDurationBySpeed) {
  PreemptionOptions options;  // the service's defaults: 5 s, 60 s, 30 s; 5 min, 2 min, 15 s, 60 s
  options.planner.stale_gang_grace_ms = 60'000;
  scale_preemption_times(options, 20);
  EXPECT_EQ(options.period.count(), 250);
  EXPECT_EQ(options.refused_backoff.count(), 3'000);
  EXPECT_EQ(options.no_plan_backoff.count(), 1'500);
  EXPECT_EQ(options.planner.cool_down_ms, 15'000);
  EXPECT_EQ(options.planner.nomination_ms, 6'000);
  EXPECT_EQ(options.planner.nomination_after_victims_ms, 750);
  EXPECT_EQ(options.planner.stale_gang_grace_ms, 3'000);
  EXPECT_EQ(options.budget.count(), 250);  // the loop thread's real time: not scaled
}

TEST(ScalePreemptionTimes, OffStaysOffAndNothingReachesZero) {
  PreemptionOptions options;
  options.planner.stale_gang_grace_ms = 0;  // never
  options.period = std::chrono::milliseconds(3);
  scale_preemption_times(options, 1000);
  EXPECT_EQ(options.planner.stale_gang_grace_ms, 0);
  EXPECT_EQ(options.period.count(), 1);  // not 0, which would turn the pass off
}

}  // namespace
}  // namespace fairway::sim
