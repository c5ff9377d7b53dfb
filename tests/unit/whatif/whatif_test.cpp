// What-if on a snapshot: loading (sim/whatif/snapshot.h) and replaying (sim/whatif/replay.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim/manifests.h"
#include "sim/whatif/replay.h"
#include "sim/whatif/snapshot.h"
#include "support/builders.h"

namespace fairway::sim {
namespace {

// Two nodes of 8 and 4 GPUs, queues a and b (no quota; a's weight as given), 12 one-GPU pods
// waiting in each: the cluster of tests/integration/what_if.sh.
std::string snapshot_text(double weight_of_a, const nlohmann::json& extra_pod = nullptr) {
  nlohmann::json nodes = nlohmann::json::array();
  nodes.push_back(node_manifest(testing::gpu_node("gpu-a", 8)));
  nodes.push_back(node_manifest(testing::gpu_node("gpu-b", 4)));
  nlohmann::json queues = nlohmann::json::array();
  for (const char* name : {"a", "b"}) {
    QueueSpec queue = testing::queue(name, "", 0);
    queue.resources["nvidia.com/gpu"].over_quota_weight = name[0] == 'a' ? weight_of_a : 1;
    queues.push_back(queue_manifest(queue));
  }
  nlohmann::json pods = nlohmann::json::array();
  for (const char* queue : {"a", "b"}) {
    for (int i = 10; i < 22; ++i) {
      pods.push_back(pod_manifest(testing::pod("team", std::string(queue) + "-" + std::to_string(i),
                                               queue, {{"nvidia.com/gpu", "1"}})));
    }
  }
  if (!extra_pod.is_null()) pods.push_back(extra_pod);
  return nlohmann::json{{"apiVersion", kSnapshotApiVersion}, {"kind", kSnapshotKind},
                        {"takenAt", "2027-01-15T08:00:00Z"}, {"nodes", {{"items", nodes}}},
                        {"queues", {{"items", queues}}},     {"pods", {{"items", pods}}}}
      .dump();
}

Decisions replay_text(const std::string& text) {
  ClusterState state;
  auto loaded = load_snapshot(text, state);
  EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error());
  ReplayOptions options;
  options.now_ms = 1'800'000'000'000;
  return replay(state, options);
}

size_t bound_in(const Decisions& decisions, const std::string& queue) {
  size_t n = 0;
  for (const auto& [pod, node] : decisions.bindings) n += pod.starts_with("team/" + queue + "-");
  return n;
}

// 12 GPUs, both queues want 12: weights 1:1 → 6 and 6; a's weight 3 → 9 and 3, and as many
// pods bound. The same snapshot replayed twice decides the same.
TEST(WhatIf, ReplayFollowsTheWeightsAndIsDeterministic) {
  const Decisions even = replay_text(snapshot_text(1));
  EXPECT_DOUBLE_EQ(even.queues.at("a").fair_share_gpus, 6);
  EXPECT_EQ(bound_in(even, "a"), 6u);
  EXPECT_EQ(bound_in(even, "b"), 6u);
  EXPECT_EQ(even.pending_pods, 12u);
  EXPECT_EQ(even.bindings, replay_text(snapshot_text(1)).bindings);

  const Decisions weighted = replay_text(snapshot_text(3));
  EXPECT_DOUBLE_EQ(weighted.queues.at("a").fair_share_gpus, 9);
  EXPECT_DOUBLE_EQ(weighted.queues.at("b").fair_share_gpus, 3);
  EXPECT_EQ(bound_in(weighted, "a"), 9u);
  EXPECT_EQ(bound_in(weighted, "b"), 3u);
  EXPECT_DOUBLE_EQ(weighted.queues.at("a").allocated_gpus, 9);
}

TEST(WhatIf, AnItemThatDoesNotDecodeIsSkippedAndNamed) {
  nlohmann::json bad = pod_manifest(testing::pod("team", "odd", "a", {{"nvidia.com/gpu", "1"}}));
  bad["spec"]["priority"] = "high";
  ClusterState state;
  auto loaded = load_snapshot(snapshot_text(1, bad), state);
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->problems.size(), 1u);
  EXPECT_NE(loaded->problems[0].find("pods: "), std::string::npos) << loaded->problems[0];
  EXPECT_NE(loaded->problems[0].find("spec.priority"), std::string::npos) << loaded->problems[0];
  EXPECT_EQ(loaded->taken_at, "2027-01-15T08:00:00Z");
  EXPECT_EQ(state.pod_count(), 24u);
}

TEST(WhatIf, WhatIsNotASnapshotIsRefused) {
  ClusterState state;
  auto not_json = load_snapshot("{nodes: []", state);
  ASSERT_FALSE(not_json);
  EXPECT_NE(not_json.error().find("not JSON"), std::string::npos);
  auto a_list = load_snapshot(R"({"kind":"PodList","items":[]})", state);
  ASSERT_FALSE(a_list);
  EXPECT_EQ(a_list.error(),
            "not a ClusterSnapshot (kind \"PodList\"): make one with `fairway snapshot`");
}

TEST(WhatIf, SnapshotsDropManagedFieldsAndLastApplied) {
  nlohmann::json item = {
      {"metadata",
       {{"name", "p"},
        {"managedFields", nlohmann::json::array({{{"manager", "kubectl"}}})},
        {"annotations",
         {{"kubectl.kubernetes.io/last-applied-configuration", "{...}"}, {"keep", "me"}}}}}};
  strip_for_snapshot(item);
  EXPECT_FALSE(item["metadata"].contains("managedFields"));
  EXPECT_EQ(item["metadata"]["annotations"], nlohmann::json({{"keep", "me"}}));
}

}  // namespace
}  // namespace fairway::sim
