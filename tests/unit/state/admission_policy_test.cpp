#include "scheduler/state/admission_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(TenantPodDenials, QueueNotAllowedForTheNamespace) {
  std::unordered_map<std::string, QueueSpec> queues;
  QueueSpec restricted = testing::queue("restricted", "", 8);
  restricted.namespace_selector.emplace().match_labels["tenant"] = "red";
  queues["restricted"] = restricted;
  const Labels blue{{"tenant", "blue"}};
  const Labels red{{"tenant", "red"}};
  AdmissionContext context;
  context.queues = &queues;
  context.namespace_labels = &blue;
  Pod pod = testing::pod("blue-ns", "p", "restricted", {{"nvidia.com/gpu", "1"}});
  auto denials = tenant_pod_denials(pod, nullptr, context);
  ASSERT_EQ(denials.size(), 1U);
  EXPECT_THAT(denials[0], HasSubstr("may not use queue \"restricted\""));
  context.namespace_labels = &red;
  EXPECT_THAT(tenant_pod_denials(pod, nullptr, context), IsEmpty());
  // The queue may also come from an annotation (Volcano's key): same rule.
  Pod annotated = testing::pod("blue-ns", "q", "", {{"nvidia.com/gpu", "1"}});
  annotated.annotations["scheduling.volcano.sh/queue-name"] = "restricted";
  context.namespace_labels = &blue;
  EXPECT_EQ(tenant_pod_denials(annotated, nullptr, context).size(), 1U);
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

TEST(TenantPodDenials, AGangUsesItsPodGroupsQueue) {
  // The escape: a blue pod joins a PodGroup whose spec.queue is red's. Its own label is fine;
  // the queue it would really use is not.
  std::unordered_map<std::string, QueueSpec> queues;
  QueueSpec red_q = testing::queue("red-q", "", 8);
  red_q.namespace_selector.emplace().match_labels["tenant"] = "red";
  queues["red-q"] = red_q;
  queues["default"] = testing::queue("default", "", 8);
  const Labels blue{{"tenant", "blue"}};
  PodGroup group;
  group.namespace_ = "blue";
  group.name = "intruder";
  group.queue = "red-q";
  AdmissionContext context;
  context.queues = &queues;
  context.namespace_labels = &blue;
  Pod pod = testing::pod("blue", "p", "default", {{"nvidia.com/gpu", "1"}});
  pod.annotations["fairway.dev/pod-group"] = "intruder";
  EXPECT_THAT(tenant_pod_denials(pod, nullptr, context), IsEmpty());
  context.pod_group = &group;
  const auto denials = tenant_pod_denials(pod, nullptr, context);
  ASSERT_EQ(denials.size(), 1U);
  EXPECT_THAT(denials[0], HasSubstr("PodGroup intruder: "));
  EXPECT_THAT(denials[0], HasSubstr("may not use queue \"red-q\""));
  // The PodGroup itself is refused too; a PodGroup naming no queue is not judged.
  EXPECT_EQ(tenant_pod_group_denials(group, context).size(), 1U);
  group.queue.clear();
  EXPECT_THAT(tenant_pod_group_denials(group, context), IsEmpty());
}

}  // namespace
}  // namespace fairway
