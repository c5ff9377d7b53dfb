// Fractional GPUs (docs/gpu-sharing.md): placement on shared GPUs, node and queue accounting,
// and the life of a GPU group, in-process.

#include "scheduler/state/gpu_sharing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/cycle/cycle.h"
#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gpu_node;
using ::testing::HasSubstr;
using testing::pod;
using testing::queue;
using ::testing::SizeIs;

Node gpu_node_with_memory(std::string name, int gpus, int64_t memory_mib) {
  Node node = gpu_node(std::move(name), gpus);
  node.labels["nvidia.com/gpu.memory"] = std::to_string(memory_mib);
  return node;
}

Pod memory_pod(std::string name, int64_t mib, std::string q = "") {
  Pod p = pod("ns", std::move(name), std::move(q), {{"cpu", "1"}});
  p.annotations["fairway.dev/gpu-memory"] = std::to_string(mib);
  return p;
}

Pod fraction_pod(std::string name, std::string fraction, std::string q = "") {
  Pod p = pod("ns", std::move(name), std::move(q), {{"cpu", "1"}});
  p.annotations["fairway.dev/gpu-fraction"] = std::move(fraction);
  return p;
}

// What the edge does once the reservation pod for `group` exists: it is a pod of its own,
// bound to the node, holding one whole GPU, annotated by the agent with its GPU's UUID.
Pod reservation_pod(const std::string& group, const std::string& node, const std::string& uuid) {
  Pod p = pod("fairway-reservation", group, "", {{"nvidia.com/gpu", "1"}});
  p.scheduler_name = "default-scheduler";
  p.labels.clear();
  p.labels["fairway.dev/gpu-group"] = group;
  p.annotations["fairway.dev/gpu-uuid"] = uuid;
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  return p;
}

const Binding* binding_of(const CycleResult& result, const std::string& pod_key) {
  for (const Binding& b : result.bindings) {
    if (b.pod == pod_key) return &b;
  }
  return nullptr;
}

const PendingJob* pending_job(const CycleResult& result, const std::string& job) {
  for (const PendingJob& p : result.pending) {
    if (p.job == job) return &p;
  }
  return nullptr;
}

int64_t node_gpus_used(const ClusterState& state, const std::string& node) {
  return state.find_node(node)->used[kGpu];
}

// The book's showdown: one 16 GiB GPU holds pods of 2000, 2000, 8000 and 3000 MiB behind one
// reservation pod; a fifth of 4000 MiB needs another GPU; when every sharer is gone, the
// reservation pod is idle and the edge deletes it.
TEST(GpuSharing, ShowdownFourPodsShareOneGpuAndAFifthOpensAnother) {
  ClusterState state;
  state.upsert_node(gpu_node_with_memory("gpu-node", 2, 16384));
  for (auto [name, mib] : {std::pair{"a", 2000}, {"b", 2000}, {"c", 8000}, {"d", 3000}}) {
    state.upsert_pod(memory_pod(name, mib));
  }
  CycleResult first = run_cycle(state);
  ASSERT_THAT(first.bindings, SizeIs(4));
  for (const Binding& b : first.bindings) {
    EXPECT_EQ(b.node, "gpu-node");
    ASSERT_THAT(b.shares, SizeIs(1));
    EXPECT_EQ(b.shares[0].group, "gpu-node-gpu0");
    EXPECT_TRUE(b.shares[0].reserve);  // new group: the edge creates its reservation pod
    EXPECT_EQ(b.gpu_configmap, b.pod.substr(3) + "-fairway-gpu");
  }
  EXPECT_EQ(binding_of(first, "ns/c")->gpu_memory_mib, 8000);
  EXPECT_NEAR(binding_of(first, "ns/c")->gpu_fraction, 8000.0 / 16384, 1e-6);
  assume_all(state, first);
  // Before the reservation pod shows up, the node is charged one whole GPU on its behalf.
  EXPECT_EQ(node_gpus_used(state, "gpu-node"), 1000);
  ASSERT_NE(state.gpu_sharing().find("gpu-node-gpu0"), nullptr);
  EXPECT_THAT(state.gpu_sharing().find("gpu-node-gpu0")->sharers, SizeIs(4));
  EXPECT_THAT(state.gpu_sharing().unreserved(), SizeIs(1));

  state.upsert_pod(reservation_pod("gpu-node-gpu0", "gpu-node", "GPU-aaaa"));
  EXPECT_EQ(node_gpus_used(state, "gpu-node"), 1000);  // the reservation pod, not both
  EXPECT_TRUE(state.gpu_sharing().unreserved().empty());
  EXPECT_EQ(state.gpu_sharing().find("gpu-node-gpu0")->uuid, "GPU-aaaa");
  EXPECT_EQ(state.gpu_sharing().find("gpu-node-gpu0")->memory_used_mib, 15000);

  state.upsert_pod(memory_pod("e", 4000));
  CycleResult second = run_cycle(state);
  ASSERT_THAT(second.bindings, SizeIs(1));
  ASSERT_THAT(second.bindings[0].shares, SizeIs(1));
  EXPECT_EQ(second.bindings[0].shares[0].group, "gpu-node-gpu1");
  EXPECT_TRUE(second.bindings[0].shares[0].reserve);
  assume_all(state, second);
  state.upsert_pod(reservation_pod("gpu-node-gpu1", "gpu-node", "GPU-bbbb"));
  EXPECT_EQ(node_gpus_used(state, "gpu-node"), 2000);

  for (const char* name : {"a", "b", "c", "d"}) state.remove_pod(std::string("ns/") + name);
  const auto idle = state.gpu_sharing().idle();
  ASSERT_THAT(idle, SizeIs(1));
  EXPECT_EQ(state.gpu_sharing().gpus()[idle[0]].group, "gpu-node-gpu0");
  state.remove_pod("fairway-reservation/gpu-node-gpu0");
  EXPECT_EQ(state.gpu_sharing().find("gpu-node-gpu0"), nullptr);
  EXPECT_EQ(node_gpus_used(state, "gpu-node"), 1000);
}

TEST(GpuSharing, ExistingSharedGpuIsFilledBeforeAnotherIsSplit) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 4));
  state.upsert_pod(fraction_pod("a", "0.5"));
  assume_all(state, run_cycle(state));
  state.upsert_pod(reservation_pod("n-gpu0", "n", "GPU-0"));
  state.upsert_pod(fraction_pod("b", "0.25"));
  state.upsert_pod(fraction_pod("c", "0.25"));
  state.upsert_pod(fraction_pod("d", "0.25"));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(3));
  EXPECT_EQ(binding_of(result, "ns/b")->shares[0].group, "n-gpu0");
  EXPECT_FALSE(binding_of(result, "ns/b")->shares[0].reserve);  // joins: no new reservation
  EXPECT_EQ(binding_of(result, "ns/c")->shares[0].group, "n-gpu0");
  EXPECT_EQ(binding_of(result, "ns/d")->shares[0].group, "n-gpu1");
  EXPECT_TRUE(binding_of(result, "ns/d")->shares[0].reserve);
}

TEST(GpuSharing, BinPackPrefersTheFullestSharedGpuAndSpreadANewOne) {
  auto build = [] {
    ClusterState state;
    state.upsert_node(gpu_node("n", 4));
    for (auto [group, used] : {std::pair{"n-gpu0", "0.5"}, {"n-gpu1", "0.75"}}) {
      Pod sharer = fraction_pod(std::string("holder-") + group, used);
      sharer.labels["fairway.dev/gpu-group"] = group;
      sharer.node_name = "n";
      sharer.phase = PodPhase::kRunning;
      state.upsert_pod(sharer);
      state.upsert_pod(reservation_pod(group, "n", std::string("GPU-") + group));
    }
    state.upsert_pod(fraction_pod("p", "0.2"));
    return state;
  };
  ClusterState packed = build();
  EXPECT_EQ(run_cycle(packed).bindings.at(0).shares.at(0).group, "n-gpu1");
  ClusterState spread = build();
  CycleOptions options;
  options.gpu_sharing_strategy = ScoringStrategy::kSpread;
  const CycleResult result = run_cycle(spread, options);
  EXPECT_EQ(result.bindings.at(0).shares.at(0).group, "n-gpu2");
  EXPECT_TRUE(result.bindings.at(0).shares.at(0).reserve);
}

TEST(GpuSharing, NewSharedGpuCountsAsAWholeGpuAgainstTheNode) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 1));
  state.upsert_pod(fraction_pod("share", "0.1"));
  state.upsert_pod(pod("ns", "whole", "", {{"nvidia.com/gpu", "1"}}, 5));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].pod, "ns/share");
  ASSERT_NE(pending_job(result, "ns/whole"), nullptr);
  EXPECT_THAT(pending_job(result, "ns/whole")->message, HasSubstr("Insufficient nvidia.com/gpu"));
}

TEST(GpuSharing, QueueWithOneGpuOfQuotaRunsFourQuarterPods) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 4));
  state.upsert_queue(queue("team", "", 1, 1));
  for (int i = 0; i < 5; ++i) {
    state.upsert_pod(fraction_pod("q" + std::to_string(i), "0.25", "team"));
  }
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, SizeIs(4));
  for (const Binding& b : result.bindings) EXPECT_EQ(b.shares.at(0).group, "n-gpu0");
  const PendingJob* fifth = pending_job(result, "ns/q4");
  ASSERT_NE(fifth, nullptr);
  EXPECT_EQ(fifth->reason, PendingReason::kQueueLimit);
  assume_all(state, result);
  EXPECT_EQ(state.queue_usage().at("team").allocated[kGpu], 1000);
}

TEST(GpuSharing, SeveralDevicesTakeDistinctGpusOfOneNode) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 4));
  Pod p = fraction_pod("multi", "0.5");
  p.annotations["fairway.dev/gpu-fraction-num-devices"] = "2";
  state.upsert_pod(p);
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  ASSERT_THAT(result.bindings[0].shares, SizeIs(2));
  EXPECT_EQ(result.bindings[0].shares[0].group, "n-gpu0");
  EXPECT_EQ(result.bindings[0].shares[1].group, "n-gpu1");
  assume_all(state, result);
  EXPECT_EQ(node_gpus_used(state, "n"), 2000);
  EXPECT_EQ(state.queue_usage().at("default").allocated[kGpu], 1000);  // 2 x 0.5
}

TEST(GpuSharing, MemoryShareNeedsKnownGpuMemory) {
  ClusterState state;
  state.upsert_node(gpu_node("unlabelled", 2));
  state.upsert_pod(memory_pod("m", 2000));
  const CycleResult result = run_cycle(state);
  EXPECT_TRUE(result.bindings.empty());
  ASSERT_NE(pending_job(result, "ns/m"), nullptr);
  EXPECT_EQ(pending_job(result, "ns/m")->reason, PendingReason::kUnschedulable);
}

TEST(GpuSharing, MemoryShareTooBigForEveryGpuIsExplained) {
  ClusterState state;
  state.upsert_node(gpu_node_with_memory("n", 2, 16384));
  state.upsert_node(gpu_node("unlabelled", 2));
  state.upsert_pod(memory_pod("huge", 20000));
  state.upsert_pod(memory_pod("small", 1000));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].node, "n");
  ASSERT_NE(pending_job(result, "ns/huge"), nullptr);
}

TEST(GpuSharing, InvalidSharesStayPendingWithTheirMessage) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 2));
  Pod both = fraction_pod("both", "0.5");
  both.annotations["fairway.dev/gpu-memory"] = "100";
  state.upsert_pod(both);
  Pod whole = pod("ns", "whole-too", "", {{"nvidia.com/gpu", "1"}});
  whole.annotations["gpu-fraction"] = "0.5";  // KAI's key
  state.upsert_pod(whole);
  state.upsert_pod(fraction_pod("fine", "0.5"));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].pod, "ns/fine");
  EXPECT_EQ(pending_job(result, "ns/both")->reason, PendingReason::kInvalidPod);
  EXPECT_THAT(pending_job(result, "ns/both")->message, HasSubstr("are both set"));
  EXPECT_THAT(pending_job(result, "ns/whole-too")->message, HasSubstr("also asks for whole"));
}

TEST(GpuSharing, ForgettingAFailedPlacementReleasesTheNewGroup) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 1));
  state.upsert_pod(fraction_pod("a", "0.3"));
  assume_all(state, run_cycle(state));
  EXPECT_EQ(node_gpus_used(state, "n"), 1000);
  state.forget("ns/a");  // the reservation timed out or the bind failed: roll back
  EXPECT_EQ(node_gpus_used(state, "n"), 0);
  EXPECT_EQ(state.gpu_sharing().size(), 0U);
  // Retried: the same deterministic group again.
  EXPECT_EQ(run_cycle(state).bindings.at(0).shares.at(0).group, "n-gpu0");
}

// Issue 17: a reclaim evicted the sharers of n-gpu0 for a one-GPU job, and a fractional pod
// joined that GPU while they terminated, so the GPU never came free. While GPUs of a node are
// nominated to a waiting job, no fractional pod joins a shared GPU of that node.
TEST(GpuSharing, SharerDoesNotJoinASharedGpuWhoseRoomIsHeldForAPreemptor) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 2));
  Pod victim = fraction_pod("victim", "0.5");
  victim.labels["fairway.dev/gpu-group"] = "n-gpu0";
  victim.node_name = "n";
  victim.phase = PodPhase::kRunning;
  victim.deleting = true;  // evicted for ns/big, terminating
  state.upsert_pod(victim);
  state.upsert_pod(reservation_pod("n-gpu0", "n", "GPU-0"));
  Pod other = pod("ns", "other", "", {{"nvidia.com/gpu", "1"}});
  other.node_name = "n";
  other.phase = PodPhase::kRunning;
  state.upsert_pod(other);
  state.upsert_pod(pod("ns", "big", "", {{"nvidia.com/gpu", "1"}}, 10));
  state.upsert_pod(fraction_pod("joiner", "0.25"));

  ResourceVector one_gpu;
  one_gpu.set(kGpu, 1000);
  const std::vector<Nomination> nominations{{"ns/big", "n", one_gpu}};
  CycleOptions options;
  options.nominations = &nominations;
  const CycleResult result = run_cycle(state, options);
  EXPECT_EQ(binding_of(result, "ns/joiner"), nullptr);
  const PendingJob* joiner = pending_job(result, "ns/joiner");
  ASSERT_NE(joiner, nullptr);
  EXPECT_THAT(joiner->message, HasSubstr("Capacity held for a preemption in progress"));

  // Without the nomination the shared GPU takes it.
  const CycleResult free = run_cycle(state);
  ASSERT_NE(binding_of(free, "ns/joiner"), nullptr);
  EXPECT_EQ(binding_of(free, "ns/joiner")->shares[0].group, "n-gpu0");
}

TEST(GpuSharing, RebuildsGroupsFromReservationPodsAndLabelledSharers) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 2));
  // As listed from the API after a restart: a sharer bound with its label, its reservation pod,
  // and an orphan reservation pod nobody shares.
  Pod sharer = fraction_pod("running", "0.5");
  sharer.labels["fairway.dev/gpu-group"] = "n-gpu0";
  sharer.node_name = "n";
  sharer.phase = PodPhase::kRunning;
  state.upsert_pod(sharer);
  state.upsert_pod(reservation_pod("n-gpu0", "n", "GPU-0"));
  state.upsert_pod(reservation_pod("n-gpu1", "n", "GPU-1"));
  EXPECT_EQ(state.gpu_sharing().find("n-gpu0")->used, kFullGpu / 2);
  const auto idle = state.gpu_sharing().idle();
  ASSERT_THAT(idle, SizeIs(1));
  EXPECT_EQ(state.gpu_sharing().gpus()[idle[0]].group, "n-gpu1");
  EXPECT_EQ(node_gpus_used(state, "n"), 2000);
}

TEST(GpuSharing, EditedGroupKeysOfASharerAreNotTrusted) {
  // The attack: the groups of a bound 0.25-GPU sharer rewritten (past the webhook) to free the
  // GPU it uses, or to hold four GPUs of the node for a 0.25 charge.
  ClusterState state;
  state.upsert_node(gpu_node("n", 8));
  Pod sharer = fraction_pod("running", "0.25");
  sharer.labels["fairway.dev/gpu-group"] = "n-gpu0";
  sharer.node_name = "n";
  sharer.phase = PodPhase::kRunning;
  state.upsert_pod(sharer);
  state.upsert_pod(reservation_pod("n-gpu0", "n", "GPU-0"));
  Pod edited = sharer;
  edited.annotations["fairway.dev/gpu-groups"] = "n-gpu1,n-gpu2,n-gpu3,n-gpu4";
  edited.labels["fairway.dev/gpu-group"] = "n-gpu1";
  state.upsert_pod(edited);
  EXPECT_EQ(state.gpu_sharing().find("n-gpu0")->used, kFullGpu / 4);  // still in use
  EXPECT_THAT(state.gpu_sharing().idle(), ::testing::IsEmpty());
  EXPECT_EQ(state.gpu_sharing().find("n-gpu1"), nullptr);
  EXPECT_EQ(node_gpus_used(state, "n"), 1000);

  // Seen for the first time so (after a restart): one device, on its own node, is all it gets.
  ClusterState restarted;
  restarted.upsert_node(gpu_node("n", 8));
  edited.annotations["fairway.dev/gpu-groups"] = "other-node-gpu0,n-gpu1,n-gpu2";
  restarted.upsert_pod(edited);
  EXPECT_EQ(restarted.gpu_sharing().find("other-node-gpu0"), nullptr);
  EXPECT_NE(restarted.gpu_sharing().find("n-gpu1"), nullptr);
  EXPECT_EQ(restarted.gpu_sharing().find("n-gpu2"), nullptr);
  EXPECT_EQ(node_gpus_used(restarted, "n"), 1000);
}

TEST(GpuSharing, GroupNamesAreDeterministicAndFitALabel) {
  EXPECT_EQ(gpu_group_name("node-1", 3), "node-1-gpu3");
  const std::string long_node(80, 'a');
  const std::string name = gpu_group_name(long_node, 12);
  EXPECT_LE(name.size(), 63U);
  EXPECT_EQ(name, gpu_group_name(long_node, 12));
  EXPECT_NE(name, gpu_group_name(std::string(79, 'a') + "b", 12));
  EXPECT_TRUE(name.ends_with("-gpu12"));
  EXPECT_EQ(gpu_configmap_name_for("train-0"), "train-0-fairway-gpu");
}

TEST(GpuSharing, ShareUnitsRoundMemoryUp) {
  GpuFraction memory;
  memory.memory_mib = 2000;
  EXPECT_EQ(share_units(memory, 16384), 122071);
  EXPECT_EQ(share_units(memory, 0), std::nullopt);
  EXPECT_EQ(share_units(memory, 1000), std::nullopt);
  GpuFraction quarter;
  quarter.fraction = 0.25;
  EXPECT_EQ(share_units(quarter, 0), kFullGpu / 4);
}

TEST(GpuSharing, GpuMemoryComesFromTheLabelOrTheTopologyAnnotation) {
  Labels labels{{"nvidia.com/gpu.memory", "81559"}};
  EXPECT_EQ(node_gpu_memory_mib(labels, {}), 81559);
  Labels annotations{{"fairway.dev/gpu-topology",
                      R"({"version":1,"product":"X","gpus":[{"index":0,"memoryMiB":40960},)"
                      R"({"index":1,"memoryMiB":40000}],"links":[]})"}};
  EXPECT_EQ(node_gpu_memory_mib({}, annotations), 40000);
  EXPECT_EQ(node_gpu_memory_mib({}, {}), 0);
}

}  // namespace
}  // namespace fairway
