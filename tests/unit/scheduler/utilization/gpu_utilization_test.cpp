#include "scheduler/utilization/gpu_utilization.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gpu_node;
using testing::pod;
using testing::queue;
using ::testing::SizeIs;

constexpr WallMs kT0 = 1'700'000'000'000;
constexpr WallMs kMinute = 60'000;

UtilizationConfig config() {
  UtilizationConfig c;
  c.window_ms = 60 * kMinute;
  c.idle_below_percent = 5;
  c.idle_after_ms = 20 * kMinute;
  c.stale_after_ms = 5 * kMinute;
  return c;
}

GpuSample util(std::string pod, std::string gpu, WallMs at, double percent) {
  GpuSample s;
  s.pod = std::move(pod);
  s.gpu = std::move(gpu);
  s.at = at;
  s.utilization_percent = percent;
  return s;
}

GpuSample memory(std::string pod, std::string gpu, WallMs at, double mib) {
  GpuSample s;
  s.pod = std::move(pod);
  s.gpu = std::move(gpu);
  s.at = at;
  s.memory_used_mib = mib;
  return s;
}

TEST(UtilizationTracker, AveragesOverInstantsOfTheMeanOverGpusAndPeaksAtTheBusiestGpu) {
  UtilizationTracker t(config());
  // Two GPUs, two instants: (10+30)/2 = 20 and (50+70)/2 = 60 → average 40, peak 70.
  t.add(util("ns/p", "GPU-a", kT0, 10));
  t.add(util("ns/p", "GPU-b", kT0, 30));
  t.add(util("ns/p", "GPU-b", kT0 + kMinute, 70));  // out of order: series by series
  t.add(util("ns/p", "GPU-a", kT0 + kMinute, 50));
  t.add(memory("ns/p", "GPU-a", kT0 + kMinute, 40'000));
  const auto usage = t.pod("ns/p", kT0 + kMinute);
  ASSERT_TRUE(usage);
  EXPECT_DOUBLE_EQ(usage->average_percent, 40);
  EXPECT_DOUBLE_EQ(usage->peak_percent, 70);
  EXPECT_DOUBLE_EQ(usage->peak_memory_mib, 40'000);
  EXPECT_EQ(usage->gpus, 2u);
  EXPECT_EQ(usage->first_seen, kT0);
  EXPECT_EQ(usage->last_seen, kT0 + kMinute);
  EXPECT_FALSE(usage->idle_since);  // the newest instant is busy
}

TEST(UtilizationTracker, IdleSinceIsTheStartOfTheLatestRunBelowTheThreshold) {
  UtilizationTracker t(config());
  // Busy at 0..10 min, then below 5% from minute 11 to 40.
  for (int m = 0; m <= 40; ++m) t.add(util("ns/p", "GPU-a", kT0 + m * kMinute, m <= 10 ? 80 : 2));
  const WallMs now = kT0 + 40 * kMinute;
  const auto usage = t.pod("ns/p", now);
  ASSERT_TRUE(usage);
  ASSERT_TRUE(usage->idle_since);
  EXPECT_EQ(*usage->idle_since, kT0 + 11 * kMinute);
  EXPECT_TRUE(idle(*usage, config(), now));  // 29 minutes idle, 20 needed
  // At minute 30 it had been idle only 19 minutes.
  UtilizationTracker earlier(config());
  for (int m = 0; m <= 30; ++m)
    earlier.add(util("ns/p", "GPU-a", kT0 + m * kMinute, m <= 10 ? 80 : 2));
  EXPECT_FALSE(idle(*earlier.pod("ns/p", kT0 + 30 * kMinute), config(), kT0 + 30 * kMinute));
  // Samples that stopped coming: not judged, however long the idle run.
  EXPECT_FALSE(idle(*usage, config(), now + 5 * kMinute + 1));
}

TEST(UtilizationTracker, OneBusyGpuMakesThePodBusy) {
  UtilizationTracker t(config());
  for (int m = 0; m <= 30; ++m) {
    t.add(util("ns/p", "GPU-a", kT0 + m * kMinute, 0));
    t.add(util("ns/p", "GPU-b", kT0 + m * kMinute, m == 25 ? 60 : 0));
  }
  const auto usage = t.pod("ns/p", kT0 + 30 * kMinute);
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage->idle_since, kT0 + 26 * kMinute);
  EXPECT_FALSE(idle(*usage, config(), kT0 + 30 * kMinute));
}

TEST(UtilizationTracker, StaleOrUnknownPodsAreNeverJudged) {
  UtilizationTracker t(config());
  t.add(util("ns/p", "GPU-a", kT0, 0));
  EXPECT_TRUE(t.pod("ns/p", kT0 + 5 * kMinute));
  EXPECT_FALSE(t.pod("ns/p", kT0 + 5 * kMinute + 1));  // no sample for over 5 minutes
  EXPECT_FALSE(t.pod("ns/other", kT0));
  // Memory alone says nothing about compute.
  t.add(memory("ns/m", "GPU-b", kT0, 100));
  EXPECT_FALSE(t.pod("ns/m", kT0));
}

TEST(UtilizationTracker, PruneForgetsWhatLeftTheWindow) {
  UtilizationTracker t(config());
  t.add(util("ns/old", "GPU-a", kT0, 90));
  t.add(util("ns/p", "GPU-b", kT0, 90));
  t.add(util("ns/p", "GPU-b", kT0 + 61 * kMinute, 10));
  t.prune(kT0 + 61 * kMinute);
  const PodUtilizations left = t.summaries();
  EXPECT_EQ(left.size(), 1u);
  EXPECT_TRUE(left.contains("ns/p"));
  EXPECT_DOUBLE_EQ(t.pod("ns/p", kT0 + 61 * kMinute)->peak_percent, 10);
}

TEST(UtilizationTracker, OddValuesAreClampedOrIgnored) {
  UtilizationTracker t(config());
  t.add(util("ns/p", "GPU-a", kT0, 250));
  t.add(util("ns/p", "GPU-a", kT0 + 1, std::nan("")));
  t.add(util("", "GPU-a", kT0, 1));
  const auto usage = t.pod("ns/p", kT0 + 1);
  ASSERT_TRUE(usage);
  EXPECT_DOUBLE_EQ(usage->peak_percent, 100);
  const PodUtilizations pods = t.summaries();
  EXPECT_EQ(pods.size(), 1u);
  EXPECT_TRUE(pods.contains("ns/p"));
}

Pod running(Pod p, const std::string& node) {
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  return p;
}

TEST(UtilizationReport, PerQueueRatiosAndIdlePodsLongestFirst) {
  ClusterState state;
  state.upsert_queue(queue("a", "", 8));
  state.upsert_queue(queue("b", "", 8));
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_pod(running(pod("ns", "a-busy", "a", {{"nvidia.com/gpu", "2"}}), "n1"));
  state.upsert_pod(running(pod("ns", "a-idle", "a", {{"nvidia.com/gpu", "1"}}), "n1"));
  state.upsert_pod(running(pod("ns", "b-idle", "b", {{"nvidia.com/gpu", "4"}}), "n1"));
  state.upsert_pod(running(pod("ns", "b-unmeasured", "b", {{"nvidia.com/gpu", "1"}}), "n1"));
  state.upsert_pod(running(pod("ns", "cpu-only", "b", {{"cpu", "1"}}), "n1"));
  UtilizationTracker t(config());
  for (int m = 0; m <= 40; ++m) {
    const WallMs at = kT0 + m * kMinute;
    t.add(util("ns/a-busy", "GPU-0", at, 90));
    t.add(util("ns/a-busy", "GPU-1", at, 60));
    t.add(util("ns/a-idle", "GPU-2", at, m < 15 ? 50 : 0));
    t.add(util("ns/b-idle", "GPU-3", at, 1));
  }
  const WallMs now = kT0 + 40 * kMinute;
  const UtilizationReport report = utilization_report(state, t.summaries(), config(), now);
  ASSERT_THAT(report.queues, SizeIs(2));
  const QueueUtilization& a = report.queues[0];
  EXPECT_EQ(a.queue, "a");
  EXPECT_EQ(a.allocated_gpu_milli, 3000);
  EXPECT_EQ(a.measured_gpu_milli, 3000);
  // a-busy: average 75 on 2 GPUs; a-idle: (15×50 + 26×0)/41 on 1 GPU.
  const double a_idle_average = 15.0 * 50 / 41;
  EXPECT_NEAR(*a.utilization_ratio, (0.75 * 2 + a_idle_average / 100) / 3, 1e-9);
  EXPECT_EQ(a.idle_pods, 1u);
  const QueueUtilization& b = report.queues[1];
  EXPECT_EQ(b.allocated_gpu_milli, 5000);
  EXPECT_EQ(b.measured_gpu_milli, 4000);
  EXPECT_NEAR(*b.utilization_ratio, 0.01, 1e-9);
  EXPECT_EQ(b.idle_gpu_milli, 4000);
  // b-idle has been idle 40 minutes, a-idle 25.
  ASSERT_THAT(report.idle, SizeIs(2));
  EXPECT_EQ(report.idle[0].pod, "ns/b-idle");
  EXPECT_EQ(report.idle[0].idle_ms, 40 * kMinute);
  EXPECT_EQ(report.idle[0].queue, "b");
  EXPECT_EQ(report.idle[0].node, "n1");
  EXPECT_EQ(report.idle[0].frees_gpu_milli, 4000);
  EXPECT_EQ(report.idle[1].pod, "ns/a-idle");
  EXPECT_EQ(report.idle[1].idle_ms, 25 * kMinute);
  EXPECT_EQ(describe_idle(report.idle[1], config()),
            "GPUs idle for 25m (below 5% utilisation; average 18%, peak 50% over 40m)");
}

TEST(UtilizationReport, ASharerIsJudgedByItsReservationPodsGpu) {
  ClusterState state;
  state.upsert_queue(queue("a", "", 8));
  state.upsert_node(gpu_node("n1", 8));
  // Groups are named after the node and GPU index (gpu_sharing.h).
  Pod reservation =
      running(pod("fairway-reservation", "n1-gpu3", "", {{"nvidia.com/gpu", "1"}}), "n1");
  reservation.labels["fairway.dev/gpu-group"] = "n1-gpu3";
  state.upsert_pod(reservation);
  Pod sharer = running(pod("ns", "half", "a", {}), "n1");
  sharer.annotations["fairway.dev/gpu-fraction"] = "0.5";
  sharer.labels["fairway.dev/gpu-group"] = "n1-gpu3";
  state.upsert_pod(sharer);
  ASSERT_GT(state.find_pod("ns/half")->shared_gpu_milli, 0);
  UtilizationTracker t(config());
  for (int m = 0; m <= 30; ++m) {
    t.add(util("fairway-reservation/n1-gpu3", "GPU-9", kT0 + m * kMinute, 0));
  }
  const UtilizationReport report =
      utilization_report(state, t.summaries(), config(), kT0 + 30 * kMinute);
  ASSERT_THAT(report.idle, SizeIs(1));
  EXPECT_EQ(report.idle[0].pod, "ns/half");
  EXPECT_EQ(report.idle[0].gpu_milli, 500);
  EXPECT_EQ(report.idle[0].frees_gpu_milli, 0);  // others may share the GPU
}

TEST(ShortDuration, WritesAsKubectlPrintsAges) {
  EXPECT_EQ(short_duration(42'000), "42s");
  EXPECT_EQ(short_duration(25 * kMinute), "25m");
  EXPECT_EQ(short_duration(25 * kMinute + 5000), "25m5s");
  EXPECT_EQ(short_duration(65 * kMinute), "1h5m");
  EXPECT_EQ(short_duration(120 * kMinute), "2h");
  EXPECT_EQ(short_duration(26 * 60 * kMinute), "1d2h");
}

}  // namespace
}  // namespace fairway
