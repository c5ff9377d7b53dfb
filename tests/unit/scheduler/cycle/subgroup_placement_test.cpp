// Gangs made of subgroups (issue 18): each subgroup's minimum and topology constraint, the gang's
// constraint over all of them, all-or-nothing for the whole, and what a gang that waits says.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "scheduler/cycle/cycle.h"
#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gpu_node;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::pod;
using ::testing::SizeIs;

constexpr const char* kSpine = "example.com/spine";
constexpr const char* kRack = "example.com/rack";

void add_node(ClusterState& state, const std::string& name, const std::string& spine,
              const std::string& rack, int gpus = 8) {
  Node node = gpu_node(name, gpus);
  node.labels[kSpine] = spine;
  node.labels[kRack] = rack;
  state.upsert_node(node);
}

void add_topology(ClusterState& state) {
  state.upsert_topology({"fabric", {{kSpine, 25.0}, {kRack, 100.0}}});
}

void run_on(ClusterState& state, const std::string& node, int gpus, const std::string& name) {
  Pod running = pod("busy", name, "", {{"nvidia.com/gpu", std::to_string(gpus)}});
  running.node_name = node;
  running.phase = PodPhase::kRunning;
  state.upsert_pod(running);
}

SubGroup subgroup(std::string name, int32_t min_member, std::string required_level = {}) {
  SubGroup out;
  out.name = std::move(name);
  out.min_member = min_member;
  out.topology_constraint.required_level = std::move(required_level);
  return out;
}

void add_group(ClusterState& state, const std::string& name, int32_t min_member,
               std::vector<SubGroup> subgroups, std::string required_level = {}) {
  PodGroup group;
  group.namespace_ = "ml";
  group.name = name;
  group.min_member = min_member;
  group.subgroups = std::move(subgroups);
  group.topology_constraint.required_level = std::move(required_level);
  state.upsert_pod_group(group);
}

// Pods `<group>-<subgroup>-<i>` of the PodGroup, in the subgroup (none when empty).
void add_pods(ClusterState& state, const std::string& group, const std::string& part, int count,
              int gpus) {
  for (int i = 0; i < count; ++i) {
    Pod p = pod("ml", fmt::format("{}-{}-{}", group, part.empty() ? "x" : part, i), "",
                {{"nvidia.com/gpu", std::to_string(gpus)}});
    p.annotations["fairway.dev/pod-group"] = group;
    p.subgroup = part;
    state.upsert_pod(p);
  }
}

// Label values of the nodes the pods whose name starts with `prefix` were bound to.
std::set<std::string> placed_on(const ClusterState& state, const CycleResult& result,
                                const std::string& prefix, const std::string& label) {
  std::set<std::string> values;
  for (const Binding& b : result.bindings) {
    if (b.pod.rfind("ml/" + prefix, 0) != 0) continue;
    values.insert(state.find_node(b.node)->node.labels.find(label)->second);
  }
  return values;
}

size_t bound(const CycleResult& result, const std::string& prefix) {
  size_t n = 0;
  for (const Binding& b : result.bindings) n += b.pod.rfind("ml/" + prefix, 0) == 0 ? 1 : 0;
  return n;
}

const PendingJob* pending_job(const CycleResult& result, const std::string& job) {
  for (const PendingJob& p : result.pending) {
    if (p.job == job) return &p;
  }
  return nullptr;
}

TEST(SubgroupPlacement, EachSubgroupSitsInOneRackAndTheGangInOneSpine) {
  ClusterState state;
  add_topology(state);
  // Spine s-0 has 3 racks of one 8-GPU node; r-c has only 4 free. Spine s-1 has 24 free but
  // no rack with 6: the gang's spine must be s-0.
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-0", "r-b");
  add_node(state, "c", "s-0", "r-c");
  run_on(state, "c", 4, "half");
  for (int n = 0; n < 6; ++n)
    add_node(state, fmt::format("d{}", n), "s-1", fmt::format("r-d{}", n), 4);
  add_group(state, "js", 6, {subgroup("workers", 3, kRack), subgroup("ps", 3, kRack)}, kSpine);
  // 3 × 2 GPUs each: the pods in name order ("ps" first) would fill r-a with 4 pods and split
  // one subgroup over two racks; subgroups keep each in its own rack.
  add_pods(state, "js", "workers", 3, 2);
  add_pods(state, "js", "ps", 3, 2);

  const CycleResult result = run_cycle(state);
  ASSERT_EQ(bound(result, "js-"), 6U);
  EXPECT_THAT(placed_on(state, result, "js-", kSpine), ElementsAre("s-0"));
  const auto workers = placed_on(state, result, "js-workers", kRack);
  const auto ps = placed_on(state, result, "js-ps", kRack);
  ASSERT_THAT(workers, SizeIs(1));
  ASSERT_THAT(ps, SizeIs(1));
  EXPECT_NE(*workers.begin(), *ps.begin());  // different subgroups, different racks
  EXPECT_THAT(placed_on(state, result, "js-", kRack), Not(::testing::Contains("r-c")));
}

TEST(SubgroupPlacement, NothingBindsWhenOnlyOneRackHoldsASubgroup) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-0", "r-b");
  add_node(state, "c", "s-0", "r-c");
  run_on(state, "b", 2, "b-busy");
  run_on(state, "c", 2, "c-busy");
  // 20 GPUs free in the spine for a gang of 16, but only r-a holds 8: one subgroup fits there,
  // the other fits no rack, so neither binds.
  add_group(state, "js", 8, {subgroup("workers", 4, kRack), subgroup("ps", 4, kRack)}, kSpine);
  add_pods(state, "js", "workers", 4, 2);
  add_pods(state, "js", "ps", 4, 2);

  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-"), 0U);
  const PendingJob* job = pending_job(result, "ml/js");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kUnschedulable);
  EXPECT_THAT(job->message, HasSubstr("gang needs 16 GPUs in one spine"));
  EXPECT_THAT(job->message, HasSubstr("subgroup \"ps\" (4 pods) needs 8 GPUs in one rack "
                                      "(required level example.com/rack): rack r-b: 6 of 8 GPUs "
                                      "free; rack r-c: 6 of 8 GPUs free"));
  // What the first subgroup took tentatively is free again for the next job.
  state.upsert_pod(pod("ml", "whole", "", {{"nvidia.com/gpu", "8"}}, 5));
  EXPECT_EQ(bound(run_cycle(state), "whole"), 1U);
}

TEST(SubgroupPlacement, ElasticPodsBeyondASubgroupsMinimumStayInItsRack) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-0", "r-b");
  run_on(state, "b", 4, "b-busy");
  // "workers" needs 2 of its 4 pods in one rack: r-b (4 free) fits its minimum best; its extras
  // may not spill into r-a, where "ps" goes.
  add_group(state, "js", 4, {subgroup("workers", 2, kRack), subgroup("ps", 2, kRack)});
  add_pods(state, "js", "workers", 4, 2);
  add_pods(state, "js", "ps", 2, 2);

  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-workers"), 2U);
  EXPECT_EQ(bound(result, "js-ps"), 2U);
  EXPECT_THAT(placed_on(state, result, "js-workers", kRack), ElementsAre("r-b"));
  EXPECT_THAT(placed_on(state, result, "js-ps", kRack), ElementsAre("r-a"));
  const PendingJob* extras = pending_job(result, "ml/js");
  ASSERT_NE(extras, nullptr);
  EXPECT_THAT(extras->pods, ElementsAre("ml/js-workers-2", "ml/js-workers-3"));
}

TEST(SubgroupPlacement, ElasticPodsBindInTheirRackWhenItHasRoom) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_group(state, "js", 2, {subgroup("workers", 2, kRack)});
  add_pods(state, "js", "workers", 4, 2);
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-workers"), 4U);
}

TEST(SubgroupPlacement, ASubgroupWithoutAConstraintMaySpreadWhileAnotherKeepsItsRack) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-0", "r-b");
  add_node(state, "c", "s-0", "r-c");
  run_on(state, "a", 4, "a-busy");
  run_on(state, "b", 4, "b-busy");
  add_group(state, "js", 4, {subgroup("trainer", 2, kRack), subgroup("loader", 2)});
  add_pods(state, "js", "trainer", 2, 4);
  add_pods(state, "js", "loader", 2, 4);

  const CycleResult result = run_cycle(state);
  ASSERT_EQ(bound(result, "js-"), 4U);
  EXPECT_THAT(placed_on(state, result, "js-trainer", kRack), ElementsAre("r-c"));
  EXPECT_THAT(placed_on(state, result, "js-loader", kRack), ElementsAre("r-a", "r-b"));
}

TEST(SubgroupPlacement, SubgroupsThatFitStillWaitWhenTheGangsSpineDoesNot) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-1", "r-b");
  add_group(state, "js", 4, {subgroup("workers", 2, kRack), subgroup("ps", 2, kRack)}, kSpine);
  add_pods(state, "js", "workers", 2, 4);
  add_pods(state, "js", "ps", 2, 4);

  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-"), 0U);
  EXPECT_THAT(pending_job(result, "ml/js")->message,
              HasSubstr("gang needs 16 GPUs in one spine (required level example.com/spine): "
                        "spine s-0: 8 of 16 GPUs free"));
  // Without the gang's spine requirement, each subgroup takes a rack of its own.
  add_group(state, "js", 4, {subgroup("workers", 2, kRack), subgroup("ps", 2, kRack)});
  EXPECT_EQ(bound(run_cycle(state), "js-"), 4U);
}

TEST(SubgroupPlacement, TheGangsPreferredSpineHoldsBothSubgroupsWhenOneHasRoom) {
  ClusterState state;
  add_topology(state);
  // s-0: r-a has 8 free (the best fit for one subgroup), r-b 4; s-1: two racks of 8 free.
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-0", "r-b");
  run_on(state, "b", 4, "b-busy");
  add_node(state, "c", "s-1", "r-c");
  add_node(state, "d", "s-1", "r-d");
  PodGroup group;
  group.namespace_ = "ml";
  group.name = "js";
  group.min_member = 4;
  group.subgroups = {subgroup("workers", 2, kRack), subgroup("ps", 2, kRack)};
  group.topology_constraint.preferred_level = kSpine;
  state.upsert_pod_group(group);
  add_pods(state, "js", "workers", 2, 4);
  add_pods(state, "js", "ps", 2, 4);

  const CycleResult result = run_cycle(state);
  ASSERT_EQ(bound(result, "js-"), 4U);
  // Without the preference, "workers" would take r-a and "ps" a rack of the other spine.
  EXPECT_THAT(placed_on(state, result, "js-", kSpine), ElementsAre("s-1"));
  EXPECT_THAT(placed_on(state, result, "js-", kRack), ElementsAre("r-c", "r-d"));
}

TEST(SubgroupPlacement, ASubgroupsRunningPodsFixItsRackForThePodsThatFollow) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_node(state, "b", "s-0", "r-b");
  run_on(state, "b", 6, "b-busy");  // r-b: 2 free, the best fit for one more 2-GPU pod
  add_group(state, "js", 2, {subgroup("workers", 2, kRack)});
  Pod running = pod("ml", "js-workers-0", "", {{"nvidia.com/gpu", "2"}});
  running.annotations["fairway.dev/pod-group"] = "js";
  running.subgroup = "workers";
  running.node_name = "a";
  running.phase = PodPhase::kRunning;
  state.upsert_pod(running);
  Pod next = running;
  next.name = "js-workers-1";
  next.uid = "uid-ml-js-workers-1";
  next.node_name.clear();
  next.phase = PodPhase::kPending;
  state.upsert_pod(next);

  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].node, "a");  // the rack of its running subgroup pod
}

TEST(SubgroupPlacement, SubgroupMinimumsAboveTheGangsMinMemberAllHold) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  // minMember 2, but each subgroup needs 2 of its own: 4 pods × 4 GPUs, the node holds 2.
  add_group(state, "js", 2, {subgroup("workers", 2), subgroup("ps", 2)});
  add_pods(state, "js", "workers", 2, 4);
  add_pods(state, "js", "ps", 2, 4);
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-"), 0U);
  EXPECT_THAT(pending_job(result, "ml/js")->message, HasSubstr("Insufficient nvidia.com/gpu"));
}

TEST(SubgroupPlacement, WaitsUntilEverySubgroupHasItsMinimum) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_group(state, "js", 2, {subgroup("workers", 2), subgroup("ps", 2)});
  add_pods(state, "js", "workers", 2, 1);
  add_pods(state, "js", "ps", 1, 1);
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-"), 0U);
  const PendingJob* job = pending_job(result, "ml/js");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kGangIncomplete);
  EXPECT_EQ(job->message, "waiting for subgroup \"ps\": 1 of minMember 2 pods exist");
}

TEST(SubgroupPlacement, APodNamingAnUndefinedSubgroupIsRefused) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_group(state, "js", 2, {subgroup("workers", 1), subgroup("ps", 1)});
  add_pods(state, "js", "workers", 1, 1);
  add_pods(state, "js", "wokers", 1, 1);
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound(result, "js-"), 0U);
  const PendingJob* job = pending_job(result, "ml/js");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kInvalidPod);
  EXPECT_EQ(job->message,
            "pod js-wokers-0 names subgroup \"wokers\", which its gang ml/js does not define "
            "(subgroups: workers, ps)");
}

TEST(SubgroupPlacement, ASubgroupNamingAnUnknownLevelIsReported) {
  ClusterState state;
  add_topology(state);
  add_node(state, "a", "s-0", "r-a");
  add_group(state, "js", 1, {subgroup("workers", 1, "example.com/row")});
  add_pods(state, "js", "workers", 1, 1);
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(pending_job(result, "ml/js")->message,
              HasSubstr("subgroup \"workers\": Topology \"fabric\" has no level "
                        "\"example.com/row\""));
}

}  // namespace
}  // namespace fairway
