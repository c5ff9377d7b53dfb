// Cluster state indexes: every event keeps node usage, queue totals and pending jobs exact.
#include "scheduler/state/cluster_state.h"

#include <gtest/gtest.h>

#include "support/builders.h"

namespace fairway {
namespace {

using testing::gang_pod;
using testing::gpu_node;
using testing::pod;

int64_t gpus(const ResourceVector& v) {
  return v[kGpu] / 1000;
}

Pod bound(Pod p, std::string node, PodPhase phase = PodPhase::kRunning) {
  p.node_name = std::move(node);
  p.phase = phase;
  return p;
}

TEST(ClusterState, CapacityFollowsReadyNodes) {
  ClusterState state;
  state.upsert_node(gpu_node("a", 8));
  state.upsert_node(gpu_node("b", 4));
  EXPECT_EQ(gpus(state.capacity()), 12);
  Node not_ready = gpu_node("b", 4);
  not_ready.ready = false;
  state.upsert_node(not_ready);
  EXPECT_EQ(gpus(state.capacity()), 8);
  state.remove_node("a");
  EXPECT_EQ(gpus(state.capacity()), 0);
}

// Issue 17: a cordoned node takes no new pods, so fair shares must not divide its capacity.
TEST(ClusterState, CordonedNodesLeaveTheCapacityUntilUncordoned) {
  ClusterState state;
  state.upsert_node(gpu_node("a", 8));
  state.upsert_node(gpu_node("b", 4));
  Node cordoned = gpu_node("b", 4);
  cordoned.unschedulable = true;
  state.upsert_node(cordoned);
  EXPECT_EQ(gpus(state.capacity()), 8);
  state.upsert_node(gpu_node("b", 4));  // uncordoned
  EXPECT_EQ(gpus(state.capacity()), 12);
  state.upsert_node(cordoned);
  state.remove_node("b");  // removing a cordoned node takes nothing off twice
  EXPECT_EQ(gpus(state.capacity()), 8);
}

// Issue 17: the pods' informer can deliver pods before their PriorityClass; once the class
// arrives, pods that name it (and admission left at priority 0) get its value, and so do gangs
// whose PodGroup names it.
TEST(ClusterState, PriorityClassArrivingAfterItsPodsSetsTheirPriority) {
  ClusterState state;
  Pod p = pod("ns", "p", "", {{"cpu", "1"}});
  p.priority_class_name = "high";
  state.upsert_pod(p);
  Pod admitted = pod("ns", "admitted", "", {{"cpu", "1"}});
  admitted.priority_class_name = "high";
  admitted.priority = 7;  // set by admission: kept
  state.upsert_pod(admitted);
  EXPECT_EQ(state.find_pod("ns/p")->pod.priority, 0);
  state.upsert_priority_class({"high", 1000, false, ""});
  EXPECT_EQ(state.find_pod("ns/p")->pod.priority, 1000);
  EXPECT_EQ(state.find_pod("ns/admitted")->pod.priority, 7);
  state.upsert_priority_class({"high", 2000, false, ""});
  EXPECT_EQ(state.find_pod("ns/p")->pod.priority, 2000);
  state.upsert_pod(p);  // a later update of the pod resolves the known class again
  EXPECT_EQ(state.find_pod("ns/p")->pod.priority, 2000);

  // A PodGroup's class, arriving after the group: the gang's priority, over its pods'.
  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.min_member = 1;
  group.priority_class_name = "urgent";
  state.upsert_pod_group(group);
  state.upsert_pod(gang_pod("ns", "g-0", "", "g", 1, {{"cpu", "1"}}));
  const PodRecord& member = *state.find_pod("ns/g-0");
  EXPECT_EQ(state.priority_of(member), 0);
  state.upsert_priority_class({"urgent", 5000, false, ""});
  EXPECT_EQ(state.priority_of(*state.find_pod("ns/g-0")), 5000);
  state.remove_priority_class("urgent");
  EXPECT_EQ(state.priority_of(*state.find_pod("ns/g-0")), 0);
}

TEST(ClusterState, PodLifecycleMovesRequestsBetweenPendingAndAllocated) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 8));
  Pod p = pod("ns", "p", "team", {{"nvidia.com/gpu", "2"}});
  state.upsert_pod(p);
  EXPECT_EQ(gpus(state.queue_usage().at("team").pending), 2);
  EXPECT_EQ(state.pending_jobs().at("team").size(), 1U);

  state.upsert_pod(bound(p, "n"));
  EXPECT_EQ(gpus(state.queue_usage().at("team").pending), 0);
  EXPECT_EQ(gpus(state.queue_usage().at("team").allocated), 2);
  EXPECT_EQ(gpus(state.find_node("n")->used), 2);
  EXPECT_EQ(state.pending_jobs().count("team"), 0U);

  state.upsert_pod(bound(p, "n", PodPhase::kSucceeded));  // finished pods free their node
  EXPECT_EQ(gpus(state.queue_usage().at("team").allocated), 0);
  EXPECT_EQ(gpus(state.find_node("n")->used), 0);

  state.remove_pod("ns/p");
  EXPECT_EQ(state.find_pod("ns/p"), nullptr);
  EXPECT_EQ(state.pod_count(), 0U);
}

TEST(ClusterState, OtherSchedulersPodsUseNodesButNoQueue) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 8));
  Pod foreign = pod("ns", "other", "team", {{"nvidia.com/gpu", "3"}});
  foreign.scheduler_name = "default-scheduler";
  state.upsert_pod(bound(foreign, "n"));
  EXPECT_EQ(gpus(state.find_node("n")->used), 3);
  EXPECT_EQ(state.queue_usage().count("team"), 0U);
  Pod waiting = foreign;
  waiting.name = "waiting";
  state.upsert_pod(waiting);
  EXPECT_TRUE(state.pending_jobs().empty());
}

TEST(ClusterState, PodOnUnknownNodeIsCountedWhenTheNodeArrives) {
  ClusterState state;
  state.upsert_pod(bound(pod("ns", "early", "", {{"nvidia.com/gpu", "1"}}), "late"));
  state.upsert_node(gpu_node("late", 8));
  EXPECT_EQ(gpus(state.find_node("late")->used), 1);
}

TEST(ClusterState, AssumedPlacementSurvivesAStaleUpdateAndIsConfirmedLater) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 8));
  const Pod p = pod("ns", "p", "", {{"nvidia.com/gpu", "1"}});
  state.upsert_pod(p);
  ASSERT_TRUE(state.assume("ns/p", "n"));
  EXPECT_FALSE(state.assume("ns/p", "n"));  // already placed
  state.upsert_pod(p);                      // a watch event from before the binding
  EXPECT_TRUE(state.find_pod("ns/p")->assumed);
  EXPECT_EQ(gpus(state.find_node("n")->used), 1);
  state.upsert_pod(bound(p, "n", PodPhase::kPending));  // the API confirms
  EXPECT_FALSE(state.find_pod("ns/p")->assumed);
  EXPECT_EQ(gpus(state.find_node("n")->used), 1);
  state.forget("ns/p");  // confirmed pods are not forgotten
  EXPECT_EQ(gpus(state.find_node("n")->used), 1);
}

TEST(ClusterState, RecreatedPodWithNewUidReplacesTheOld) {
  ClusterState state;
  state.upsert_node(gpu_node("n", 8));
  Pod old_pod = bound(pod("ns", "p", "", {{"nvidia.com/gpu", "4"}}), "n");
  state.upsert_pod(old_pod);
  Pod fresh = pod("ns", "p", "", {{"nvidia.com/gpu", "1"}});
  fresh.uid = "new";
  state.upsert_pod(fresh);
  EXPECT_EQ(gpus(state.find_node("n")->used), 0);
  EXPECT_EQ(state.find_pod("ns/p")->pod.uid, "new");
}

TEST(ClusterState, GangPodsFormOneJobAndPodGroupMovesItsQueue) {
  ClusterState state;
  state.upsert_pod(gang_pod("ns", "g-0", "a", "g", 2, {{"nvidia.com/gpu", "1"}}, 5));
  state.upsert_pod(gang_pod("ns", "g-1", "a", "g", 2, {{"nvidia.com/gpu", "1"}}, 3));
  ASSERT_EQ(state.pending_jobs().at("a").size(), 1U);
  const JobRecord& job = state.jobs()[*state.pending_jobs().at("a").begin()];
  EXPECT_EQ(job.key, "ns/g");
  EXPECT_EQ(job.min_member, 2);
  EXPECT_EQ(job.creation_ms, 3);
  EXPECT_EQ(job.pending.size(), 2U);

  PodGroup group;
  group.namespace_ = "ns";
  group.name = "g";
  group.queue = "b";
  group.min_member = 2;
  state.upsert_pod_group(group);
  EXPECT_EQ(state.pending_jobs().count("a"), 0U);
  EXPECT_EQ(state.pending_jobs().at("b").size(), 1U);
  EXPECT_EQ(gpus(state.queue_usage().at("a").pending), 0);
  EXPECT_EQ(gpus(state.queue_usage().at("b").pending), 2);

  state.remove_pod("ns/g-0");
  state.remove_pod("ns/g-1");
  EXPECT_TRUE(state.pending_jobs().empty());
  EXPECT_EQ(gpus(state.queue_usage().at("b").pending), 0);
}

TEST(ClusterState, QueueTreeIsRebuiltOnlyAfterAQueueChanges) {
  ClusterState state;
  const QueueTree* first = &state.queue_tree();
  EXPECT_TRUE(first->find("default").has_value());  // implicit default
  QueueSpec team;
  team.name = "team";
  state.upsert_queue(team);
  EXPECT_TRUE(state.queue_tree().find("team").has_value());
  state.remove_queue("team");
  EXPECT_FALSE(state.queue_tree().find("team").has_value());
}

TEST(ClusterState, PodRequestsIncludeOnePodSlot) {
  ClusterState state;
  state.upsert_pod(pod("ns", "p", "", {{"cpu", "500m"}}));
  const PodRecord* record = state.find_pod("ns/p");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->requests[kCpu], 500);
  EXPECT_EQ(record->requests[kPods], 1000);
  EXPECT_TRUE(record->pod.containers.empty());  // dropped once requests are known
}

}  // namespace
}  // namespace fairway
