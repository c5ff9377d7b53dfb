#include "scheduler/state/admission_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/state/cluster_state.h"
#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Blue's namespace may not use red-q; the queue comes from wherever ClusterState::queue_of finds
// it (pod_queue_test.cpp covers each source), and the denial says where.
class QueueDenials : public ::testing::Test {
 protected:
  QueueDenials() {
    for (const WorkloadKind& kind : known_workload_kinds()) {
      state_.set_workload_kind_watched(kind.group, kind.kind);
    }
    QueueSpec red_q = testing::queue("red-q", "", 8);
    red_q.namespace_selector.emplace().match_labels["tenant"] = "red";
    state_.upsert_queue(red_q);
    state_.upsert_queue(testing::queue("default", "", 8));
    state_.upsert_namespace({"blue", {{"tenant", "blue"}}});
  }

  std::vector<std::string> denials(const Pod& pod, const Pod* old_pod = nullptr) {
    const PodQueue queue = state_.queue_of(pod);
    std::optional<PodQueue> old_queue;
    if (old_pod != nullptr) old_queue = state_.queue_of(*old_pod);
    AdmissionContext context;
    context.queues = &state_.queue_specs();
    context.namespace_labels = state_.namespace_labels(pod.namespace_);
    context.queue = &queue;
    context.old_queue = old_queue ? &*old_queue : nullptr;
    return tenant_pod_denials(pod, old_pod, context);
  }

  ClusterState state_;
};

TEST_F(QueueDenials, ThePodsOwnLabelOrAnnotation) {
  Pod pod = testing::pod("blue", "p", "red-q", {{"nvidia.com/gpu", "1"}});
  EXPECT_THAT(denials(pod),
              ElementsAre(HasSubstr("queue \"red-q\" of label fairway.dev/queue: "
                                    "namespace \"blue\" may not use queue \"red-q\"")));
  // An unlabelled pod naming the queue in an annotation (Volcano's key): same rule.
  Pod annotated = testing::pod("blue", "q", "", {{"nvidia.com/gpu", "1"}});
  annotated.annotations["scheduling.volcano.sh/queue-name"] = "red-q";
  EXPECT_THAT(denials(annotated),
              ElementsAre(HasSubstr("of annotation scheduling.volcano.sh/queue-name: ")));
  EXPECT_THAT(denials(testing::pod("blue", "r", "default", {{"nvidia.com/gpu", "1"}})), IsEmpty());
  state_.upsert_namespace({"blue", {{"tenant", "red"}}});
  EXPECT_THAT(denials(pod), IsEmpty());
}

// The escape: a pod of blue with no queue key, created by a Job labelled with red's queue.
TEST_F(QueueDenials, TheControllerOwnersLabel) {
  Workload job;
  job.api_version = "batch/v1";
  job.kind = "Job";
  job.namespace_ = "blue";
  job.name = "train";
  job.uid = "uid-train";
  job.labels["fairway.dev/queue"] = "red-q";
  state_.upsert_workload(job);
  Pod pod = testing::pod("blue", "train-0", "", {{"nvidia.com/gpu", "1"}});
  EXPECT_THAT(denials(pod), IsEmpty());  // no owner: the default queue
  pod.owner = {job.api_version, job.kind, job.name, job.uid};
  EXPECT_THAT(denials(pod), ElementsAre(HasSubstr("queue \"red-q\" of Job blue/train: namespace "
                                                  "\"blue\" may not use queue \"red-q\"")));
}

TEST_F(QueueDenials, TheNamespacesLabel) {
  state_.upsert_namespace({"blue", {{"tenant", "blue"}, {"fairway.dev/queue", "red-q"}}});
  EXPECT_THAT(denials(testing::pod("blue", "p", "", {{"nvidia.com/gpu", "1"}})),
              ElementsAre(HasSubstr("of namespace blue (label fairway.dev/queue): ")));
}

// An UPDATE is judged on the queue only when it changes the queue the pod uses: a controller
// removing a finalizer from a pod whose queue became forbidden is not refused (the cycle keeps
// the pod pending with QueueNotAllowed), a relabelling into red-q is.
TEST_F(QueueDenials, AnUpdateIsJudgedWhenItChangesTheQueue) {
  const Pod stored = testing::pod("blue", "p", "red-q", {{"nvidia.com/gpu", "1"}});
  Pod finalized = stored;  // the model keeps no finalizers: an annotation stands for the edit
  finalized.annotations["batch.kubernetes.io/job-completion-index"] = "0";
  EXPECT_THAT(denials(finalized, &stored), IsEmpty());
  const Pod allowed = testing::pod("blue", "p", "default", {{"nvidia.com/gpu", "1"}});
  EXPECT_THAT(denials(stored, &allowed), ElementsAre(HasSubstr("may not use queue \"red-q\"")));
}

TEST(TenantPodDenials, FairwayAssignedKeysAreRejectedOutsideTheReservationNamespace) {
  AdmissionContext context;
  Pod pod = testing::pod("team", "p", "", {{"cpu", "1"}});
  pod.labels["fairway.dev/gpu-group"] = "someone-elses-gpu";
  pod.annotations["fairway.dev/gpu-uuid"] = "GPU-123";
  EXPECT_THAT(
      tenant_pod_denials(pod, nullptr, context),
      ElementsAre("label fairway.dev/gpu-group is assigned by fairway and may not be set",
                  "annotation fairway.dev/gpu-uuid is assigned by fairway and may not be set"));
  pod.namespace_ = "fairway-reservation";
  EXPECT_THAT(tenant_pod_denials(pod, nullptr, context), IsEmpty());
}

TEST(TenantPodDenials, EveryFairwayAssignedKeyIsRefusedOnCreateAndFrozenOnUpdate) {
  AdmissionContext context;
  Pod pod = testing::pod("team", "p", "", {{"cpu", "1"}});
  pod.annotations["fairway.dev/gpu-groups"] = "node-0-gpu0,node-0-gpu1";
  pod.annotations["fairway.dev/gpu-configmap"] = "team-settings";
  EXPECT_THAT(
      tenant_pod_denials(pod, nullptr, context),
      ElementsAre(
          "annotation fairway.dev/gpu-groups is assigned by fairway and may not be set",
          "annotation fairway.dev/gpu-configmap is assigned by fairway and may not be set"));
  // On update: what fairway wrote stays as it is; removing it counts as a change.
  Pod stored = pod;
  EXPECT_THAT(tenant_pod_denials(pod, &stored, context), IsEmpty());
  pod.annotations.erase(std::string("fairway.dev/gpu-groups"));
  pod.labels["fairway.dev/gpu-group"] = "node-0-gpu3";
  EXPECT_THAT(
      tenant_pod_denials(pod, &stored, context),
      ElementsAre(
          "label fairway.dev/gpu-group is assigned by fairway and may not be changed",
          "annotation fairway.dev/gpu-groups is assigned by fairway and may not be changed"));
}

TEST_F(QueueDenials, AGangUsesItsPodGroupsQueue) {
  // The escape: a blue pod joins a PodGroup whose spec.queue is red's. Its own label is fine;
  // the queue it would really use is not.
  PodGroup group;
  group.namespace_ = "blue";
  group.name = "intruder";
  group.min_member = 1;
  group.queue = "red-q";
  Pod pod = testing::pod("blue", "p", "default", {{"nvidia.com/gpu", "1"}});
  pod.annotations["fairway.dev/pod-group"] = "intruder";
  EXPECT_THAT(denials(pod), IsEmpty());  // the PodGroup is not known yet
  state_.upsert_pod_group(group);
  EXPECT_THAT(denials(pod), ElementsAre(HasSubstr("queue \"red-q\" of PodGroup blue/intruder: "
                                                  "namespace \"blue\" may not use queue")));
  // The PodGroup itself is refused too; a PodGroup naming no queue is not judged.
  AdmissionContext context;
  context.queues = &state_.queue_specs();
  context.namespace_labels = state_.namespace_labels("blue");
  EXPECT_EQ(tenant_pod_group_denials(group, context).size(), 1U);
  group.queue.clear();
  EXPECT_THAT(tenant_pod_group_denials(group, context), IsEmpty());
}

}  // namespace
}  // namespace fairway
