#include "scheduler/planner/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <random>
#include <set>

#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::gang_pod;
using testing::gpu_node;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::pod;
using testing::queue;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr TimeMs kNow = 1'700'000'000'000;
constexpr TimeMs kHour = 3'600'000;

// A pod already running on `node`.
Pod running(Pod p, const std::string& node) {
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  return p;
}

Pod with_priority(Pod p, int32_t priority) {
  p.priority = priority;
  return p;
}

// A fake clock: fixed unless a test moves it.
struct Clock {
  TimeMs now = kNow;
  std::function<TimeMs()> fn() {
    return [this] { return now; };
  }
};

std::set<std::string> victim_pods(const PreemptionPlan& plan) {
  std::set<std::string> out;
  for (const Victim& v : plan.victims) out.insert(v.pod);
  return out;
}

// The cluster's world between passes, as the service sees it: evicted pods disappear and their
// controller creates them again, pending; bound pods are confirmed running.
class World {
 public:
  ClusterState state;
  PreemptionMemory memory;
  PlannerOptions options;
  Clock clock;
  std::map<std::string, int> evictions;  // by action
  // Pods as created: the state drops containers once it has computed the requests.
  std::map<std::string, Pod> created;

  void add(Pod p) {
    created[p.key()] = p;
    state.upsert_pod(std::move(p));
  }
  Pod original(const std::string& key) const { return created.at(key); }

  PlanResult pass() {
    memory.prune(state, clock.now, options);
    PlanResult result = plan_preemptions(state, memory, options, clock.fn());
    for (const PreemptionPlan& plan : result.plans) {
      ++evictions[action_name(plan.action)];
      memory.record(plan, clock.now, options);
      for (const Victim& victim : plan.victims) {
        Pod again = original(victim.pod);
        state.remove_pod(victim.pod);
        again.node_name.clear();
        again.phase = PodPhase::kPending;
        state.upsert_pod(again);
      }
    }
    return result;
  }

  CycleResult cycle() {
    CycleOptions cycle_options;
    cycle_options.nominations = &memory.nominations();
    CycleResult result = run_cycle(state, cycle_options);
    for (const Binding& b : result.bindings) {
      add(running(original(b.pod), b.node));
    }
    return result;
  }

  int running_in(const std::string& q) const {
    int n = 0;
    for (const PodRecord& r : state.pods()) {
      if (r.present && r.counted_bound && r.pod.labels.count("fairway.dev/queue") != 0 &&
          r.pod.labels.at("fairway.dev/queue") == q) {
        ++n;
      }
    }
    return n;
  }
};

// ---------------------------------------------------------------------------------- preempt

TEST(Preempt, HigherPriorityPodEvictsALowerPriorityOneInItsQueue) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(with_priority(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}, kNow - kHour), 10),
                "n1"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "8"}}, kNow), 100));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  const PreemptionPlan& plan = result.plans[0];
  EXPECT_EQ(plan.action, PreemptionAction::kPreempt);
  EXPECT_EQ(plan.preemptor, "ns/high");
  EXPECT_THAT(victim_pods(plan), ElementsAre("ns/low"));
  ASSERT_THAT(plan.placements, SizeIs(1));
  EXPECT_EQ(plan.placements[0].node, "n1");
  ASSERT_THAT(plan.nominations, SizeIs(1));
  EXPECT_EQ(plan.nominations[0].amount[kGpu], 8000);
  EXPECT_THAT(plan.message, HasSubstr("preempt for ns/high"));

  // The victim comes back pending and the freed node goes to the preemptor, not back to it.
  w.cycle();
  EXPECT_TRUE(w.state.find_pod("ns/high")->counted_bound);
  EXPECT_FALSE(w.state.find_pod("ns/low")->counted_bound);
  // And the low-priority pod cannot preempt back: it is not of higher priority.
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Preempt, APodWithPreemptionPolicyNeverEvictsNothing) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(with_priority(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), 10), "n1"));
  Pod polite = with_priority(pod("ns", "polite", "", {{"nvidia.com/gpu", "8"}}), 100);
  polite.preemption_policy = "Never";
  w.add(polite);
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Preempt, EqualPriorityEvictsNothing) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(with_priority(pod("ns", "a", "", {{"nvidia.com/gpu", "8"}}), 10), "n1"));
  w.add(with_priority(pod("ns", "b", "", {{"nvidia.com/gpu", "8"}}), 10));
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Preempt, PicksLowestPriorityThenLeastRunTimeLost) {
  World w;
  w.state.upsert_node(gpu_node("n1", 3));
  w.add(running(
      with_priority(pod("ns", "old-low", "", {{"nvidia.com/gpu", "1"}}, kNow - 5 * kHour), 1),
      "n1"));
  w.add(running(with_priority(pod("ns", "new-low", "", {{"nvidia.com/gpu", "1"}}, kNow - kHour), 1),
                "n1"));
  w.add(running(with_priority(pod("ns", "mid", "", {{"nvidia.com/gpu", "1"}}, kNow - 2 * kHour), 5),
                "n1"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "1"}}), 100));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/new-low"));
}

TEST(Preempt, NothingIsEvictedWhenThePlanCannotPlaceThePreemptor) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), "n1"));
  // Needs 16 GPUs on one node: no eviction can make room.
  w.add(with_priority(pod("ns", "huge", "", {{"nvidia.com/gpu", "16"}}), 100));
  // Needs a node label no node has.
  Pod picky = with_priority(pod("ns", "picky", "", {{"nvidia.com/gpu", "1"}}), 100);
  picky.node_selector["zone"] = "mars";
  w.add(picky);
  const PlanResult result = w.pass();
  EXPECT_THAT(result.plans, IsEmpty());
  EXPECT_GE(result.stats.simulations, 1u);
}

TEST(Preempt, MinRuntimeProtectsYoungVictims) {
  World w;
  QueueSpec q = queue("q", "", 8);
  q.preempt_min_runtime_seconds = 600;
  w.state.upsert_queue(q);
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "young", "q", {{"nvidia.com/gpu", "8"}}, kNow - 60'000), "n1"));
  w.add(with_priority(pod("ns", "high", "q", {{"nvidia.com/gpu", "8"}}, kNow), 100));
  EXPECT_THAT(w.pass().plans, IsEmpty());
  w.clock.now += 600'000;  // ten minutes later the victim has run 11 minutes
  const PlanResult later = w.pass();
  ASSERT_THAT(later.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(later.plans[0]), ElementsAre("ns/young"));
}

TEST(Preempt, NonPreemptiblePodsAreNeverVictimsUnlessLabelledPreemptible) {
  World w;
  w.options.non_preemptible_priority = 1000;
  w.state.upsert_node(gpu_node("n1", 2));
  w.add(running(with_priority(pod("ns", "system", "", {{"nvidia.com/gpu", "1"}}), 1000), "n1"));
  Pod pinned = pod("ns", "pinned", "", {{"nvidia.com/gpu", "1"}});
  pinned.labels["fairway.dev/preemptible"] = "false";
  w.add(running(pinned, "n1"));
  w.add(with_priority(pod("ns", "urgent", "", {{"nvidia.com/gpu", "1"}}), 2000));
  EXPECT_THAT(w.pass().plans, IsEmpty());

  // "true" makes a pod preemptible whatever its priority.
  Pod system = w.original("ns/system");
  system.annotations["fairway.dev/preemptible"] = "true";
  w.add(system);
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/system"));
}

TEST(Preempt, GangVictimsGoWhole) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  for (int i = 0; i < 4; ++i) {
    w.add(running(gang_pod("ns", "g-" + std::to_string(i), "", "g", 4, {{"nvidia.com/gpu", "2"}}),
                  "n1"));
  }
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "2"}}), 100));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  // Two GPUs would do, but the gang cannot run below minMember 4: all four go.
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/g-0", "ns/g-1", "ns/g-2", "ns/g-3"));
}

TEST(Preempt, GangPodsBeyondMinMemberGoFirstAndAlone) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  for (int i = 0; i < 4; ++i) {
    w.add(running(gang_pod("ns", "g-" + std::to_string(i), "", "g", 2, {{"nvidia.com/gpu", "2"}}),
                  "n1"));
  }
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "4"}}), 100));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  // The gang keeps its minMember of 2 running.
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/g-2", "ns/g-3"));
}

TEST(Preempt, PreemptorThatAlreadyFitsEvictsNothing) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "", {{"nvidia.com/gpu", "4"}}), "n1"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "4"}}), 100));
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

// Issue 17: a PodGroup's priorityClassName is the gang's priority, as preemptor and as victim,
// over its pods' own; a gang still waiting for its PodGroup (size unknown) evicts nothing.
TEST(Preempt, PodGroupPriorityClassIsTheGangsPriority) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.state.upsert_priority_class({"urgent", 1000, false, ""});
  w.add(running(with_priority(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}, kNow - kHour), 10),
                "n1"));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 1;
  group.priority_class_name = "urgent";
  group.creation_ms = kNow;
  w.state.upsert_pod_group(group);
  Pod member = gang_pod("ns", "g-0", "", "g", 1, {{"nvidia.com/gpu", "8"}}, kNow);
  member.annotations.erase("fairway.dev/min-member");
  w.add(member);  // priority 0 on the pod, 1000 from its PodGroup
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  EXPECT_EQ(result.plans[0].preemptor, "ns/g");
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/low"));
}

TEST(Preempt, GangWaitingForItsPodGroupEvictsNothing) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(with_priority(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}, kNow - kHour), 10),
                "n1"));
  Pod member = with_priority(pod("ns", "g-0", "", {{"nvidia.com/gpu", "8"}}, kNow), 100);
  member.annotations["fairway.dev/pod-group"] = "g";  // no PodGroup, no min-member
  w.add(member);
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

// Issue 18: a gang of subgroups is simulated with the cycle's own subgroup placement. Here the
// gang's 8 GPUs are free in total (4 per rack), which would fit a plain gang; but its subgroup
// needs one rack, so the planner must evict to free one, and then the cycle places it there.
TEST(Preempt, AGangOfSubgroupsEvictsWhatItsSubgroupsRackNeeds) {
  World w;
  w.state.upsert_topology({"fabric", {{"example.com/rack", {}}}});
  for (const char* rack : {"a", "b"}) {
    Node node = gpu_node(std::string("n-") + rack, 8);
    node.labels["example.com/rack"] = rack;
    w.state.upsert_node(node);
  }
  w.add(running(with_priority(pod("ns", "low-a", "", {{"nvidia.com/gpu", "4"}}, kNow - kHour), 10),
                "n-a"));
  w.add(running(
      with_priority(pod("ns", "low-b", "", {{"nvidia.com/gpu", "4"}}, kNow - 2 * kHour), 10),
      "n-b"));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "js";
  group.min_member = 2;
  SubGroup workers;
  workers.name = "workers";
  workers.min_member = 2;
  workers.topology_constraint.required_level = "example.com/rack";
  group.subgroups.push_back(workers);
  w.state.upsert_pod_group(group);
  for (int i = 0; i < 2; ++i) {
    Pod member = with_priority(
        pod("ns", "js-" + std::to_string(i), "", {{"nvidia.com/gpu", "4"}}, kNow), 100);
    member.annotations["fairway.dev/pod-group"] = "js";
    member.subgroup = "workers";
    w.add(member);
  }
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/low-a"));  // the one that ran less
  w.cycle();
  EXPECT_EQ(w.state.find_pod("ns/js-0")->node, w.state.find_pod("ns/js-1")->node);
  EXPECT_TRUE(w.state.find_pod("ns/js-0")->counted_bound);
  EXPECT_TRUE(w.state.find_pod("ns/js-1")->counted_bound);
  // Placed: nothing more is evicted for it, pass after pass.
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

// ----------------------------------------------------------------------------------- reclaim

void two_queues(World& w, int b_running, int a_pending, int b_pending = 0) {
  w.state.upsert_queue(queue("a", "", 4));
  w.state.upsert_queue(queue("b", "", 4));
  w.state.upsert_node(gpu_node("n1", 4));
  w.state.upsert_node(gpu_node("n2", 4));
  for (int i = 0; i < b_running; ++i) {
    w.add(running(
        pod("ns", "b-" + std::to_string(i), "b", {{"nvidia.com/gpu", "1"}}, kNow - kHour + i),
        i < 4 ? "n1" : "n2"));
  }
  for (int i = 0; i < b_pending; ++i) {
    w.add(pod("ns", "b-pending-" + std::to_string(i), "b", {{"nvidia.com/gpu", "1"}}, kNow));
  }
  for (int i = 0; i < a_pending; ++i) {
    w.add(pod("ns", "a-" + std::to_string(i), "a", {{"nvidia.com/gpu", "1"}}, kNow + i));
  }
}

TEST(Reclaim, RestoresEachQueueToItsFairShareAndStopsThere) {
  World w;
  two_queues(w, 8, 8);
  const PlanResult result = w.pass();
  // a's fair share is 4 (its quota): four reclaims of one pod each, then no more.
  ASSERT_THAT(result.plans, SizeIs(4));
  std::set<std::string> victims;
  for (const PreemptionPlan& plan : result.plans) {
    EXPECT_EQ(plan.action, PreemptionAction::kReclaim);
    EXPECT_EQ(plan.queue, "a");
    ASSERT_THAT(plan.victims, SizeIs(1));
    EXPECT_EQ(plan.victims[0].queue, "b");
    victims.insert(plan.victims[0].pod);
  }
  // Least run time lost first: b's youngest pods.
  EXPECT_THAT(victims, UnorderedElementsAre("ns/b-4", "ns/b-5", "ns/b-6", "ns/b-7"));
  w.cycle();
  EXPECT_EQ(w.running_in("a"), 4);
  EXPECT_EQ(w.running_in("b"), 4);
  // At fair share, both wait: nothing more moves.
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Reclaim, AQueueAtExactlyItsFairShareLosesNothing) {
  World w;
  two_queues(w, 4, 4);
  for (int i = 0; i < 4; ++i) {
    w.add(running(pod("ns", "a-run-" + std::to_string(i), "a", {{"nvidia.com/gpu", "1"}}), "n2"));
  }
  // Both at 4 of 4 with work waiting.
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Reclaim, ComparesQueuesWhereTheirPathsDiverge) {
  // org-x (quota 4) → x1, x2; org-y (quota 4) → y1. x2 pending; x1 uses all of org-x's share and
  // y1 is above org-y's. x2 may only take from y1 as far as org-y stays at its share, and not
  // from its sibling x1 beyond x1's own share.
  World w;
  w.state.upsert_queue(queue("org-x", "", 4));
  w.state.upsert_queue(queue("org-y", "", 4));
  w.state.upsert_queue(queue("x1", "org-x", 2));
  w.state.upsert_queue(queue("x2", "org-x", 2));
  w.state.upsert_queue(queue("y1", "org-y", 4));
  w.state.upsert_node(gpu_node("n1", 4));
  w.state.upsert_node(gpu_node("n2", 4));
  for (int i = 0; i < 2; ++i) {
    w.add(running(
        pod("ns", "x1-" + std::to_string(i), "x1", {{"nvidia.com/gpu", "1"}}, kNow - kHour), "n1"));
  }
  for (int i = 0; i < 6; ++i) {
    w.add(running(
        pod("ns", "y1-" + std::to_string(i), "y1", {{"nvidia.com/gpu", "1"}}, kNow - kHour + i),
        i < 2 ? "n1" : "n2"));
  }
  for (int i = 0; i < 3; ++i) {
    w.add(pod("ns", "x2-" + std::to_string(i), "x2", {{"nvidia.com/gpu", "1"}}, kNow + i));
  }
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(2));  // x2's share is 2: the third waits
  for (const PreemptionPlan& plan : result.plans) {
    EXPECT_EQ(plan.queue, "x2");
    ASSERT_THAT(plan.victims, SizeIs(1));
    EXPECT_EQ(plan.victims[0].queue, "y1");
  }
}

TEST(Reclaim, ChoosesVictimsNodeByNodeWhenTheYoungestAreScattered) {
  World w;
  w.state.upsert_queue(queue("a", "", 2));
  w.state.upsert_queue(queue("b", "", 2));
  w.state.upsert_node(gpu_node("n1", 2));
  w.state.upsert_node(gpu_node("n2", 2));
  // b's two youngest pods sit on different nodes: evicting them frees 2 GPUs, but 1 + 1.
  w.add(running(pod("ns", "b-n1-young", "b", {{"nvidia.com/gpu", "1"}}, kNow - kHour), "n1"));
  w.add(running(pod("ns", "b-n2-young", "b", {{"nvidia.com/gpu", "1"}}, kNow - kHour - 1), "n2"));
  w.add(running(pod("ns", "b-n1-old", "b", {{"nvidia.com/gpu", "1"}}, kNow - 5 * kHour), "n1"));
  w.add(running(pod("ns", "b-n2-old", "b", {{"nvidia.com/gpu", "1"}}, kNow - 5 * kHour), "n2"));
  w.add(pod("ns", "a-wide", "a", {{"nvidia.com/gpu", "2"}}, kNow));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  // Two pods of one node, and b keeps its share of 2.
  EXPECT_THAT(victim_pods(result.plans[0]), ElementsAre("ns/b-n1-old", "ns/b-n1-young"));
  EXPECT_EQ(result.plans[0].placements[0].node, "n1");
}

TEST(Reclaim, MinRuntimeProtectsVictims) {
  World w;
  two_queues(w, 8, 1);
  QueueSpec b = queue("b", "", 4);
  b.reclaim_min_runtime_seconds = 2 * 3600;  // b's pods started an hour ago
  w.state.upsert_queue(b);
  EXPECT_THAT(w.pass().plans, IsEmpty());
  w.clock.now += 2 * kHour;
  EXPECT_THAT(w.pass().plans, SizeIs(1));
}

TEST(Reclaim, ConvergesWithoutPingPongOverAHundredCycles) {
  World w;
  two_queues(w, 8, 8, 2);  // b also has work waiting: it would take everything back if allowed
  int evicted_after_settling = 0;
  for (int cycle = 0; cycle < 100; ++cycle) {
    w.cycle();
    if (cycle % 5 == 0) {
      const PlanResult result = w.pass();
      if (cycle >= 10) {
        for (const PreemptionPlan& plan : result.plans) {
          evicted_after_settling += static_cast<int>(plan.victims.size());
        }
      }
    }
    w.clock.now += 1000;
  }
  EXPECT_EQ(w.running_in("a"), 4);
  EXPECT_EQ(w.running_in("b"), 4);
  EXPECT_EQ(w.evictions["reclaim"], 4);
  EXPECT_EQ(evicted_after_settling, 0);
}

// The idle-victim policy (--idle-victims-first): b runs 8 one-GPU pods, a waits for 4. Without
// the policy reclaim takes b's youngest four; with it, b's idle pods go first whatever their age.
TEST(Reclaim, IdleGpuPodsAboveTheirFairShareGoFirst) {
  const std::unordered_map<std::string, std::string> idle = {
      {"ns/b-0", "GPUs idle for 2h"}, {"ns/b-1", "GPUs idle for 2h"}, {"ns/b-2", "GPUs idle"}};
  World off;
  two_queues(off, 8, 4);
  std::set<std::string> usual;
  for (const PreemptionPlan& plan : off.pass().plans) {
    for (const Victim& v : plan.victims) usual.insert(v.pod);
  }
  EXPECT_THAT(usual, UnorderedElementsAre("ns/b-4", "ns/b-5", "ns/b-6", "ns/b-7"));

  World on;
  on.options.idle_gpu_pods = &idle;
  two_queues(on, 8, 4);
  std::set<std::string> victims;
  std::map<std::string, std::string> why;
  for (const PreemptionPlan& plan : on.pass().plans) {
    for (const Victim& v : plan.victims) {
      victims.insert(v.pod);
      why[v.pod] = v.chosen_first;
    }
  }
  // The three idle pods, then the youngest busy one.
  EXPECT_THAT(victims, UnorderedElementsAre("ns/b-0", "ns/b-1", "ns/b-2", "ns/b-7"));
  EXPECT_EQ(why["ns/b-0"], "GPUs idle for 2h");
  EXPECT_EQ(why["ns/b-7"], "");
}

TEST(Reclaim, IdleGpuPodsWithinTheirQueuesDeservedQuotaAreNotChosenFirst) {
  // Quotas of 8 each on 8 GPUs: the fair shares are 4 and 4, so b (holding 8) loses 4 to a, but
  // b holds no more than its deserved quota: its idle pod is not singled out, the youngest go.
  const std::unordered_map<std::string, std::string> idle = {{"ns/b-0", "GPUs idle"}};
  World w;
  w.options.idle_gpu_pods = &idle;
  w.state.upsert_queue(queue("a", "", 8));
  w.state.upsert_queue(queue("b", "", 8));
  w.state.upsert_node(gpu_node("n1", 8));
  for (int i = 0; i < 8; ++i) {
    w.add(running(
        pod("ns", "b-" + std::to_string(i), "b", {{"nvidia.com/gpu", "1"}}, kNow - kHour + i),
        "n1"));
  }
  for (int i = 0; i < 4; ++i) {
    w.add(pod("ns", "a-" + std::to_string(i), "a", {{"nvidia.com/gpu", "1"}}, kNow + i));
  }
  std::set<std::string> victims;
  for (const PreemptionPlan& plan : w.pass().plans) {
    for (const Victim& v : plan.victims) {
      victims.insert(v.pod);
      EXPECT_EQ(v.chosen_first, "");
    }
  }
  EXPECT_THAT(victims, UnorderedElementsAre("ns/b-4", "ns/b-5", "ns/b-6", "ns/b-7"));
}

TEST(Reclaim, AJobWithOneBusyGpuPodIsNotIdle) {
  // b holds 8 of 8 GPUs (fair share 6): a gang of two with one pod idle and one busy, and six
  // single pods. The gang is busy: reclaim keeps its usual order and takes the two youngest.
  const std::unordered_map<std::string, std::string> idle = {{"ns/g-0", "GPUs idle"}};
  World w;
  w.options.idle_gpu_pods = &idle;
  w.state.upsert_queue(queue("a", "", 2));
  w.state.upsert_queue(queue("b", "", 2));
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(gang_pod("ns", "g-0", "b", "g", 2, {{"nvidia.com/gpu", "1"}}, kNow - 3 * kHour),
                "n1"));
  w.add(running(gang_pod("ns", "g-1", "b", "g", 2, {{"nvidia.com/gpu", "1"}}, kNow - 3 * kHour),
                "n1"));
  for (int i = 0; i < 6; ++i) {
    w.add(running(
        pod("ns", "s-" + std::to_string(i), "b", {{"nvidia.com/gpu", "1"}}, kNow - 2 * kHour + i),
        "n1"));
  }
  w.add(pod("ns", "a-0", "a", {{"nvidia.com/gpu", "1"}}, kNow));
  w.add(pod("ns", "a-1", "a", {{"nvidia.com/gpu", "1"}}, kNow + 1));
  std::set<std::string> victims;
  for (const PreemptionPlan& plan : w.pass().plans) {
    for (const Victim& v : plan.victims) victims.insert(v.pod);
  }
  EXPECT_THAT(victims, UnorderedElementsAre("ns/s-4", "ns/s-5"));
}

// ------------------------------------------------------------------------------- consolidate

TEST(Consolidate, MovesTwoOneGpuPodsSoAnEightGpuPodFits) {
  World w;
  w.options.non_preemptible_priority = 1000;
  w.state.upsert_node(gpu_node("n1", 8));
  w.state.upsert_node(gpu_node("n2", 8));
  w.add(running(pod("ns", "small-1", "", {{"nvidia.com/gpu", "1"}}), "n1"));
  w.add(running(pod("ns", "small-2", "", {{"nvidia.com/gpu", "1"}}), "n1"));
  w.add(running(with_priority(pod("ns", "pinned", "", {{"nvidia.com/gpu", "6"}}), 1000), "n2"));
  // 8 GPUs are free in total (6 + 2), but no node has 8.
  w.add(pod("ns", "big", "", {{"nvidia.com/gpu", "8"}}));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  const PreemptionPlan& plan = result.plans[0];
  EXPECT_EQ(plan.action, PreemptionAction::kConsolidate);
  EXPECT_THAT(victim_pods(plan), ElementsAre("ns/small-1", "ns/small-2"));
  ASSERT_THAT(plan.placements, SizeIs(1));
  EXPECT_EQ(plan.placements[0].node, "n1");
  // The moved pods and the big one all run afterwards.
  w.cycle();
  EXPECT_EQ(w.state.nodes()[w.state.find_pod("ns/big")->node].node.name, "n1");
  EXPECT_EQ(w.state.nodes()[w.state.find_pod("ns/small-1")->node].node.name, "n2");
  EXPECT_EQ(w.state.nodes()[w.state.find_pod("ns/small-2")->node].node.name, "n2");
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Consolidate, DoesNothingWhenMovedPodsWouldHaveNoPlace) {
  World w;
  w.options.non_preemptible_priority = 1000;
  w.state.upsert_node(gpu_node("n1", 8));
  w.state.upsert_node(gpu_node("n2", 8));
  w.add(running(pod("ns", "small-1", "", {{"nvidia.com/gpu", "2"}}), "n1"));
  w.add(running(with_priority(pod("ns", "pinned", "", {{"nvidia.com/gpu", "7"}}), 1000), "n2"));
  // 7 free (6 + 1): the 2-GPU pod cannot go to n2, so moving it buys nothing.
  w.add(pod("ns", "big", "", {{"nvidia.com/gpu", "7"}}));
  EXPECT_THAT(w.pass().plans, IsEmpty());
}

TEST(Consolidate, EvictsNothingForAPreemptorItsQueueLimitKeepsOut) {
  World w;
  w.state.upsert_queue(queue("capped", "", 4, 8));
  w.state.upsert_queue(queue("other", "", 4));
  w.state.upsert_node(gpu_node("n1", 8));
  w.state.upsert_node(gpu_node("n2", 8));
  w.add(running(pod("ns", "capped-run", "capped", {{"nvidia.com/gpu", "4"}}), "n1"));
  w.add(running(pod("ns", "other-run", "other", {{"nvidia.com/gpu", "4"}}), "n2"));
  // 8 GPUs free in total (4 + 4) but scattered; "capped" may hold 8 and holds 4 already.
  w.add(pod("ns", "too-much", "capped", {{"nvidia.com/gpu", "6"}}));
  EXPECT_THAT(w.pass().plans, IsEmpty());
  // The same pod in a queue without the limit gets its GPUs gathered by moving a 4-GPU pod.
  World open;
  open.state.upsert_queue(queue("capped", "", 4));
  open.state.upsert_queue(queue("other", "", 4));
  open.state.upsert_node(gpu_node("n1", 8));
  open.state.upsert_node(gpu_node("n2", 8));
  open.add(running(pod("ns", "capped-run", "capped", {{"nvidia.com/gpu", "4"}}), "n1"));
  open.add(running(pod("ns", "other-run", "other", {{"nvidia.com/gpu", "4"}}), "n2"));
  open.add(pod("ns", "too-much", "capped", {{"nvidia.com/gpu", "6"}}));
  const PlanResult result = open.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  EXPECT_EQ(result.plans[0].action, PreemptionAction::kConsolidate);
}

// -------------------------------------------------------------------- nominations, cool-down

TEST(Nomination, FreedCapacityGoesToThePreemptorNotToAnotherJob) {
  World w;
  w.state.upsert_queue(queue("first", "", 8, std::nullopt, 1, 100));  // served first by DRF
  w.state.upsert_queue(queue("mine", "", 0));
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "mine", {{"nvidia.com/gpu", "8"}}), "n1"));
  w.add(with_priority(pod("ns", "high", "mine", {{"nvidia.com/gpu", "8"}}), 100));
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  // While the victim is away, a job of another queue shows up first in line.
  w.add(pod("ns", "thief", "first", {{"nvidia.com/gpu", "8"}}));
  const CycleResult cycle = w.cycle();
  ASSERT_THAT(cycle.bindings, SizeIs(1));
  EXPECT_EQ(cycle.bindings[0].pod, "ns/high");

  // Without the nomination the other job would have taken it.
  World control;
  control.state.upsert_queue(queue("first", "", 8, std::nullopt, 1, 100));
  control.state.upsert_queue(queue("mine", "", 0));
  control.state.upsert_node(gpu_node("n1", 8));
  control.add(with_priority(pod("ns", "high", "mine", {{"nvidia.com/gpu", "8"}}), 100));
  control.add(pod("ns", "thief", "first", {{"nvidia.com/gpu", "8"}}));
  const CycleResult open = control.cycle();
  ASSERT_THAT(open.bindings, SizeIs(1));
  EXPECT_EQ(open.bindings[0].pod, "ns/thief");
}

TEST(Nomination, HoldsCapacityOnlyForAJobThatStillWaits) {
  ClusterState state;
  state.upsert_node(gpu_node("n1", 8));
  state.upsert_pod(pod("ns", "p", "", {{"nvidia.com/gpu", "8"}}));
  ResourceVector eight;
  eight.set(kGpu, 8000);
  // The nominated job placed already (or is gone): its nomination holds nothing.
  std::vector<Nomination> nominations{{"ns/gone", "n1", eight}};
  CycleOptions options;
  options.nominations = &nominations;
  EXPECT_THAT(run_cycle(state, options).bindings, SizeIs(1));
  // A nominated job that still waits (here: asks more than the node has) keeps the room.
  state.upsert_pod(pod("ns", "waiting", "", {{"nvidia.com/gpu", "16"}}));
  nominations = {{"ns/waiting", "n1", eight}};
  const CycleResult held = run_cycle(state, options);
  EXPECT_THAT(held.bindings, IsEmpty());
}

TEST(Nomination, AJobWaitingForItsVictimsSaysReclaimInProgress) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), "n1"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "8"}}), 100));
  // A plan is committed, but its victim has not left yet (still terminating, holding the GPUs).
  const PlanResult result = plan_preemptions(w.state, w.memory, w.options, w.clock.fn());
  ASSERT_THAT(result.plans, SizeIs(1));
  w.memory.record(result.plans[0], w.clock.now, w.options);
  // The preemptor does not fit yet, and its explanation says why it will.
  CycleOptions options;
  options.nominations = &w.memory.nominations();
  const CycleResult waiting = run_cycle(w.state, options);
  ASSERT_THAT(waiting.pending, SizeIs(1));
  EXPECT_EQ(waiting.pending[0].reason, PendingReason::kReclaimInProgress);
  EXPECT_THAT(waiting.pending[0].message, HasSubstr("reclaim in progress for it"));
  // Without a nomination the same wait is a plain "no node fits".
  const CycleResult plain = run_cycle(w.state);
  ASSERT_THAT(plain.pending, SizeIs(1));
  EXPECT_EQ(plain.pending[0].reason, PendingReason::kUnschedulable);
}

TEST(Nomination, EndsWhenThePreemptorCannotUseTheRoomOnceItsVictimsAreGone) {
  World w;
  w.state.upsert_queue(queue("q", "", 8, 8));
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "q", {{"nvidia.com/gpu", "8"}}), "n1"));
  w.add(with_priority(pod("ns", "high", "q", {{"nvidia.com/gpu", "8"}}), 100));
  const PlanResult result = plan_preemptions(w.state, w.memory, w.options, w.clock.fn());
  ASSERT_THAT(result.plans, SizeIs(1));
  w.memory.record(result.plans[0], w.clock.now, w.options);
  // The victim goes; before the preemptor places, the queue's limit is taken by a pod that
  // landed meanwhile (another scheduler, a restart): the preemptor cannot use n1 any more.
  w.state.remove_pod("ns/low");
  w.state.upsert_node(gpu_node("n2", 8));
  w.add(running(pod("ns", "late", "q", {{"nvidia.com/gpu", "8"}}), "n2"));
  w.memory.prune(w.state, w.clock.now, w.options);
  ASSERT_TRUE(w.memory.nominated("ns/high"));
  w.add(pod("ns", "other", "", {{"nvidia.com/gpu", "8"}}));
  const CycleResult held = w.cycle();
  EXPECT_THAT(held.bindings, IsEmpty());  // n1 is held for ns/high, and the message says so
  std::string other_says;
  for (const PendingJob& job : held.pending) {
    if (job.job == "ns/other") other_says = job.message;
  }
  EXPECT_THAT(other_says, HasSubstr("1 Capacity held for a preemption in progress"));
  // Past the grace the room is let go, and the preemptor rests instead of evicting again.
  w.clock.now += w.options.nomination_after_victims_ms;
  w.memory.prune(w.state, w.clock.now, w.options);
  EXPECT_FALSE(w.memory.nominated("ns/high"));
  EXPECT_TRUE(w.memory.resting("ns/high", w.clock.now));
  const CycleResult freed = w.cycle();
  ASSERT_THAT(freed.bindings, SizeIs(1));
  EXPECT_EQ(freed.bindings[0].pod, "ns/other");
}

TEST(Nomination, StaysWhileAVictimStillHoldsItsNode) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), "n1"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "8"}}), 100));
  const PlanResult result = plan_preemptions(w.state, w.memory, w.options, w.clock.fn());
  ASSERT_THAT(result.plans, SizeIs(1));
  w.memory.record(result.plans[0], w.clock.now, w.options);
  // A victim with a long grace period is still terminating well past the grace of the hold.
  w.clock.now += 4 * w.options.nomination_after_victims_ms;
  w.memory.prune(w.state, w.clock.now, w.options);
  EXPECT_TRUE(w.memory.nominated("ns/high"));
}

// ----------------------------------------------------------------------------- stale gangs

TEST(StaleGang, AGangStuckBelowMinMemberPastItsGraceGivesItsPodsBack) {
  World w;
  w.options.stale_gang_grace_ms = 60'000;
  w.state.upsert_node(gpu_node("n1", 8));
  w.state.upsert_node(gpu_node("n2", 8));
  // g-1's bind failed while g-0's went through; meanwhile n2 filled up, so g-1 has no place.
  w.add(running(gang_pod("ns", "g-0", "", "g", 2, {{"nvidia.com/gpu", "4"}}), "n1"));
  w.add(gang_pod("ns", "g-1", "", "g", 2, {{"nvidia.com/gpu", "8"}}));
  w.add(running(with_priority(pod("ns", "pinned", "", {{"nvidia.com/gpu", "8"}}), 2'000'000'000),
                "n2"));
  EXPECT_THAT(w.pass().plans, IsEmpty());  // partial from now on
  w.clock.now += 59'000;
  EXPECT_THAT(w.pass().plans, IsEmpty());  // within the grace
  w.clock.now += 2'000;
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  const PreemptionPlan& plan = result.plans[0];
  EXPECT_EQ(plan.action, PreemptionAction::kStaleGang);
  EXPECT_EQ(plan.preemptor, "ns/g");
  EXPECT_THAT(victim_pods(plan), ElementsAre("ns/g-0"));
  EXPECT_THAT(plan.message, HasSubstr("1 of minMember 2 bound for 61 s"));
  EXPECT_TRUE(plan.nominations.empty());
}

TEST(StaleGang, APodGroupsScheduleTimeoutIsItsGrace) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 2;
  group.schedule_timeout_seconds = 10;
  w.state.upsert_pod_group(group);
  w.add(running(gang_pod("ns", "g-0", "", "g", 2, {{"nvidia.com/gpu", "4"}}), "n1"));
  w.add(gang_pod("ns", "g-1", "", "g", 2, {{"nvidia.com/gpu", "16"}}));  // fits nowhere
  EXPECT_THAT(w.pass().plans, IsEmpty());
  w.clock.now += 11'000;
  const PlanResult result = w.pass();
  ASSERT_THAT(result.plans, SizeIs(1));
  EXPECT_EQ(result.plans[0].action, PreemptionAction::kStaleGang);
}

TEST(StaleGang, AWholeGangAndAGangWithNothingBoundAreNotStale) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(gang_pod("ns", "whole-0", "", "whole", 2, {{"nvidia.com/gpu", "2"}}), "n1"));
  w.add(running(gang_pod("ns", "whole-1", "", "whole", 2, {{"nvidia.com/gpu", "2"}}), "n1"));
  w.add(gang_pod("ns", "waiting-0", "", "waiting", 2, {{"nvidia.com/gpu", "8"}}));
  w.add(gang_pod("ns", "waiting-1", "", "waiting", 2, {{"nvidia.com/gpu", "8"}}));
  w.pass();
  w.clock.now += kHour;
  for (const PreemptionPlan& plan : w.pass().plans) {
    EXPECT_NE(plan.action, PreemptionAction::kStaleGang) << plan.message;
  }
}

// ---------------------------------------------------------------------------- queue access

// Issue 15: queue `red-q` admits only namespaces labelled tenant=red. Four red pods run on the
// only node, one GPU each, at a low priority.
World red_team_world() {
  World w;
  w.state.upsert_node(gpu_node("n1", 4));
  QueueSpec red = queue("red-q", "", 4);
  red.namespace_selector.emplace().match_labels["tenant"] = "red";
  w.state.upsert_queue(red);
  w.state.upsert_queue(queue("blue-q", "", 4));
  w.state.upsert_namespace({"red", {{"tenant", "red"}}});
  w.state.upsert_namespace({"blue", {{"tenant", "blue"}}});
  for (int i = 0; i < 4; ++i) {
    w.add(running(with_priority(pod("red", "r" + std::to_string(i), "red-q",
                                    {{"nvidia.com/gpu", "1"}}, kNow - kHour),
                                10),
                  "n1"));
  }
  return w;
}

// A pod of namespace blue, labelled with its own queue, joins a PodGroup of its namespace whose
// spec.queue is red-q: the gang's queue is red-q, which blue may not use.
void add_intruder(World& w, int32_t priority = 1'000) {
  PodGroup group;
  group.namespace_ = "blue";
  group.name = "g";
  group.min_member = 1;
  group.queue = "red-q";
  w.state.upsert_pod_group(group);
  w.add(with_priority(
      gang_pod("blue", "intruder", "blue-q", "g", 1, {{"nvidia.com/gpu", "1"}}, kNow), priority));
}

const PendingJob* pending_job(const CycleResult& result, const std::string& job) {
  for (const PendingJob& p : result.pending) {
    if (p.job == job) return &p;
  }
  return nullptr;
}

TEST(PlannerQueueAccess, AGangInAQueueItsNamespaceMayNotUseEvictsNoPodOfThatQueue) {
  World w = red_team_world();
  add_intruder(w);
  for (int round = 0; round < 3; ++round) {
    const PlanResult result = w.pass();
    EXPECT_THAT(result.plans, IsEmpty());
    EXPECT_THAT(w.memory.nominations(), IsEmpty());
    EXPECT_FALSE(w.memory.nominated("blue/g"));
    const CycleResult cycle = w.cycle();
    EXPECT_THAT(cycle.bindings, IsEmpty());
    const PendingJob* intruder = pending_job(cycle, "blue/g");
    ASSERT_NE(intruder, nullptr);
    EXPECT_EQ(intruder->reason, PendingReason::kQueueNotAllowed);
    EXPECT_THAT(intruder->message, HasSubstr("namespace \"blue\" may not use queue \"red-q\""));
    w.clock.now += 10 * 60 * 1000;
  }
  EXPECT_EQ(w.running_in("red-q"), 4);
  EXPECT_TRUE(w.evictions.empty());
}

TEST(PlannerQueueAccess, AGangInAQueueItsNamespaceMayNotUseReclaimsNothing) {
  // red-q is empty and below its fair share, green-q above its own: reclaim would take from
  // green-q for a red-q job, but this one's namespace may not use red-q.
  World w;
  w.state.upsert_node(gpu_node("n1", 4));
  QueueSpec red = queue("red-q", "", 2);
  red.namespace_selector.emplace().match_labels["tenant"] = "red";
  w.state.upsert_queue(red);
  w.state.upsert_queue(queue("green-q", "", 2));
  w.state.upsert_queue(queue("blue-q", "", 0));
  w.state.upsert_namespace({"blue", {{"tenant", "blue"}}});
  w.state.upsert_namespace({"green", {{"tenant", "green"}}});
  for (int i = 0; i < 4; ++i) {
    w.add(running(
        pod("green", "g" + std::to_string(i), "green-q", {{"nvidia.com/gpu", "1"}}, kNow - kHour),
        "n1"));
  }
  add_intruder(w, 0);
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_THAT(w.memory.nominations(), IsEmpty());
  EXPECT_EQ(w.running_in("green-q"), 4);
}

TEST(PlannerQueueAccess, RoomNominatedBeforeTheNamespaceLostAccessIsGivenBack) {
  World w = red_team_world();
  w.state.upsert_namespace({"team", {{"tenant", "red"}}});
  w.add(with_priority(pod("team", "high", "red-q", {{"nvidia.com/gpu", "1"}}, kNow), 1'000));
  ASSERT_THAT(w.pass().plans, SizeIs(1));
  ASSERT_TRUE(w.memory.nominated("team/high"));
  // The admin takes red-q away from namespace team before the preemptor placed.
  w.state.upsert_namespace({"team", {{"tenant", "blue"}}});
  // The cycle holds nothing for it even with the old nominations...
  const CycleResult cycle = w.cycle();
  EXPECT_EQ(pending_job(cycle, "team/high")->reason, PendingReason::kQueueNotAllowed);
  EXPECT_EQ(w.running_in("red-q"), 4);  // the evicted red pod came back to its GPU
  // ...and the next pass drops them and evicts nothing more.
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_FALSE(w.memory.nominated("team/high"));
  EXPECT_THAT(w.memory.nominations(), IsEmpty());
}

TEST(PlannerQueueAccess, AJobOfANonLeafQueueEvictsNothing) {
  World w;
  w.state.upsert_node(gpu_node("n1", 4));
  w.state.upsert_queue(queue("org", "", 4));
  w.state.upsert_queue(queue("team", "org", 4));
  w.add(running(
      with_priority(pod("ns", "low", "team", {{"nvidia.com/gpu", "4"}}, kNow - kHour), 10), "n1"));
  w.add(with_priority(pod("ns", "high", "org", {{"nvidia.com/gpu", "4"}}, kNow), 1'000));
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_THAT(w.memory.nominations(), IsEmpty());
  EXPECT_EQ(pending_job(w.cycle(), "ns/high")->reason, PendingReason::kQueueInvalid);
  EXPECT_EQ(w.running_in("team"), 1);
}

TEST(PlannerQueueAccess, AGangWithAnInvalidPodAnnotationEvictsNothing) {
  // minMember 1: the planner needs only the first pod, but the cycle refuses the whole gang
  // (InvalidPod) for its second pod's annotation, so nothing may be evicted for it.
  World w;
  w.state.upsert_node(gpu_node("n1", 4));
  w.state.upsert_queue(queue("q", "", 4));
  w.add(running(with_priority(pod("ns", "low", "q", {{"nvidia.com/gpu", "4"}}, kNow - kHour), 10),
                "n1"));
  w.add(with_priority(gang_pod("ns", "g-0", "q", "g", 1, {{"nvidia.com/gpu", "4"}}, kNow), 1'000));
  Pod bad =
      with_priority(gang_pod("ns", "g-1", "q", "g", 1, {{"nvidia.com/gpu", "4"}}, kNow), 1'000);
  bad.annotations["fairway.dev/gpu-fraction"] = "1.5";
  w.add(bad);
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_THAT(w.memory.nominations(), IsEmpty());
  const PendingJob* job = pending_job(w.cycle(), "ns/g");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->reason, PendingReason::kInvalidPod);
  EXPECT_EQ(w.running_in("q"), 1);
}

TEST(PlannerQueueAccess, AGangWhosePodGroupCouldNotBeReadEvictsNothing) {
  World w;
  w.state.upsert_node(gpu_node("n1", 4));
  w.state.upsert_queue(queue("q", "", 4));
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.problems.push_back("spec.minMember: -2 must be >= 0");
  w.state.upsert_pod_group(group);
  w.add(running(with_priority(pod("ns", "low", "q", {{"nvidia.com/gpu", "4"}}, kNow - kHour), 10),
                "n1"));
  w.add(with_priority(gang_pod("ns", "g-0", "q", "g", 1, {{"nvidia.com/gpu", "4"}}, kNow), 1'000));
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_EQ(pending_job(w.cycle(), "ns/g")->reason, PendingReason::kInvalidPod);
  EXPECT_EQ(w.running_in("q"), 1);
}

TEST(PlannerQueueAccess, GatedPodsAreNoReasonToEvict) {
  World w;
  w.state.upsert_node(gpu_node("n1", 4));
  w.state.upsert_queue(queue("q", "", 4));
  w.add(running(with_priority(pod("ns", "low", "q", {{"nvidia.com/gpu", "4"}}, kNow - kHour), 10),
                "n1"));
  Pod gated = with_priority(pod("ns", "high", "q", {{"nvidia.com/gpu", "4"}}, kNow), 1'000);
  gated.scheduling_gates.push_back("example.com/wait");
  w.add(gated);
  EXPECT_THAT(w.pass().plans, IsEmpty());
  EXPECT_EQ(w.running_in("q"), 1);
}

TEST(CoolDown, AnEvictedJobCannotEvictItsEvictorBack) {
  World w;
  w.options.cool_down_ms = 10 * 60 * 1000;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(with_priority(pod("ns", "a", "", {{"nvidia.com/gpu", "8"}}), 10), "n1"));
  w.add(with_priority(pod("ns", "b", "", {{"nvidia.com/gpu", "8"}}), 50));
  ASSERT_THAT(w.pass().plans, SizeIs(1));  // b evicts a
  w.cycle();
  // a's priority is raised (a new PriorityClass, an edited pod): it would now outrank b.
  Pod a = w.original("ns/a");
  a.node_name.clear();
  a.phase = PodPhase::kPending;
  a.priority = 100;
  w.add(a);
  EXPECT_THAT(w.pass().plans, IsEmpty());
  w.clock.now += 11 * 60 * 1000;  // after the cool-down the rules apply again
  const PlanResult later = w.pass();
  ASSERT_THAT(later.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(later.plans[0]), ElementsAre("ns/b"));
}

TEST(Disruption, ARefusedEvictionMakesTheNextPassTryAnotherPlan) {
  World w;
  w.state.upsert_node(gpu_node("n1", 1));
  w.state.upsert_node(gpu_node("n2", 1));
  w.add(running(pod("ns", "guarded", "", {{"nvidia.com/gpu", "1"}}, kNow - kHour), "n1"));
  w.add(running(pod("ns", "other", "", {{"nvidia.com/gpu", "1"}}, kNow - 2 * kHour), "n2"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "1"}}), 100));
  PlanResult first = plan_preemptions(w.state, w.memory, w.options, w.clock.fn());
  ASSERT_THAT(first.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(first.plans[0]), ElementsAre("ns/guarded"));  // least run time lost
  // The API answers 429 (PodDisruptionBudget): the caller reports it, the next pass moves on.
  w.memory.record(first.plans[0], w.clock.now, w.options);
  w.memory.blocked("ns/high", "ns/guarded", w.clock.now, 60'000);
  EXPECT_FALSE(w.memory.nominated("ns/high"));
  const PlanResult second = plan_preemptions(w.state, w.memory, w.options, w.clock.fn());
  ASSERT_THAT(second.plans, SizeIs(1));
  EXPECT_THAT(victim_pods(second.plans[0]), ElementsAre("ns/other"));
}

TEST(Bounds, TheSearchStopsAtTheTimeBudget) {
  World w;
  w.options.time_budget_ms = 0;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), "n1"));
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "8"}}), 100));
  TimeMs t = kNow;
  const PlanResult result = plan_preemptions(w.state, w.memory, w.options, [&t] { return t += 1; });
  EXPECT_THAT(result.plans, IsEmpty());
  EXPECT_TRUE(result.stats.out_of_time);
}

TEST(Bounds, TheVictimLimitHolds) {
  World w;
  w.options.max_victims = 3;
  w.state.upsert_node(gpu_node("n1", 8));
  for (int i = 0; i < 8; ++i) {
    w.add(running(pod("ns", "p-" + std::to_string(i), "", {{"nvidia.com/gpu", "1"}}), "n1"));
  }
  w.add(with_priority(pod("ns", "high", "", {{"nvidia.com/gpu", "4"}}), 100));
  EXPECT_THAT(w.pass().plans, IsEmpty());
  w.options.max_victims = 4;
  ASSERT_THAT(w.pass().plans, SizeIs(1));
}

TEST(Bounds, JobsWithoutAPlanRestSoOthersGetTheBudget) {
  World w;
  w.state.upsert_node(gpu_node("n1", 8));
  w.add(running(pod("ns", "low", "", {{"nvidia.com/gpu", "8"}}), "n1"));
  w.add(with_priority(pod("ns", "huge", "", {{"nvidia.com/gpu", "16"}}), 100));
  const PlanResult first = w.pass();
  EXPECT_THAT(first.plans, IsEmpty());
  ASSERT_THAT(first.without_plan, ElementsAre("ns/huge"));
  w.memory.no_plan("ns/huge", w.clock.now + 30'000);
  const PlanResult resting = w.pass();
  EXPECT_EQ(resting.stats.preemptors_considered, 0u);
  w.clock.now += 30'000;
  EXPECT_EQ(w.pass().stats.preemptors_considered, 1u);
}

// The plans do not depend on the order the watches delivered queues, nodes and pods in.
TEST(Planner, IndependentOfTheOrderObjectsArrive) {
  auto plan_in_order = [](unsigned seed) {
    World reference;
    two_queues(reference, 8, 8);
    std::vector<Pod> pods;
    for (const auto& [key, p] : reference.created) pods.push_back(p);
    std::vector<int> steps(2 + 2 + pods.size());  // queues, nodes, pods
    std::iota(steps.begin(), steps.end(), 0);
    std::shuffle(steps.begin(), steps.end(), std::mt19937(seed));
    World w;
    for (int step : steps) {
      if (step < 2)
        w.state.upsert_queue(queue(step == 0 ? "a" : "b", "", 4));
      else if (step < 4)
        w.state.upsert_node(gpu_node(step == 2 ? "n1" : "n2", 4));
      else
        w.add(pods[static_cast<size_t>(step - 4)]);
    }
    std::vector<std::string> out;
    for (const PreemptionPlan& plan : w.pass().plans) {
      out.push_back(plan.message + " victims " + ::testing::PrintToString(victim_pods(plan)));
    }
    return out;
  };
  const std::vector<std::string> reference = plan_in_order(1);
  ASSERT_THAT(reference, SizeIs(4));  // the four reclaims of RestoresEachQueueToItsFairShare
  for (unsigned seed = 2; seed <= 20; ++seed) EXPECT_EQ(plan_in_order(seed), reference) << seed;
}

}  // namespace
}  // namespace fairway
