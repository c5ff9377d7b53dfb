// Queue and PodGroup status as the scheduler writes them.
#include "scheduler/service/status.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/builders.h"

namespace fairway {
namespace {

TEST(QueueStatus, ResourcesThatDropToZeroAreWrittenAsZero) {
  // Status goes out as a JSON merge patch: a key left out would keep its old value.
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_queue(testing::queue("team", "", 4));
  Pod running = testing::pod("ns", "p", "team", {{"nvidia.com/gpu", "2"}});
  running.node_name = "n";
  state.upsert_pod(running);
  auto busy = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry());
  EXPECT_EQ(busy.at("team")["allocated"]["nvidia.com/gpu"], "2");
  EXPECT_EQ(busy.at("team")["deserved"]["nvidia.com/gpu"], "4");

  state.remove_pod("ns/p");
  auto idle = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry());
  EXPECT_EQ(idle.at("team")["allocated"]["nvidia.com/gpu"], "0");
  EXPECT_EQ(idle.at("team")["fairShare"]["nvidia.com/gpu"], "0");
  EXPECT_FALSE(idle.at("team")["allocated"].contains("pods"));
  EXPECT_FALSE(idle.contains("default"));  // the implicit default has no object to write to
}

TEST(QueueStatus, InvalidQueuesSayWhy) {
  ClusterState state;
  state.upsert_queue(testing::queue("orphan", "missing", 0));
  auto statuses = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry());
  const auto& condition = statuses.at("orphan")["conditions"][0];
  EXPECT_EQ(condition["type"], "Valid");
  EXPECT_EQ(condition["status"], "False");
  EXPECT_EQ(condition["reason"], "UnknownParent");
}

TEST(QueueStatus, ParentsListTheirChildren) {
  ClusterState state;
  state.upsert_queue(testing::queue("org", "", 8));
  state.upsert_queue(testing::queue("b", "org", 4));
  state.upsert_queue(testing::queue("a", "org", 4));
  auto statuses = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry());
  std::vector<std::string> children = statuses.at("org")["children"];
  std::sort(children.begin(), children.end());
  EXPECT_EQ(children, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(statuses.at("a")["children"].empty());
}

TEST(PodGroupStatus, PhaseScheduledAndReason) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 3;
  state.upsert_pod_group(group);
  for (int i = 0; i < 3; ++i) {
    state.upsert_pod(testing::gang_pod("ns", "g-" + std::to_string(i), "", "g", 3, {{"nvidia.com/gpu", "4"}}));
  }
  const CycleResult result = run_cycle(state);
  auto statuses = pod_group_statuses(state, result, {});
  ASSERT_TRUE(statuses.contains("ns/g"));
  EXPECT_EQ(statuses.at("ns/g")["phase"], "Pending");
  EXPECT_EQ(statuses.at("ns/g")["scheduled"], 0);
  EXPECT_EQ(statuses.at("ns/g")["conditions"][0]["reason"], "Unschedulable");

  state.remove_pod("ns/g-2");
  group.min_member = 2;
  state.upsert_pod_group(group);
  const CycleResult fits = run_cycle(state);
  assume_all(state, fits);
  std::unordered_map<std::string, PlacementQuality> placements;
  for (const PlacementQuality& quality : fits.placements) placements.emplace(quality.job, quality);
  statuses = pod_group_statuses(state, fits, placements);
  EXPECT_EQ(statuses.at("ns/g")["phase"], "Running");
  EXPECT_EQ(statuses.at("ns/g")["scheduled"], 2);
  // Both pods fit on the one node: that is the level they share.
  EXPECT_EQ(statuses.at("ns/g")["placement"]["commonLevel"], "kubernetes.io/hostname");
  EXPECT_EQ(statuses.at("ns/g")["placement"]["commonDomain"], "n");
  EXPECT_EQ(statuses.at("ns/g")["placement"]["nodes"], 1);
}

TEST(ShareQuantity, WholeFractionalAndMemory) {
  EXPECT_EQ(share_quantity(8000, 1000), "8");
  EXPECT_EQ(share_quantity(2500, 1000), "2500m");
  EXPECT_EQ(share_quantity(1000.0 / 3, 1000), "0.333");
  EXPECT_EQ(share_quantity(17179869184.0, 1), "16Gi");
}

}  // namespace
}  // namespace fairway
