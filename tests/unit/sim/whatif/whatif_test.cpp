// What-if on a snapshot: loading (sim/whatif/snapshot.h) and replaying (sim/whatif/replay.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "sim/manifests.h"
#include "sim/whatif/anonymize.h"
#include "sim/whatif/replay.h"
#include "sim/whatif/snapshot.h"
#include "support/builders.h"

namespace fairway::sim {
namespace {

// Two nodes of 8 and 4 GPUs, queues a and b (no quota; a's weight as given), 12 one-GPU pods
// waiting in each: the cluster of tests/integration/what_if.sh.
// `seed` non-zero: every list in the snapshot in a shuffled order.
std::string snapshot_text(double weight_of_a, const nlohmann::json& extra_pod = nullptr,
                          unsigned seed = 0) {
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
  if (seed != 0) {
    std::mt19937 random(seed);
    for (nlohmann::json* list : {&nodes, &queues, &pods}) {
      std::shuffle(list->begin(), list->end(), random);
    }
  }
  return nlohmann::json{{"apiVersion", kSnapshotApiVersion}, {"kind", kSnapshotKind},
                        {"takenAt", "2027-01-15T08:00:00Z"}, {"nodes", {{"items", nodes}}},
                        {"queues", {{"items", queues}}},     {"pods", {{"items", pods}}}}
      .dump();
}

ReplayOutcome replay_text(const std::string& text) {
  ClusterState state;
  auto loaded = load_snapshot(text, state);
  EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error());
  ReplayOptions options;
  options.now_ms = 1'800'000'000'000;
  return replay(state, options);
}

size_t bound_in(const ReplayOutcome& decisions, const std::string& queue) {
  size_t n = 0;
  for (const auto& [pod, node] : decisions.bindings) n += pod.starts_with("team/" + queue + "-");
  return n;
}

// Pods bound per (queue, node): which of a queue's identical pods gets a node may differ.
std::map<std::string, int> placed_per_queue_and_node(const ReplayOutcome& decisions) {
  std::map<std::string, int> out;
  for (const auto& [pod, node] : decisions.bindings) {
    ++out[pod.substr(0, pod.find('-')) + " on " + node];
  }
  return out;
}

// 12 GPUs, both queues want 12: weights 1:1 → 6 and 6; a's weight 3 → 9 and 3, and as many
// pods bound. The same cluster listed in other orders decides the same.
TEST(WhatIf, ReplayFollowsTheWeightsAndIsDeterministic) {
  const ReplayOutcome even = replay_text(snapshot_text(1));
  EXPECT_DOUBLE_EQ(even.queues.at("a").fair_share_gpus, 6);
  EXPECT_EQ(bound_in(even, "a"), 6u);
  EXPECT_EQ(bound_in(even, "b"), 6u);
  EXPECT_EQ(even.pending_pods, 12u);
  for (unsigned seed : {1u, 2u, 3u}) {
    const ReplayOutcome shuffled = replay_text(snapshot_text(1, nullptr, seed));
    EXPECT_EQ(placed_per_queue_and_node(shuffled), placed_per_queue_and_node(even)) << seed;
    EXPECT_EQ(shuffled.pending_pods, even.pending_pods) << seed;
    EXPECT_DOUBLE_EQ(shuffled.queues.at("b").fair_share_gpus, 6) << seed;
  }

  const ReplayOutcome weighted = replay_text(snapshot_text(3));
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

// A cluster with names worth hiding: a parent queue and two leaves, a namespace with a queue
// label, a gang (PodGroup) with a priority class, a running pod bound to a node, nodes on a rack
// label, pods with images, commands, env and an annotation fairway does not read.
nlohmann::json named_snapshot() {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& [name, gpus] : {std::pair{"gpu-host-alpha", 8}, {"gpu-host-beta", 4}}) {
    Node node = testing::gpu_node(name, gpus);
    node.labels["example.com/rack"] = "rack-of-acme";
    node.labels["nvidia.com/gpu.product"] = "H100-SXM";
    nodes.push_back(node_manifest(node));
  }
  nlohmann::json queues = nlohmann::json::array();
  queues.push_back(queue_manifest(testing::queue("acme-org", "", 0)));
  for (const auto& [name, weight] : {std::pair{"research-queue", 3.0}, {"serving-queue", 1.0}}) {
    QueueSpec queue = testing::queue(name, "acme-org", 0);
    queue.resources["nvidia.com/gpu"].over_quota_weight = weight;
    queues.push_back(queue_manifest(queue));
  }
  nlohmann::json pods = nlohmann::json::array();
  auto add = [&](const std::string& name, const std::string& queue) -> nlohmann::json& {
    nlohmann::json pod =
        pod_manifest(testing::pod("secret-team", name, queue, {{"nvidia.com/gpu", "1"}}));
    pod["spec"]["containers"][0]["image"] = "registry.acme.example/trainer:7";
    pod["spec"]["containers"][0]["command"] = {"python", "train_acme.py"};
    pod["spec"]["containers"][0]["env"] = {{{"name", "ACME_TOKEN"}, {"value", "hunter2"}}};
    pod["metadata"]["annotations"]["acme.example/owner"] = "alice-smith";
    pods.push_back(std::move(pod));
    return pods.back();
  };
  for (int i = 0; i < 10; ++i) add("research-trainer-" + std::to_string(i), "research-queue");
  for (int i = 0; i < 10; ++i) add("serving-replica-" + std::to_string(i), "serving-queue");
  for (int i = 0; i < 2; ++i) {
    nlohmann::json& member = add("llm-gang-worker-" + std::to_string(i), "research-queue");
    member["metadata"]["annotations"]["fairway.dev/pod-group"] = "llm-gang";
  }
  nlohmann::json& running = add("serving-running", "serving-queue");
  running["spec"]["nodeName"] = "gpu-host-beta";
  running["status"] = {{"phase", "Running"}, {"podIP", "10.1.2.3"}};
  const nlohmann::json group = {
      {"apiVersion", "scheduling.fairway.dev/v1alpha1"},
      {"kind", "PodGroup"},
      {"metadata", {{"name", "llm-gang"}, {"namespace", "secret-team"}}},
      {"spec",
       {{"minMember", 2}, {"queue", "research-queue"}, {"priorityClassName", "acme-critical"}}}};
  const nlohmann::json priority = {{"apiVersion", "scheduling.k8s.io/v1"},
                                   {"kind", "PriorityClass"},
                                   {"metadata", {{"name", "acme-critical"}}},
                                   {"value", 1000}};
  nlohmann::json ns = namespace_manifest("secret-team");
  ns["metadata"]["labels"] = {{"kubernetes.io/metadata.name", "secret-team"}};
  return {{"apiVersion", kSnapshotApiVersion}, {"kind", kSnapshotKind},
          {"takenAt", "2027-01-15T08:00:00Z"}, {"server", "https://acme-cluster.example:6443"},
          {"namespaces", {{"items", {ns}}}},   {"priorityClasses", {{"items", {priority}}}},
          {"nodes", {{"items", nodes}}},       {"queues", {{"items", queues}}},
          {"podGroups", {{"items", {group}}}}, {"pods", {{"items", pods}}}};
}

// Anonymized, the snapshot holds none of its names, images, commands, env or other
// annotations, and replays to the same decisions: every queue's fair share and allocation
// (under its hashed name), as many bindings, evictions and pods left waiting.
TEST(WhatIf, AnAnonymizedSnapshotHidesItsNamesAndReplaysTheSame) {
  const nlohmann::json original = named_snapshot();
  nlohmann::json shared = original;
  Anonymizer anonymizer("test key");
  anonymizer.snapshot(shared);
  const std::string text = shared.dump();
  for (const char* secret :
       {"gpu-host", "rack-of-acme", "acme", "research", "serving", "secret-team", "llm-gang",
        "trainer", "hunter2", "ACME_TOKEN", "alice", "registry", "10.1.2.3", "python"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  }
  // What the scheduler reads for meaning stays.
  EXPECT_NE(text.find("H100-SXM"), std::string::npos);
  EXPECT_NE(text.find("example.com/rack"), std::string::npos);
  EXPECT_NE(text.find("fairway.dev/pod-group"), std::string::npos);

  const ReplayOutcome before = replay_text(original.dump());
  const ReplayOutcome after = replay_text(text);
  EXPECT_EQ(after.bindings.size(), before.bindings.size());
  EXPECT_EQ(after.evictions.size(), before.evictions.size());
  EXPECT_EQ(after.pending_pods, before.pending_pods);
  ASSERT_EQ(after.queues.size(), before.queues.size());
  for (const auto& [name, queue] : before.queues) {
    const auto hashed = after.queues.find(anonymizer.hash(name));
    ASSERT_NE(hashed, after.queues.end()) << name;
    EXPECT_DOUBLE_EQ(hashed->second.fair_share_gpus, queue.fair_share_gpus) << name;
    EXPECT_DOUBLE_EQ(hashed->second.allocated_gpus, queue.allocated_gpus) << name;
  }
  EXPECT_DOUBLE_EQ(before.queues.at("research-queue").allocated_gpus, 9);  // incl. the gang
  // The running pod keeps its node: the node's hash, as its name and hostname label have it.
  const std::string node = anonymizer.hash("gpu-host-beta");
  bool bound_there = false;
  for (const nlohmann::json& pod : shared["pods"]["items"]) {
    bound_there |= pod["spec"].value("nodeName", "") == node;
  }
  EXPECT_TRUE(bound_there);
  EXPECT_EQ(shared["nodes"]["items"][1]["metadata"]["labels"]["kubernetes.io/hostname"], node);
}

TEST(WhatIf, AnonymizedNamesAreStableWithinASnapshotAndKeyed) {
  Anonymizer one("key one");
  Anonymizer other("key two");
  EXPECT_EQ(one.hash("research-queue"), one.hash("research-queue"));
  EXPECT_NE(one.hash("research-queue"), one.hash("serving-queue"));
  EXPECT_NE(one.hash("research-queue"), other.hash("research-queue"));
  EXPECT_EQ(one.hash("research-queue").size(), 16u);
  EXPECT_EQ(one.hash("research-queue").front(), 'h');
  // Names the scheduler gives a meaning of its own, and numbers, stay.
  for (const char* kept : {"default", "kube-system", "system-node-critical", "8", "true", ""}) {
    EXPECT_EQ(one.hash(kept), kept);
  }
}

}  // namespace
}  // namespace fairway::sim
