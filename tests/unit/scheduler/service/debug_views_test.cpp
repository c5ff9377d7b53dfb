// What a person reads about a pending pod: /debug/pods node classes, `fairway explain`'s text,
// /debug/queues' tree.
#include "scheduler/service/debug_views.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::HasSubstr;

TEST(DebugPod, ABoundPodsGpuUseIsShownNextToItsRequests) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n1", 8));
  Pod p = testing::pod("ns", "train", "", {{"nvidia.com/gpu", "4"}});
  p.node_name = "n1";
  state.upsert_pod(p);
  UtilizationConfig config;  // idle below 5% for 30m
  PodUtilization usage;
  usage.average_percent = 2.4;
  usage.peak_percent = 4;
  usage.peak_memory_mib = 1024;
  usage.first_seen = 0;
  usage.last_seen = 3'600'000;
  usage.idle_since = 0;
  nlohmann::json answer = debug_pod(state, "ns/train", "");
  add_gpu_use(answer, usage, config, 3'600'000);
  EXPECT_EQ(answer["gpuUse"]["idleSeconds"], 3600);
  EXPECT_THAT(
      render_pod_explanation(answer),
      HasSubstr("GPU use:   average 2%, peak 4%, memory peak 1024Mi over 1h; idle for 1h\n"));
  // Samples that stopped coming ten minutes ago: shown, but not judged.
  nlohmann::json later = debug_pod(state, "ns/train", "");
  add_gpu_use(later, usage, config, 3'600'000 + 600'000);
  EXPECT_FALSE(later["gpuUse"].contains("idleSeconds"));
  EXPECT_THAT(render_pod_explanation(later), HasSubstr("over 1h (no recent samples)\n"));
}

TEST(DebugPod, GroupsNodesByTheirFilterResult) {
  ClusterState state;
  for (int i = 0; i < 3; ++i) state.upsert_node(testing::gpu_node("small-" + std::to_string(i), 2));
  Node cordoned = testing::gpu_node("cordoned", 8);
  cordoned.unschedulable = true;
  state.upsert_node(cordoned);
  Node tainted = testing::gpu_node("tainted", 8);
  tainted.taints.push_back({"dedicated", "infer", TaintEffect::kNoSchedule});
  state.upsert_node(tainted);
  state.upsert_node(testing::gpu_node("big", 8));
  state.upsert_pod(testing::pod("ns", "p", "", {{"nvidia.com/gpu", "4"}}));

  const auto answer = debug_pod(state, "ns/p", "0/6 nodes are available: ...");
  ASSERT_FALSE(answer.is_null());
  EXPECT_EQ(answer["state"], "Pending");
  EXPECT_EQ(answer["queue"], "default");
  EXPECT_EQ(answer["requests"]["nvidia.com/gpu"], "4");
  EXPECT_EQ(answer["message"], "0/6 nodes are available: ...");
  EXPECT_EQ(answer["nodes"]["total"], 6);
  EXPECT_EQ(answer["nodes"]["fit"], 1);
  const auto& classes = answer["nodes"]["classes"];
  ASSERT_EQ(classes.size(), 4u);
  EXPECT_EQ(classes[0]["result"], "Insufficient nvidia.com/gpu");  // most nodes first
  EXPECT_EQ(classes[0]["nodes"], 3);
  std::set<std::string> results;
  for (const auto& c : classes) results.insert(c["result"].get<std::string>());
  EXPECT_TRUE(results.contains("node(s) were unschedulable"));
  EXPECT_TRUE(results.contains("node(s) had untolerated taint {dedicated: infer}"));
  EXPECT_TRUE(results.contains("fits"));

  const std::string text = render_pod_explanation(answer);
  EXPECT_THAT(text, HasSubstr("Pod:       ns/p"));
  EXPECT_THAT(text, HasSubstr("Why:       0/6 nodes are available: ..."));
  EXPECT_THAT(text, HasSubstr("Nodes:     1 of 6 pass every filter and have room"));
  EXPECT_THAT(text, HasSubstr("3  Insufficient nvidia.com/gpu  (e.g. small-0, small-1, small-2)"));
}

TEST(DebugPod, BoundPodsNameTheirNodeAndUnknownPodsAreNull) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  Pod running = testing::pod("ns", "r", "", {{"nvidia.com/gpu", "8"}});
  running.node_name = "n";
  state.upsert_pod(running);
  const auto answer = debug_pod(state, "ns/r", "");
  EXPECT_EQ(answer["state"], "Bound");
  EXPECT_EQ(answer["node"], "n");
  EXPECT_THAT(render_pod_explanation(answer), HasSubstr("State:     Bound on n"));
  EXPECT_TRUE(debug_pod(state, "ns/missing", "").is_null());
}

TEST(DebugPod, AGangShowsItsProgress) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_pod(testing::gang_pod("ns", "g-0", "", "g", 4, {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(testing::gang_pod("ns", "g-1", "", "g", 4, {{"nvidia.com/gpu", "1"}}));
  const auto answer = debug_pod(state, "ns/g-0", "waiting for gang: 2 of minMember 4 pods exist");
  EXPECT_EQ(answer["job"], "ns/g");
  EXPECT_EQ(answer["minMember"], 4);
  EXPECT_EQ(answer["gangPods"], 2);
  EXPECT_THAT(render_pod_explanation(answer),
              HasSubstr("Job:       ns/g (0 of minMember 4 bound, 2 pods)"));
}

TEST(DebugPod, RoomHeldForAPreemptorIsNamedAsTheCycleNamesIt) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n1", 8));
  state.upsert_node(testing::gpu_node("n2", 8));
  state.upsert_pod(testing::pod("ns", "preemptor", "", {{"nvidia.com/gpu", "16"}}));
  state.upsert_pod(testing::pod("ns", "p", "", {{"nvidia.com/gpu", "4"}}));
  ResourceVector eight;
  eight.set(kGpu, 8000);
  // n1's 8 GPUs are held for ns/preemptor, which still waits; a nomination of a job that no
  // longer waits holds nothing.
  const std::vector<Nomination> nominations{{"ns/preemptor", "n1", eight},
                                            {"ns/placed-already", "n2", eight}};
  const auto answer = debug_pod(state, "ns/p", "", &nominations);
  EXPECT_EQ(answer["nodes"]["fit"], 1);
  std::map<std::string, int64_t> counts;
  for (const auto& c : answer["nodes"]["classes"]) counts[c["result"]] = c["nodes"];
  EXPECT_EQ(counts["Capacity held for a preemption in progress"], 1);
  EXPECT_EQ(counts["fits"], 1);
  // The preemptor itself is not kept out by its own nomination.
  const auto own = debug_pod(state, "ns/preemptor", "", &nominations);
  for (const auto& c : own["nodes"]["classes"]) {
    EXPECT_NE(c["result"], "Capacity held for a preemption in progress");
  }
}

// /debug/pods reads the cycle's own diagnosis (diagnose_pod): a fractional pod is judged on the
// shared GPUs as the cycle judges it, not on its requests as a whole-GPU pod would be.
TEST(DebugPod, AFractionalPodsNodesAreClassedAsTheCycleClassesThem) {
  ClusterState state;
  Node small_gpus = testing::gpu_node("small-gpus", 1);
  small_gpus.labels["nvidia.com/gpu.memory"] = "8192";
  state.upsert_node(small_gpus);
  state.upsert_node(testing::gpu_node("cpu-only", 0));
  Pod p = testing::pod("ns", "p", "", {{"cpu", "1"}});
  p.annotations["fairway.dev/gpu-memory"] = "16384";
  state.upsert_pod(p);
  const auto answer = debug_pod(state, "ns/p", "");
  EXPECT_EQ(answer["nodes"]["fit"], 0);
  std::map<std::string, int64_t> counts;
  for (const auto& c : answer["nodes"]["classes"]) counts[c["result"]] = c["nodes"];
  EXPECT_EQ(counts["Insufficient GPU memory"], 1);
  EXPECT_EQ(counts["Insufficient nvidia.com/gpu"], 1);
}

TEST(DebugQueues, NestsChildrenUnderParents) {
  ClusterState state;
  state.upsert_node(testing::gpu_node("n", 8));
  state.upsert_queue(testing::queue("org", "", 8));
  state.upsert_queue(testing::queue("team-a", "org", 6));
  state.upsert_queue(testing::queue("team-b", "org", 2));
  const auto tree = debug_queues(metrics::take_snapshot(state, false));
  // Roots: org and the implicit default queue (no Queue named default exists).
  ASSERT_EQ(tree["queues"].size(), 2u);
  std::set<std::string> roots;
  for (const auto& root : tree["queues"]) roots.insert(root["name"].get<std::string>());
  EXPECT_EQ(roots, (std::set<std::string>{"default", "org"}));
  const auto& org = tree["queues"][0]["name"] == "org" ? tree["queues"][0] : tree["queues"][1];
  EXPECT_EQ(org["name"], "org");
  EXPECT_FALSE(org["leaf"].get<bool>());
  ASSERT_EQ(org["children"].size(), 2u);
  EXPECT_EQ(org["children"][0]["name"], "team-a");
  EXPECT_EQ(org["children"][0]["resources"]["nvidia.com/gpu"]["deserved"], 6);
  EXPECT_EQ(tree["cluster"]["gpus"], 8);
}

}  // namespace
}  // namespace fairway
