// The queue a pod will really use (pod_queue.h): ClusterState::queue_of, which the admission
// webhook judges, must name the queue the state charges the pod's job to, for every source,
// and say where it comes from.

#include "scheduler/state/pod_queue.h"

#include <gtest/gtest.h>

#include <string>

#include "scheduler/state/cluster_state.h"
#include "support/builders.h"

namespace fairway {
namespace {

Workload job_workload(std::string ns, std::string name) {
  Workload w;
  w.api_version = "batch/v1";
  w.kind = "Job";
  w.namespace_ = std::move(ns);
  w.name = std::move(name);
  w.uid = "uid-job-" + w.name;
  return w;
}

OwnerRef ref(const Workload& w) {
  return {w.api_version, w.kind, w.name, w.uid};
}

class PodQueueTest : public ::testing::Test {
 protected:
  PodQueueTest() {
    for (const WorkloadKind& kind : known_workload_kinds()) {
      state_.set_workload_kind_watched(kind.group, kind.kind);
    }
  }

  // What queue_of says before the pod is stored, checked against the job the state then makes.
  PodQueue queue_of_and_check(const Pod& pod) {
    const PodQueue before = state_.queue_of(pod);
    state_.upsert_pod(pod);
    const PodRecord* record = state_.find_pod(pod.key());
    EXPECT_NE(record, nullptr);
    if (record != nullptr) {
      EXPECT_EQ(state_.jobs()[record->job].queue, before.queue);
    }
    state_.remove_pod(pod.key());
    return before;
  }

  ClusterState state_;
};

TEST_F(PodQueueTest, TheDefaultWhenNothingNamesOne) {
  const PodQueue queue = queue_of_and_check(testing::pod("blue", "p", "", {{"cpu", "1"}}));
  EXPECT_EQ(queue.queue, "default");
  EXPECT_EQ(queue.description, "queue \"default\" (the default)");
}

TEST_F(PodQueueTest, TheNamespaceLabel) {
  state_.upsert_namespace({"blue", {{"fairway.dev/queue", "blue-q"}}});
  const PodQueue queue = queue_of_and_check(testing::pod("blue", "p", "", {{"cpu", "1"}}));
  EXPECT_EQ(queue.queue, "blue-q");
  EXPECT_EQ(queue.description, "queue \"blue-q\" of namespace blue (label fairway.dev/queue)");
}

TEST_F(PodQueueTest, TheOwnersLabelOverTheNamespaces) {
  state_.upsert_namespace({"blue", {{"fairway.dev/queue", "blue-q"}}});
  Workload job = job_workload("blue", "train");
  job.labels["fairway.dev/queue"] = "red-q";
  state_.upsert_workload(job);
  Pod pod = testing::pod("blue", "train-0", "", {{"cpu", "1"}});
  pod.owner = ref(job);
  const PodQueue queue = queue_of_and_check(pod);
  EXPECT_EQ(queue.queue, "red-q");
  EXPECT_EQ(queue.description, "queue \"red-q\" of Job blue/train");
}

TEST_F(PodQueueTest, ThePodsOwnAnnotationOverItsOwners) {
  Workload job = job_workload("blue", "train");
  job.labels["fairway.dev/queue"] = "blue-q";
  state_.upsert_workload(job);
  Pod pod = testing::pod("blue", "train-0", "", {{"cpu", "1"}});
  pod.owner = ref(job);
  pod.annotations["kai.scheduler/queue"] = "red-q";
  const PodQueue queue = queue_of_and_check(pod);
  EXPECT_EQ(queue.queue, "red-q");
  EXPECT_EQ(queue.description, "queue \"red-q\" of annotation kai.scheduler/queue");
  pod.labels["fairway.dev/queue"] = "green-q";  // labels before annotations
  EXPECT_EQ(queue_of_and_check(pod).description, "queue \"green-q\" of label fairway.dev/queue");
}

TEST_F(PodQueueTest, ThePodGroupsQueueOverThePods) {
  PodGroup group;
  group.namespace_ = "blue";
  group.name = "g";
  group.min_member = 1;
  group.queue = "red-q";
  state_.upsert_pod_group(group);
  Pod pod = testing::pod("blue", "p", "blue-q", {{"cpu", "1"}});
  pod.annotations["fairway.dev/pod-group"] = "g";
  const PodQueue queue = queue_of_and_check(pod);
  EXPECT_EQ(queue.queue, "red-q");
  EXPECT_EQ(queue.description, "queue \"red-q\" of PodGroup blue/g");
  // A group naming no queue leaves the pod's own.
  group.queue.clear();
  state_.upsert_pod_group(group);
  EXPECT_EQ(queue_of_and_check(pod).queue, "blue-q");
}

TEST_F(PodQueueTest, AnotherSchedulersPodGroupsQueue) {
  PodGroup group;
  group.namespace_ = "blue";
  group.name = "kai-g";
  group.min_member = 1;
  group.queue = "red-q";
  state_.upsert_peer_group(GangSource::kKai, group);
  Pod pod = testing::pod("blue", "p", "", {{"cpu", "1"}});
  pod.annotations["pod-group-name"] = "kai-g";
  const PodQueue queue = queue_of_and_check(pod);
  EXPECT_EQ(queue.queue, "red-q");
  EXPECT_EQ(queue.description, "queue \"red-q\" of PodGroup blue/kai-g");
}

}  // namespace
}  // namespace fairway
