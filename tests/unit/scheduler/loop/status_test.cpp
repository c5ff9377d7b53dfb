// Queue and PodGroup status as the scheduler writes them.
#include "scheduler/loop/status.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "k8s-client/objects.h"
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
  auto busy = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                             state.queue_usage(), state.usage_history(), {});
  EXPECT_EQ(busy.at("team")["allocated"]["nvidia.com/gpu"], "2");
  EXPECT_EQ(busy.at("team")["deserved"]["nvidia.com/gpu"], "4");

  state.remove_pod("ns/p");
  auto idle = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                             state.queue_usage(), state.usage_history(), {});
  EXPECT_EQ(idle.at("team")["allocated"]["nvidia.com/gpu"], "0");
  EXPECT_EQ(idle.at("team")["fairShare"]["nvidia.com/gpu"], "0");
  EXPECT_FALSE(idle.at("team")["allocated"].contains("pods"));
  EXPECT_FALSE(idle.contains("default"));  // the implicit default has no object to write to
}

TEST(QueueStatus, InvalidQueuesSayWhy) {
  ClusterState state;
  state.upsert_queue(testing::queue("orphan", "missing", 0));
  auto statuses = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                                 state.queue_usage(), state.usage_history(), {});
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
  auto statuses = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                                 state.queue_usage(), state.usage_history(), {});
  std::vector<std::string> children = statuses.at("org")["children"];
  std::sort(children.begin(), children.end());
  EXPECT_EQ(children, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(statuses.at("a")["children"].empty());
}

// What `kubectl get queues` prints: GPUs in one unit with two decimals, pods waiting per queue
// (a parent's summed over its subtree), and an invalid queue's waiting pods too.
TEST(QueueStatus, GpusInOneUnitAndPendingPods) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_queue(testing::queue("org", "", 0));
  state.upsert_queue(testing::queue("a", "org", 3));
  state.upsert_queue(testing::queue("b", "org", 2, 4));
  state.upsert_queue(testing::queue("orphan", "missing", 1));
  Pod running = testing::pod("ns", "r", "a", {{"nvidia.com/gpu", "2"}});
  running.node_name = "n";
  state.upsert_pod(running);
  Pod half = testing::pod("ns", "h", "b", {});
  half.annotations["fairway.dev/gpu-fraction"] = "0.25";
  half.node_name = "n";
  state.upsert_pod(half);
  state.upsert_pod(testing::pod("ns", "w1", "a", {{"nvidia.com/gpu", "9"}}));
  state.upsert_pod(testing::pod("ns", "w2", "b", {{"nvidia.com/gpu", "9"}}));
  state.upsert_pod(testing::pod("ns", "w3", "orphan", {{"nvidia.com/gpu", "1"}}));
  const auto statuses =
      queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                     state.queue_usage(), state.usage_history(), {});
  EXPECT_EQ(statuses.at("a")["gpus"]["quota"], "3.00");
  EXPECT_EQ(statuses.at("a")["gpus"]["allocated"], "2.00");
  EXPECT_EQ(statuses.at("b")["gpus"]["allocated"], "0.25");
  EXPECT_EQ(statuses.at("org")["gpus"]["quota"], "5.00");  // no quota: its children's sum
  EXPECT_EQ(statuses.at("org")["gpus"]["allocated"], "2.25");
  // 8 GPUs, all wanted: a gets its quota 3, b its 2, and the 3 left go 1:1 by weight.
  EXPECT_EQ(statuses.at("org")["gpus"]["fairShare"], "8.00");
  EXPECT_EQ(statuses.at("a")["gpus"]["fairShare"], "4.50");
  EXPECT_EQ(statuses.at("b")["gpus"]["fairShare"], "3.50");
  EXPECT_EQ(statuses.at("a")["pendingPods"], 1);
  EXPECT_EQ(statuses.at("b")["pendingPods"], 1);
  EXPECT_EQ(statuses.at("org")["pendingPods"], 2);
  EXPECT_EQ(statuses.at("orphan")["pendingPods"], 1);
  EXPECT_TRUE(statuses.at("orphan")["gpus"].is_null());  // removed by the merge patch
  EXPECT_EQ(statuses.at("orphan")["conditions"][0]["status"], "False");
}

// Every non-blocking problem becomes the queue's Warning condition (True, reason, message)
// beside Valid=True: the tree's own (children's quota above the parent's, `default` with
// children) and the cluster's (top-level quotas above the capacity).
TEST(QueueStatus, NonBlockingProblemsAreWarningConditions) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_queue(testing::queue("org", "", 4));
  state.upsert_queue(testing::queue("a", "org", 3));
  state.upsert_queue(testing::queue("b", "org", 3));
  state.upsert_queue(testing::queue("default", "", 0));
  state.upsert_queue(testing::queue("sub", "default", 0));
  state.upsert_queue(testing::queue("big", "", 10));
  const auto warnings = capacity_problems(state.queue_tree(), state.capacity(), state.registry());
  const auto statuses =
      queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                     state.queue_usage(), state.usage_history(), warnings);
  const auto condition = [&](const std::string& queue, const std::string& type) {
    for (const auto& c : statuses.at(queue)["conditions"]) {
      if (c["type"] == type) return c;
    }
    return nlohmann::json();
  };
  EXPECT_EQ(condition("org", "Valid")["status"], "True");
  EXPECT_EQ(condition("org", "Warning")["status"], "True");
  EXPECT_EQ(condition("org", "Warning")["reason"], "ChildrenQuotaExceedParent");
  // org's own warnings come first; the capacity one (4 + 10 > 8) is in the message too.
  const std::string org_message = condition("org", "Warning")["message"];
  EXPECT_NE(org_message.find("QuotaAboveCapacity"), std::string::npos) << org_message;
  EXPECT_EQ(condition("default", "Warning")["reason"], "DefaultQueueNotLeaf");
  EXPECT_EQ(condition("big", "Warning")["reason"], "QuotaAboveCapacity");
  EXPECT_EQ(condition("big", "Warning")["message"],
            "the top-level queues' quotas of nvidia.com/gpu add up to 14, more than the "
            "cluster's 8: when every queue claims its quota, each gets a part in proportion to "
            "quota");
  EXPECT_TRUE(condition("a", "Warning").is_null());  // a child scaled down is not warned twice
  EXPECT_EQ(condition("sub", "Valid")["status"], "True");
  EXPECT_TRUE(condition("sub", "Warning").is_null());

  // Enough capacity: the capacity warning goes, the tree's stay.
  state.upsert_node(testing::gpu_node("m", 8));
  const auto fewer = capacity_problems(state.queue_tree(), state.capacity(), state.registry());
  EXPECT_TRUE(fewer.empty());
  const auto after = queue_statuses(state.queue_tree(), run_cycle(state).shares, state.registry(),
                                    state.queue_usage(), state.usage_history(), fewer);
  EXPECT_EQ(after.at("big")["conditions"].size(), 1u);
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
    state.upsert_pod(
        testing::gang_pod("ns", "g-" + std::to_string(i), "", "g", 3, {{"nvidia.com/gpu", "4"}}));
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

constexpr WallMs kStart = 1'800'000'000'000;
constexpr WallMs kDay = 24LL * 3600 * 1000;  // the default --usage-half-life

// A queue holding 4 of 8 GPUs for one half-life used a quarter of the cluster: 4/8 · (1 - 1/2).
// Status carries it (a parent sums its subtree), and a scheduler started afresh continues from
// it: one more half-life still holding 4 → 0.25 · 1/2 + 0.5 · (1 - 1/2) = 0.375.
TEST(QueueStatus, UsageOverTimeIsWrittenAndContinuedAfterARestart) {
  auto cluster = [](ClusterState& state) {
    state.upsert_node(testing::gpu_node("n", 8));
    Pod running = testing::pod("ns", "p", "a", {{"nvidia.com/gpu", "4"}});
    running.node_name = "n";
    state.upsert_pod(running);
  };
  ClusterState before;
  cluster(before);
  before.upsert_queue(testing::queue("org", "", 0));
  before.upsert_queue(testing::queue("a", "org", 0));
  before.upsert_queue(testing::queue("b", "org", 0));
  before.advance_usage(kStart);
  before.advance_usage(kStart + kDay);
  auto statuses = queue_statuses(before.queue_tree(), before.fair_shares(), before.registry(),
                                 before.queue_usage(), before.usage_history(), {});
  const nlohmann::json& a = statuses.at("a");
  EXPECT_EQ(a["usage"]["shares"]["nvidia.com/gpu"], "0.2500");
  EXPECT_EQ(a["usage"]["time"], k8s::format_rfc3339(kStart + kDay));
  EXPECT_EQ(a["gpus"]["usage"], "25.0%");
  EXPECT_EQ(statuses.at("org")["usage"]["shares"]["nvidia.com/gpu"], "0.2500");
  EXPECT_TRUE(statuses.at("b")["usage"].is_null());  // no history: a merge patch removes it
  EXPECT_EQ(statuses.at("b")["gpus"]["usage"], "0.0%");

  ClusterState after;
  cluster(after);
  nlohmann::json object = {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
                           {"kind", "Queue"},
                           {"metadata", {{"name", "a"}}},
                           {"spec", {{"parent", "org"}}},
                           {"status", a}};
  auto decoded = k8s::decode_queue(object.dump());
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_TRUE(decoded->object.past_usage.has_value());
  after.upsert_queue(testing::queue("org", "", 0));
  after.upsert_queue(decoded->object);
  after.upsert_queue(testing::queue("b", "org", 0));
  after.advance_usage(kStart + 2 * kDay);
  EXPECT_NEAR(after.usage_history().shares("a").at(kGpu), 0.375, 1e-4);
}

// With --usage-strength 1 the state hands each queue's history to the fair share: a used a
// quarter of the cluster, b nothing (U = 0.25, W = 2): weights 1 - (1 - 1/2) = 0.5 and 1.5, so
// of 8 GPUs both want, a gets 2 and b 6. With strength 0 they split 4 / 4.
TEST(QueueStatus, PastUseMovesTheFairShareWithAStrength) {
  for (const double strength : {0.0, 1.0}) {
    StateConfig config;
    config.usage.strength = strength;
    ClusterState state(config);
    state.upsert_node(testing::gpu_node("n", 8));
    state.upsert_queue(testing::queue("a", "", 0));
    state.upsert_queue(testing::queue("b", "", 0));
    Pod running = testing::pod("ns", "p", "a", {{"nvidia.com/gpu", "4"}});
    running.node_name = "n";
    state.upsert_pod(running);
    state.advance_usage(kStart);
    state.advance_usage(kStart + kDay);
    state.remove_pod("ns/p");
    state.upsert_pod(testing::pod("ns", "wa", "a", {{"nvidia.com/gpu", "8"}}));
    state.upsert_pod(testing::pod("ns", "wb", "b", {{"nvidia.com/gpu", "8"}}));
    const FairShares shares = state.fair_shares();
    const QueueTree& tree = state.queue_tree();
    EXPECT_NEAR(shares.share(*tree.find("a"), kGpu) / 1000, strength == 0 ? 4 : 2, 1e-9);
    EXPECT_NEAR(shares.share(*tree.find("b"), kGpu) / 1000, strength == 0 ? 4 : 6, 1e-9);
  }
}

TEST(ShareQuantity, WholeFractionalAndMemory) {
  EXPECT_EQ(share_quantity(8000, 1000), "8");
  EXPECT_EQ(share_quantity(2500, 1000), "2500m");
  EXPECT_EQ(share_quantity(1000.0 / 3, 1000), "0.333");
  EXPECT_EQ(share_quantity(17179869184.0, 1), "16Gi");
}

}  // namespace
}  // namespace fairway
