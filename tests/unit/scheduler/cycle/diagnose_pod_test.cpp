// diagnose_pod (cycle.h): the one per-node diagnosis. Counted over the nodes it must give the
// very message the cycle writes for a pod that finds no node, for whole and fractional GPUs, and
// it holds room for other waiting jobs as the cycle does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "scheduler/cycle/cycle.h"
#include "scheduler/state/node_filters.h"
#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gpu_node;
using ::testing::IsEmpty;
using testing::pod;

// What the cycle wrote for `job`; empty when it did not leave it pending.
std::string pending_message(const CycleResult& result, const std::string& job) {
  for (const PendingJob& pending : result.pending) {
    if (pending.job == job) return pending.message;
  }
  return {};
}

// The verdicts as the cycle counts them: one count per reason, per node.
std::string summarized(const std::vector<NodeDiagnosis>& verdicts) {
  ReasonCounts counts;
  for (const NodeDiagnosis& verdict : verdicts) {
    for (const std::string& reason : verdict.reasons) ++counts[reason];
  }
  return summarize_unschedulable(static_cast<int64_t>(verdicts.size()), counts);
}

std::map<std::string, std::vector<std::string>> by_node(const ClusterState& state,
                                                        const std::vector<NodeDiagnosis>& all) {
  std::map<std::string, std::vector<std::string>> out;
  for (const NodeDiagnosis& verdict : all)
    out[state.nodes()[verdict.node].node.name] = verdict.reasons;
  return out;
}

TEST(DiagnosePod, CountedOverTheNodesItIsTheCyclesMessage) {
  ClusterState state;
  state.upsert_node(gpu_node("small-0", 2));
  state.upsert_node(gpu_node("small-1", 2));
  state.upsert_node(gpu_node("thin", 2, "1"));  // short of GPUs and of CPU
  Node cordoned = gpu_node("cordoned", 8);
  cordoned.unschedulable = true;
  state.upsert_node(cordoned);
  Node tainted = gpu_node("tainted", 8);
  tainted.taints.push_back({"dedicated", "infer", TaintEffect::kNoSchedule});
  state.upsert_node(tainted);
  state.upsert_pod(pod("ns", "p", "", {{"nvidia.com/gpu", "4"}, {"cpu", "2"}}));

  const std::vector<NodeDiagnosis> verdicts = diagnose_pod(state, *state.pod_id("ns/p"));
  const auto nodes = by_node(state, verdicts);
  ASSERT_EQ(nodes.size(), 5u);
  EXPECT_THAT(nodes.at("small-0"), ElementsAre("Insufficient nvidia.com/gpu"));
  EXPECT_THAT(nodes.at("thin"), ElementsAre("Insufficient cpu", "Insufficient nvidia.com/gpu"));
  EXPECT_THAT(nodes.at("cordoned"), ElementsAre("node(s) were unschedulable"));
  EXPECT_THAT(nodes.at("tainted"), ElementsAre("node(s) had untolerated taint {dedicated: infer}"));

  const CycleResult result = run_cycle(state);
  ASSERT_TRUE(result.bindings.empty());
  const std::string message = pending_message(result, "ns/p");
  EXPECT_THAT(message, ::testing::StartsWith("0/5 nodes are available: "));
  EXPECT_EQ(summarized(verdicts), message);
}

TEST(DiagnosePod, APodThatFitsHasNoReasonOnTheNodesWithRoom) {
  ClusterState state;
  state.upsert_node(gpu_node("big", 8));
  state.upsert_node(gpu_node("small", 2));
  state.upsert_pod(pod("ns", "p", "", {{"nvidia.com/gpu", "4"}}));
  const auto nodes = by_node(state, diagnose_pod(state, *state.pod_id("ns/p")));
  EXPECT_THAT(nodes.at("big"), IsEmpty());
  EXPECT_THAT(nodes.at("small"), ElementsAre("Insufficient nvidia.com/gpu"));
}

TEST(DiagnosePod, AFractionalPodGetsTheSharedGpuVerdicts) {
  ClusterState state;
  state.upsert_node(gpu_node("cpu-only", 0));
  Node small_gpus = gpu_node("small-gpus", 1);
  small_gpus.labels["nvidia.com/gpu.memory"] = "8192";
  state.upsert_node(small_gpus);
  Pod p = pod("ns", "p", "", {{"cpu", "1"}});
  p.annotations["fairway.dev/gpu-memory"] = "16384";
  state.upsert_pod(p);

  const std::vector<NodeDiagnosis> verdicts = diagnose_pod(state, *state.pod_id("ns/p"));
  const auto nodes = by_node(state, verdicts);
  EXPECT_THAT(nodes.at("cpu-only"), ElementsAre("Insufficient nvidia.com/gpu"));
  EXPECT_THAT(nodes.at("small-gpus"), ElementsAre("Insufficient GPU memory"));

  const CycleResult result = run_cycle(state);
  ASSERT_TRUE(result.bindings.empty());
  EXPECT_EQ(summarized(verdicts), pending_message(result, "ns/p"));
}

TEST(DiagnosePod, RoomHeldForAnotherWaitingJobIsNamedAndTheJobsOwnIsFree) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_pod(pod("ns", "preemptor", "", {{"nvidia.com/gpu", "16"}}));
  state.upsert_pod(pod("ns", "p", "", {{"nvidia.com/gpu", "4"}}));
  ResourceVector eight;
  eight.set(kGpu, 8000);
  const std::vector<Nomination> nominations{{"ns/preemptor", "n1", eight}};
  CycleOptions options;
  options.nominations = &nominations;

  const std::vector<NodeDiagnosis> other = diagnose_pod(state, *state.pod_id("ns/p"), options);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_THAT(other[0].reasons, ElementsAre("Capacity held for a preemption in progress"));
  // The cycle says the same of ns/p (it tries ns/p while the room is held for ns/preemptor).
  const CycleResult result = run_cycle(state, options);
  EXPECT_EQ(summarized(other), pending_message(result, "ns/p"));

  const std::vector<NodeDiagnosis> own =
      diagnose_pod(state, *state.pod_id("ns/preemptor"), options);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_THAT(own[0].reasons, ElementsAre("Insufficient nvidia.com/gpu"));
}

}  // namespace
}  // namespace fairway
