// Scheduler::step (scheduler/loop/scheduler.h): the one loop's gates, periods and
// de-duplication, driven by a ManualClock: no sleeps, no real time.
#include "scheduler/loop/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gpu_node;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::pod;
using ::testing::SizeIs;

constexpr auto kPeriod = std::chrono::milliseconds(50);

SchedulerConfig config() {
  SchedulerConfig config;
  config.schedule_period = kPeriod;
  config.status_period = std::chrono::seconds(1);
  config.preemption.period = std::chrono::seconds(5);
  // Usage over time is recorded at the first step only, so a status changes with the state
  // alone (its usage time would otherwise move every second).
  config.usage_period = std::chrono::hours(1);
  return config;
}

std::vector<StateChange> changes(std::initializer_list<StateChange> list) {
  return list;
}

StateChange add_node(Node node) {
  return [node = std::move(node)](ClusterState& s) { s.upsert_node(node); };
}
StateChange add_pod(Pod p) {
  return [p = std::move(p)](ClusterState& s) { s.upsert_pod(p); };
}

Pod running_on(Pod p, const std::string& node, int32_t priority = 0) {
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  p.priority = priority;
  return p;
}

std::vector<std::string> pods_of(const std::vector<Binding>& binds) {
  std::vector<std::string> out;
  for (const Binding& b : binds) out.push_back(b.pod);
  return out;
}

class SchedulerStep : public ::testing::Test {
 protected:
  Decisions step(std::vector<StateChange> list = {}) {
    return scheduler.step(Instant::of(clock), std::move(list));
  }
  ManualClock clock;
  Scheduler scheduler{config(), clock};
};

TEST_F(SchedulerStep, AChangeRunsACycleWhoseBindsAreAssumed) {
  const Decisions d = step(changes(
      {add_node(gpu_node("n1", 8)), add_pod(pod("ns", "a", "", {{"nvidia.com/gpu", "4"}}))}));
  ASSERT_TRUE(d.cycle);
  EXPECT_THAT(pods_of(d.binds), ElementsAre("ns/a"));
  EXPECT_EQ(d.binds[0].node, "n1");
  EXPECT_TRUE(scheduler.state().find_pod("ns/a")->counted_bound);
  EXPECT_EQ(scheduler.cycles(), 1u);
}

TEST_F(SchedulerStep, NoChangeNoCycleAndChangesWithinThePeriodWaitForIt) {
  step(changes({add_node(gpu_node("n1", 8))}));
  EXPECT_FALSE(step().cycle) << "nothing changed";
  const Decisions early = step(changes({add_pod(pod("ns", "a", "", {{"nvidia.com/gpu", "1"}}))}));
  EXPECT_FALSE(early.cycle) << "within schedule_period of the last cycle";
  EXPECT_EQ(scheduler.next_due(clock.now()), clock.now() + kPeriod);
  clock.advance(kPeriod);
  const Decisions later = step();
  ASSERT_TRUE(later.cycle);
  EXPECT_THAT(pods_of(later.binds), ElementsAre("ns/a"));
}

TEST_F(SchedulerStep, NothingIsDecidedBeforeSyncNorByAStandby) {
  scheduler.set_synced(false);
  EXPECT_FALSE(step(changes({add_node(gpu_node("n1", 8)),
                             add_pod(pod("ns", "a", "", {{"nvidia.com/gpu", "1"}}))}))
                   .cycle);
  scheduler.set_synced(true);
  scheduler.set_leading(false);
  EXPECT_TRUE(step().empty());
  EXPECT_FALSE(scheduler.state().find_pod("ns/a")->counted_bound);
  scheduler.set_leading(true);
  EXPECT_THAT(pods_of(step().binds), ElementsAre("ns/a")) << "the change waited, not lost";
}

TEST_F(SchedulerStep, AWaitingPodIsExplainedOnceUntilItsMessageChanges) {
  const Decisions first = step(changes(
      {add_node(gpu_node("n1", 2)), add_pod(pod("ns", "big", "", {{"nvidia.com/gpu", "4"}}))}));
  ASSERT_THAT(first.explanations, SizeIs(1));
  EXPECT_EQ(first.explanations[0].pod, "ns/big");
  EXPECT_EQ(first.explanations[0].uid, "uid-ns-big");
  EXPECT_THAT(first.explanations[0].message, HasSubstr("0/1 nodes are available"));

  clock.advance(kPeriod);
  const Decisions same = step(changes({add_pod(pod("ns", "small", "", {{"cpu", "1"}}))}));
  ASSERT_TRUE(same.cycle);
  EXPECT_THAT(same.explanations, IsEmpty()) << "same message: no second write";

  clock.advance(kPeriod);
  const Decisions changed = step(changes({add_node(gpu_node("n2", 2))}));
  ASSERT_THAT(changed.explanations, SizeIs(1));
  EXPECT_THAT(changed.explanations[0].message, HasSubstr("0/2 nodes are available"));
}

TEST_F(SchedulerStep, StatusIsWrittenWhenItChangesAtMostOncePerStatusPeriod) {
  const std::string path = "/apis/scheduling.fairway.dev/v1alpha1/queues/team/status";
  const QueueSpec team = testing::queue("team", "", 8);
  step(changes({add_node(gpu_node("n1", 8)), [team](ClusterState& s) { s.upsert_queue(team); }}));
  const Decisions first = step();  // the first cycle's status, due at once
  ASSERT_THAT(first.status_patches, SizeIs(1));
  EXPECT_EQ(first.status_patches[0].path, path);

  clock.advance(kPeriod);
  const Decisions placed =
      step(changes({add_pod(pod("ns", "a", "team", {{"nvidia.com/gpu", "2"}}))}));
  EXPECT_THAT(pods_of(placed.binds), ElementsAre("ns/a"));
  EXPECT_THAT(step().status_patches, IsEmpty()) << "within status_period";
  clock.advance(std::chrono::seconds(1));
  const Decisions due = step();
  ASSERT_THAT(due.status_patches, SizeIs(1)) << "the queue's demand changed";
  EXPECT_EQ(due.status_patches[0].path, path);

  // Cycles on an unchanged cluster (the same node written again) write nothing new once the
  // status has caught up with the placement.
  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    clock.advance(std::chrono::seconds(1));
    ASSERT_TRUE(step(changes({add_node(gpu_node("n1", 8))})).cycle);
    clock.advance(std::chrono::seconds(1));
    for (const ObjectWrite& patch : step().status_patches) bodies.push_back(patch.body);
  }
  ASSERT_THAT(bodies, SizeIs(1)) << "only the first catches up";
  EXPECT_THAT(
      bodies[0],
      HasSubstr(
          R"("allocated":{"cpu":"0","ephemeral-storage":"0","memory":"0","nvidia.com/gpu":"2"})"));
}

TEST_F(SchedulerStep, ANewTermExplainsAfreshWhatTheLostTermMayNotHaveWritten) {
  step(changes(
      {add_node(gpu_node("n1", 2)), add_pod(pod("ns", "big", "", {{"nvidia.com/gpu", "4"}}))}));
  scheduler.set_leading(false);
  step();
  scheduler.set_leading(true);
  clock.advance(kPeriod);
  const Decisions again = step(changes({add_pod(pod("ns", "small", "", {{"cpu", "1"}}))}));
  ASSERT_THAT(again.explanations, SizeIs(1));
  EXPECT_EQ(again.explanations[0].pod, "ns/big");
}

TEST_F(SchedulerStep, APassEvictsForAHigherPriorityPodAndARefusalRetriesAtOnce) {
  const Decisions placed = step(
      changes({add_node(gpu_node("n1", 8)),
               add_pod(running_on(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), "n1", 10))}));
  EXPECT_THAT(placed.evictions, IsEmpty()) << "nothing waits";

  Pod high = pod("ns", "high", "", {{"nvidia.com/gpu", "8"}});
  high.priority = 100;
  clock.advance(kPeriod);
  const Decisions planned = step(changes({add_pod(high)}));
  ASSERT_TRUE(planned.pass.ran);
  ASSERT_THAT(planned.evictions, SizeIs(1));
  EXPECT_EQ(planned.evictions[0].preemptor, "ns/high");
  ASSERT_THAT(planned.evictions[0].victims, SizeIs(1));
  EXPECT_EQ(planned.evictions[0].victims[0].pod, "ns/low");
  EXPECT_THAT(scheduler.nominations(), SizeIs(1));

  clock.advance(std::chrono::seconds(1));
  EXPECT_FALSE(step().pass.ran) << "the next pass is a period away";
  EXPECT_EQ(scheduler.next_pass_due(), clock.now() + std::chrono::seconds(4));

  // A PodDisruptionBudget refuses: the pod is avoided and the next pass is due now.
  scheduler.eviction_refused("ns/high", "ns/low", 429, true, std::chrono::milliseconds(0),
                             clock.wall_ms());
  const Decisions retried = step();
  EXPECT_TRUE(retried.pass.ran);
  EXPECT_THAT(retried.evictions, IsEmpty()) << "the only victim is avoided for a while";
}

TEST_F(SchedulerStep, ASharedGpuPlacementCarriesItsShares) {
  Pod half = pod("ns", "half", "", {{"cpu", "1"}});
  half.annotations["fairway.dev/gpu-fraction"] = "0.5";
  const Decisions d = step(changes({add_node(gpu_node("n1", 1)), add_pod(half)}));
  ASSERT_THAT(d.binds, SizeIs(1));
  EXPECT_THAT(d.binds[0].shares, SizeIs(1));
}

}  // namespace
}  // namespace fairway
