#include "scheduler/cycle/cycle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "support/builders.h"

namespace fairway {
namespace {

using testing::gang_pod;
using testing::gpu_node;
using ::testing::HasSubstr;
using testing::pod;
using testing::queue;
using ::testing::SizeIs;

std::map<std::string, std::string> placements(const CycleResult& result) {
  std::map<std::string, std::string> out;
  for (const Binding& b : result.bindings) out[b.pod] = b.node;
  return out;
}

const PendingJob* pending_job(const CycleResult& result, const std::string& job) {
  for (const PendingJob& p : result.pending) {
    if (p.job == job) return &p;
  }
  return nullptr;
}

int bound_in_queue(const CycleResult& result, const std::string& q) {
  int n = 0;
  for (const Binding& b : result.bindings) n += b.queue == q ? 1 : 0;
  return n;
}

TEST(Cycle, BindsASinglePodToTheNodeThatFitsIt) {
  ClusterState state;
  state.upsert_node(gpu_node("small", 1));
  state.upsert_pod(pod("ns", "p", "", {{"cpu", "1"}, {"nvidia.com/gpu", "2"}}));
  state.upsert_node(gpu_node("big", 8));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].node, "big");
  EXPECT_EQ(result.bindings[0].queue, "default");  // no label: the implicit default queue
  EXPECT_TRUE(result.pending.empty());
}

TEST(Cycle, BinPacksGpuPodsOntoTheFullestNodeThatFits) {
  ClusterState state;
  state.upsert_node(gpu_node("empty", 8));
  state.upsert_node(gpu_node("half", 8));
  state.upsert_node(gpu_node("almost", 8));
  Pod running_a = pod("ns", "a", "", {{"nvidia.com/gpu", "4"}});
  running_a.node_name = "half";
  running_a.phase = PodPhase::kRunning;
  state.upsert_pod(running_a);
  Pod running_b = pod("ns", "b", "", {{"nvidia.com/gpu", "7"}});
  running_b.node_name = "almost";
  running_b.phase = PodPhase::kRunning;
  state.upsert_pod(running_b);
  state.upsert_pod(pod("ns", "two", "", {{"nvidia.com/gpu", "2"}}));
  state.upsert_pod(pod("ns", "one", "", {{"nvidia.com/gpu", "1"}}, 1));

  const auto placed = placements(run_cycle(state));
  EXPECT_EQ(placed.at("ns/two"), "half");    // 4 free: the tightest node with room for 2
  EXPECT_EQ(placed.at("ns/one"), "almost");  // 1 free: exactly fits
}

TEST(Cycle, SpreadPutsGpuPodsOnTheEmptiestNode) {
  ClusterState state;
  state.upsert_node(gpu_node("empty", 8));
  state.upsert_node(gpu_node("half", 8));
  Pod running = pod("ns", "a", "", {{"nvidia.com/gpu", "4"}});
  running.node_name = "half";
  state.upsert_pod(running);
  state.upsert_pod(pod("ns", "p", "", {{"nvidia.com/gpu", "1"}}));
  CycleOptions options;
  options.strategy = ScoringStrategy::kSpread;
  EXPECT_EQ(placements(run_cycle(state, options)).at("ns/p"), "empty");
}

TEST(Cycle, CpuOnlyPodsPreferNodesWithoutGpus) {
  ClusterState state;
  state.upsert_node(gpu_node("gpu", 8));
  state.upsert_node(gpu_node("cpu", 0));
  state.upsert_pod(pod("ns", "web", "", {{"cpu", "2"}}));
  EXPECT_EQ(placements(run_cycle(state)).at("ns/web"), "cpu");
}

TEST(Cycle, GangIsAllOrNothing) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_node(gpu_node("n2", 8));
  // 15 GPUs of 16 in all, but two pods per node: 4 fit.
  for (int i = 0; i < 5; ++i) {
    state.upsert_pod(
        gang_pod("ns", "big-" + std::to_string(i), "", "big", 5, {{"nvidia.com/gpu", "3"}}));
  }
  const CycleResult result = run_cycle(state);
  EXPECT_TRUE(result.bindings.empty());
  const PendingJob* job = pending_job(result, "ns/big");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kUnschedulable);
  EXPECT_THAT(job->pods, SizeIs(5));
  EXPECT_THAT(job->message, HasSubstr("gang needs 5 more pods, 4 fit"));
  EXPECT_THAT(job->message, HasSubstr("0/2 nodes are available: 2 Insufficient nvidia.com/gpu"));
}

TEST(Cycle, GangThatFitsIsBoundWhole) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_node(gpu_node("n2", 8));
  for (int i = 0; i < 4; ++i) {
    state.upsert_pod(
        gang_pod("ns", "g-" + std::to_string(i), "", "g", 4, {{"nvidia.com/gpu", "4"}}));
  }
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, SizeIs(4));
  EXPECT_EQ(result.stats.jobs_scheduled, 1U);
}

TEST(Cycle, FailedGangReleasesWhatItTentativelyTookForOthers) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  // An older gang that cannot fit (3 × 4 GPUs on one 8-GPU node) must not block the single pod.
  for (int i = 0; i < 3; ++i) {
    state.upsert_pod(
        gang_pod("ns", "g-" + std::to_string(i), "", "g", 3, {{"nvidia.com/gpu", "4"}}, 0));
  }
  state.upsert_pod(pod("ns", "single", "", {{"nvidia.com/gpu", "8"}}, 10));
  const auto placed = placements(run_cycle(state));
  EXPECT_EQ(placed.size(), 1U);
  EXPECT_EQ(placed.at("ns/single"), "n1");
}

TEST(Cycle, GangWithTooFewPodsWaits) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_pod(gang_pod("ns", "g-0", "", "g", 4, {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(gang_pod("ns", "g-1", "", "g", 4, {{"nvidia.com/gpu", "1"}}));
  const CycleResult result = run_cycle(state);
  EXPECT_TRUE(result.bindings.empty());
  const PendingJob* job = pending_job(result, "ns/g");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kGangIncomplete);
  EXPECT_EQ(job->message, "waiting for gang: 2 of minMember 4 pods exist");
}

TEST(Cycle, PodGroupMinMemberOverridesAndExtraPodsBindWhenTheyFit) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 2;
  state.upsert_pod_group(group);
  for (int i = 0; i < 3; ++i) {
    Pod p = pod("ns", "g-" + std::to_string(i), "", {{"nvidia.com/gpu", "3"}});
    p.annotations["fairway.dev/pod-group"] = "g";
    state.upsert_pod(p);
  }
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, SizeIs(2));  // 3 × 3 GPUs do not fit in 8; minMember 2 does
  const PendingJob* rest = pending_job(result, "ns/g");
  ASSERT_NE(rest, nullptr);
  EXPECT_THAT(rest->pods, ::testing::ElementsAre("ns/g-2"));
}

TEST(Cycle, FiltersSelectorsTaintsAndCordons) {
  ClusterState state;
  Node tainted = gpu_node("tainted", 8);
  tainted.taints.push_back({"dedicated", "infer", TaintEffect::kNoSchedule});
  state.upsert_node(tainted);
  Node cordoned = gpu_node("cordoned", 8);
  cordoned.unschedulable = true;
  state.upsert_node(cordoned);
  Node labelled = gpu_node("h100", 8);
  labelled.labels["gpu"] = "h100";
  state.upsert_node(labelled);

  Pod wants_h100 = pod("ns", "sel", "", {{"nvidia.com/gpu", "1"}});
  wants_h100.node_selector["gpu"] = "h100";
  state.upsert_pod(wants_h100);
  Pod wants_a100 = pod("ns", "nomatch", "", {{"nvidia.com/gpu", "1"}});
  wants_a100.node_selector["gpu"] = "a100";
  state.upsert_pod(wants_a100);

  const CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).at("ns/sel"), "h100");
  const PendingJob* job = pending_job(result, "ns/nomatch");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->message,
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "1 node(s) had untolerated taint {dedicated: infer}, 1 node(s) were unschedulable.");
}

TEST(Cycle, QueueLimitIsNeverExceeded) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_queue(queue("capped", "", 0, 4));
  state.upsert_pod(pod("ns", "a", "capped", {{"nvidia.com/gpu", "3"}}, 0));
  state.upsert_pod(pod("ns", "b", "capped", {{"nvidia.com/gpu", "3"}}, 1));
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).count("ns/a"), 1U);
  const PendingJob* job = pending_job(result, "ns/b");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kQueueLimit);
  EXPECT_EQ(job->message,
            "queue \"capped\" would exceed its limit on nvidia.com/gpu: 3 allocated + 3 "
            "requested > limit 4");
}

TEST(Cycle, ParentLimitCapsChildren) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_queue(queue("org", "", 0, 2));
  state.upsert_queue(queue("team", "org", 0));
  state.upsert_pod(pod("ns", "a", "team", {{"nvidia.com/gpu", "2"}}, 0));
  state.upsert_pod(pod("ns", "b", "team", {{"nvidia.com/gpu", "1"}}, 1));
  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(pending_job(result, "ns/b")->reason, PendingReason::kQueueLimit);
}

TEST(Cycle, QueueAboveFairShareDoesNotTakeWhatAnotherQueueDeserves) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_queue(queue("a", "", 4));
  state.upsert_queue(queue("b", "", 4));
  // Queue a's pods are older: a FIFO scheduler would give it all 8 GPUs.
  for (int i = 0; i < 8; ++i) {
    state.upsert_pod(pod("ns", "a-" + std::to_string(i), "a", {{"nvidia.com/gpu", "1"}}, i));
  }
  for (int i = 0; i < 4; ++i) {
    state.upsert_pod(pod("ns", "b-" + std::to_string(i), "b", {{"nvidia.com/gpu", "1"}}, 100 + i));
  }
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound_in_queue(result, "a"), 4);
  EXPECT_EQ(bound_in_queue(result, "b"), 4);
}

TEST(Cycle, QueueAboveFairShareGetsWhatNobodyElseCanUse) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_queue(queue("a", "", 4));
  state.upsert_queue(queue("b", "", 4));
  for (int i = 0; i < 8; ++i) {
    state.upsert_pod(pod("ns", "a-" + std::to_string(i), "a", {{"nvidia.com/gpu", "1"}}, i));
  }
  state.upsert_pod(pod("ns", "b-0", "b", {{"nvidia.com/gpu", "1"}}, 100));
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound_in_queue(result, "a"), 7);
  EXPECT_EQ(bound_in_queue(result, "b"), 1);
}

TEST(Cycle, OverQuotaWeightsSplitTheSurplus) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_node(gpu_node("n2", 8));
  state.upsert_queue(queue("heavy", "", 0, std::nullopt, 3));
  state.upsert_queue(queue("light", "", 0, std::nullopt, 1));
  for (int i = 0; i < 16; ++i) {
    state.upsert_pod(pod("ns", "h-" + std::to_string(i), "heavy", {{"nvidia.com/gpu", "1"}}, i));
    state.upsert_pod(pod("ns", "l-" + std::to_string(i), "light", {{"nvidia.com/gpu", "1"}}, i));
  }
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(bound_in_queue(result, "heavy"), 12);
  EXPECT_EQ(bound_in_queue(result, "light"), 4);
}

TEST(Cycle, HigherPriorityJobsGoFirstInsideAQueue) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  Pod low = pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}, 0);
  Pod high = pod("ns", "high", "", {{"nvidia.com/gpu", "8"}}, 50);
  high.priority = 100;
  state.upsert_pod(low);
  state.upsert_pod(high);
  const auto placed = placements(run_cycle(state));
  EXPECT_EQ(placed.count("ns/high"), 1U);
  EXPECT_EQ(placed.count("ns/low"), 0U);
}

TEST(Cycle, BadQueuesAndBadAnnotationsAreReportedWithoutStoppingOthers) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_queue(queue("loop-a", "loop-b", 0));
  state.upsert_queue(queue("loop-b", "loop-a", 0));
  state.upsert_queue(queue("parent", "", 0));
  state.upsert_queue(queue("child", "parent", 0));
  state.upsert_pod(pod("ns", "in-cycle", "loop-a", {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(pod("ns", "missing", "nope", {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(pod("ns", "inner", "parent", {{"nvidia.com/gpu", "1"}}));
  Pod bad = pod("ns", "bad", "child", {});
  bad.annotations["fairway.dev/gpu-fraction"] = "1.5";
  state.upsert_pod(bad);
  state.upsert_pod(pod("ns", "fine", "child", {{"nvidia.com/gpu", "1"}}));

  const CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).count("ns/fine"), 1U);
  EXPECT_EQ(pending_job(result, "ns/in-cycle")->reason, PendingReason::kQueueInvalid);
  EXPECT_THAT(pending_job(result, "ns/in-cycle")->message,
              HasSubstr("queue \"loop-a\" is invalid"));
  EXPECT_EQ(pending_job(result, "ns/missing")->message, "queue \"nope\" does not exist");
  EXPECT_THAT(pending_job(result, "ns/inner")->message, HasSubstr("pods must name a leaf queue"));
  EXPECT_EQ(pending_job(result, "ns/bad")->reason, PendingReason::kInvalidPod);
  EXPECT_THAT(pending_job(result, "ns/bad")->message, HasSubstr("fairway.dev/gpu-fraction"));
}

TEST(Cycle, PodOfANamespaceTheQueueDoesNotAdmitStaysPending) {
  ClusterState state;
  state.upsert_node(gpu_node("n0", 8));
  QueueSpec restricted = queue("restricted", "", 8);
  restricted.namespace_selector.emplace().match_labels["tenant"] = "red";
  state.upsert_queue(restricted);
  state.upsert_namespace({"red-ns", {{"tenant", "red"}}});
  state.upsert_namespace({"blue-ns", {{"tenant", "blue"}}});
  state.upsert_pod(pod("red-ns", "allowed", "restricted", {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(pod("blue-ns", "intruder", "restricted", {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(gang_pod("blue-ns", "g-0", "restricted", "g", 1, {{"nvidia.com/gpu", "1"}}));

  CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).count("red-ns/allowed"), 1U);
  EXPECT_EQ(placements(result).count("blue-ns/intruder"), 0U);
  ASSERT_NE(pending_job(result, "blue-ns/intruder"), nullptr);
  EXPECT_EQ(pending_job(result, "blue-ns/intruder")->reason, PendingReason::kQueueNotAllowed);
  EXPECT_EQ(std::string(reason_name(PendingReason::kQueueNotAllowed)), "QueueNotAllowed");
  EXPECT_THAT(pending_job(result, "blue-ns/intruder")->message,
              HasSubstr("namespace \"blue-ns\" may not use queue \"restricted\""));
  EXPECT_EQ(pending_job(result, "blue-ns/g")->reason, PendingReason::kQueueNotAllowed);

  // Relabelling the namespace opens the queue to it.
  assume_all(state, result);
  state.upsert_namespace({"blue-ns", {{"tenant", "red"}}});
  result = run_cycle(state);
  EXPECT_EQ(placements(result).count("blue-ns/intruder"), 1U);
}

// Issue 15: a pod of namespace blue joins a PodGroup whose queue, red-q, blue may not use. It
// stays pending with the access reason, and room nominated to it (by a planner that did not
// check access, or before blue lost access) is not held from red's own pods.
TEST(Cycle, PodGroupNamingAQueueItsNamespaceMayNotUseStaysPendingAndHoldsNoRoom) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 4));
  QueueSpec red = queue("red-q", "", 4);
  red.namespace_selector.emplace().match_labels["tenant"] = "red";
  state.upsert_queue(red);
  state.upsert_queue(queue("blue-q", "", 4));
  state.upsert_namespace({"red", {{"tenant", "red"}}});
  state.upsert_namespace({"blue", {{"tenant", "blue"}}});
  for (int i = 0; i < 3; ++i) {
    Pod running = pod("red", "r" + std::to_string(i), "red-q", {{"nvidia.com/gpu", "1"}});
    running.node_name = "n1";
    running.phase = PodPhase::kRunning;
    state.upsert_pod(running);
  }
  state.upsert_pod(pod("red", "r3", "red-q", {{"nvidia.com/gpu", "1"}}));  // evicted, back
  PodGroup group;
  group.namespace_ = "blue";
  group.name = "g";
  group.queue = "red-q";
  state.upsert_pod_group(group);
  Pod intruder = gang_pod("blue", "intruder", "blue-q", "g", 1, {{"nvidia.com/gpu", "1"}});
  intruder.priority = 1'000;
  state.upsert_pod(intruder);
  ResourceVector one;
  one.set(kGpu, 1000);
  const std::vector<Nomination> nominations{{"blue/g", "n1", one}};
  CycleOptions options;
  options.nominations = &nominations;

  const CycleResult result = run_cycle(state, options);
  EXPECT_EQ(placements(result), (std::map<std::string, std::string>{{"red/r3", "n1"}}));
  const PendingJob* job = pending_job(result, "blue/g");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->queue, "red-q");
  EXPECT_EQ(job->reason, PendingReason::kQueueNotAllowed);
  EXPECT_THAT(job->message, HasSubstr("namespace \"blue\" may not use queue \"red-q\""));
}

TEST(Cycle, PodGroupThatCouldNotBeReadKeepsItsGangPendingWithTheReason) {
  ClusterState state;
  state.upsert_node(gpu_node("n0", 8));
  state.upsert_queue(queue("q", "", 8));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.problems.push_back("spec.minMember: -2 must be >= 0");
  state.upsert_pod_group(group);
  state.upsert_pod(gang_pod("ns", "g-0", "q", "g", 1, {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(pod("ns", "single", "q", {{"nvidia.com/gpu", "1"}}));
  const CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).count("ns/single"), 1U);  // other scheduling goes on
  ASSERT_NE(pending_job(result, "ns/g"), nullptr);
  EXPECT_EQ(pending_job(result, "ns/g")->reason, PendingReason::kInvalidPod);
  EXPECT_EQ(pending_job(result, "ns/g")->message, "PodGroup ns/g: spec.minMember: -2 must be >= 0");
}

TEST(Cycle, PodGroupLookupIsNamespaceScoped) {
  ClusterState state;
  state.upsert_node(gpu_node("n0", 8));
  state.upsert_queue(queue("qa", "", 8));
  state.upsert_queue(queue("qb", "", 8));
  PodGroup group;
  group.namespace_ = "a";
  group.name = "g";
  group.min_member = 3;
  group.queue = "qa";
  state.upsert_pod_group(group);
  // A pod of namespace b naming group "g" (and "a/g") is not part of a/g: its own queue, its
  // own gang size.
  state.upsert_pod(gang_pod("b", "intruder", "qb", "g", 1, {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(gang_pod("b", "slash", "qb", "a/g", 1, {{"nvidia.com/gpu", "1"}}));
  state.upsert_pod(gang_pod("a", "member-0", "qa", "g", 3, {{"nvidia.com/gpu", "1"}}));

  const CycleResult result = run_cycle(state);
  EXPECT_EQ(placements(result).count("b/intruder"), 1U);
  EXPECT_EQ(placements(result).count("b/slash"), 1U);
  ASSERT_NE(pending_job(result, "a/g"), nullptr);
  EXPECT_EQ(pending_job(result, "a/g")->reason, PendingReason::kGangIncomplete);
  EXPECT_EQ(pending_job(result, "a/g")->queue, "qa");
}

TEST(Cycle, SameStateGivesTheSameDecisions) {
  auto build = [] {
    ClusterState state;
    for (int n = 0; n < 6; ++n) state.upsert_node(gpu_node("n" + std::to_string(n), 8));
    state.upsert_queue(queue("a", "", 8));
    state.upsert_queue(queue("b", "", 8));
    for (int i = 0; i < 30; ++i) {
      const std::string q = i % 2 == 0 ? "a" : "b";
      state.upsert_pod(pod("ns", "p" + std::to_string(i), q,
                           {{"cpu", "3"}, {"nvidia.com/gpu", std::to_string(1 + i % 4)}}, i));
    }
    return state;
  };
  ClusterState first = build();
  ClusterState second = build();
  EXPECT_EQ(placements(run_cycle(first)), placements(run_cycle(second)));
}

TEST(Cycle, AssumedBindingsAreNotPlacedTwice) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_pod(pod("ns", "a", "", {{"nvidia.com/gpu", "6"}}, 0));
  state.upsert_pod(pod("ns", "b", "", {{"nvidia.com/gpu", "6"}}, 1));
  const CycleResult first = run_cycle(state);
  ASSERT_THAT(first.bindings, SizeIs(1));
  assume_all(state, first);
  const CycleResult second = run_cycle(state);
  EXPECT_TRUE(second.bindings.empty());
  EXPECT_THAT(pending_job(second, "ns/b")->message, HasSubstr("1 Insufficient nvidia.com/gpu"));
  state.forget("ns/a");  // the bind failed: the pod is pending again and the node free
  EXPECT_THAT(run_cycle(state).bindings, SizeIs(1));
}

// ------------------------------------------------------------ issue 17: fixes found in review

// Pods that name a PodGroup fairway has not seen, without fairway.dev/min-member, do not know
// their gang's size: they wait for the PodGroup instead of starting one by one.
TEST(Cycle, PodNamingAnUnseenPodGroupWaitsForIt) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  for (int i = 0; i < 2; ++i) {
    Pod p = pod("ns", "g-" + std::to_string(i), "", {{"nvidia.com/gpu", "1"}});
    p.annotations["fairway.dev/pod-group"] = "g";
    state.upsert_pod(p);
    Pod kai = pod("ns", "k-" + std::to_string(i), "", {{"nvidia.com/gpu", "1"}});
    kai.labels["pod-group-name"] = "k";  // KAI's key
    state.upsert_pod(kai);
  }
  CycleResult result = run_cycle(state);
  EXPECT_TRUE(result.bindings.empty());
  for (const std::string group : {"g", "k"}) {
    const PendingJob* waiting = pending_job(result, "ns/" + group);
    ASSERT_NE(waiting, nullptr);
    EXPECT_EQ(waiting->reason, PendingReason::kGangIncomplete);
    EXPECT_THAT(waiting->message, HasSubstr("waiting for PodGroup ns/" + group + " to exist"));
    EXPECT_THAT(waiting->pods, SizeIs(2));
  }

  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 2;
  state.upsert_pod_group(group);
  result = run_cycle(state);
  EXPECT_THAT(result.bindings, SizeIs(2));
  EXPECT_EQ(bound_in_queue(result, "default"), 2);
  EXPECT_EQ(pending_job(result, "ns/g"), nullptr);

  // The annotation-only form needs no PodGroup: min-member gives the size.
  state.upsert_pod(gang_pod("ns", "a-0", "", "a", 1, {{"nvidia.com/gpu", "1"}}));
  EXPECT_EQ(placements(run_cycle(state)).count("ns/a-0"), 1U);
}

// PodGroup.priorityClassName is the gang's priority inside its queue, over its pods' own.
TEST(Cycle, PodGroupPriorityClassOrdersTheGang) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_priority_class({"high", 1000, false, ""});
  state.upsert_pod(pod("ns", "solo", "", {{"nvidia.com/gpu", "8"}}, 0));  // older, priority 0
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 1;
  group.priority_class_name = "high";
  group.creation_ms = 5;
  state.upsert_pod_group(group);
  Pod member = gang_pod("ns", "g-0", "", "g", 1, {{"nvidia.com/gpu", "8"}}, 5);
  member.annotations.erase("fairway.dev/min-member");
  state.upsert_pod(member);
  const auto placed = placements(run_cycle(state));
  EXPECT_EQ(placed.count("ns/g-0"), 1U);
  EXPECT_EQ(placed.count("ns/solo"), 0U);
}

// Deleting a Queue leaves its running pods charged (outside the tree): the other queues' fair
// shares do not count on what those pods hold, and its pending pods say why they wait.
TEST(Cycle, DeletedQueueKeepsItsRunningPodsCharged) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_queue(queue("a", "", 4));
  state.upsert_queue(queue("b", "", 4));
  Pod running = pod("ns", "a-run", "a", {{"nvidia.com/gpu", "4"}});
  running.node_name = "n1";
  running.phase = PodPhase::kRunning;
  state.upsert_pod(running);
  state.upsert_pod(pod("ns", "a-wait", "a", {{"nvidia.com/gpu", "1"}}));
  for (int i = 0; i < 8; ++i) {
    state.upsert_pod(pod("ns", "b-" + std::to_string(i), "b", {{"nvidia.com/gpu", "1"}}, i));
  }
  state.remove_queue("a");
  const CycleResult result = run_cycle(state);
  const auto b = state.queue_tree().find("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_DOUBLE_EQ(result.shares.share(*b, kGpu), 4000);  // 8 GPUs less the 4 of "a"
  EXPECT_EQ(bound_in_queue(result, "b"), 4);
  const PendingJob* orphan = pending_job(result, "ns/a-wait");
  ASSERT_NE(orphan, nullptr);
  EXPECT_EQ(orphan->reason, PendingReason::kQueueInvalid);
  EXPECT_THAT(orphan->message, HasSubstr("queue \"a\" does not exist"));
  EXPECT_THAT(orphan->message, HasSubstr("running pods stay charged"));
}

// A gang bigger than every schedulable node together says so rather than "Insufficient".
TEST(Cycle, GangThatCanNeverFitTheClusterSaysSo) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_node(gpu_node("n2", 8));
  Node cordoned = gpu_node("n3", 8);
  cordoned.unschedulable = true;
  state.upsert_node(cordoned);
  for (int i = 0; i < 3; ++i) {
    state.upsert_pod(
        gang_pod("ns", "g-" + std::to_string(i), "", "g", 3, {{"nvidia.com/gpu", "8"}}));
  }
  const CycleResult result = run_cycle(state);
  const PendingJob* gang = pending_job(result, "ns/g");
  ASSERT_NE(gang, nullptr);
  EXPECT_EQ(gang->reason, PendingReason::kUnschedulable);
  EXPECT_EQ(gang->message, "gang needs 24 nvidia.com/gpu, the cluster has 16");
}

}  // namespace
}  // namespace fairway
