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
  auto denials = tenant_pod_denials(pod, context);
  ASSERT_EQ(denials.size(), 1U);
  EXPECT_THAT(denials[0], HasSubstr("may not use queue \"restricted\""));
  context.namespace_labels = &red;
  EXPECT_THAT(tenant_pod_denials(pod, context), IsEmpty());
  // The queue may also come from an annotation (Volcano's key): same rule.
  Pod annotated = testing::pod("blue-ns", "q", "", {{"nvidia.com/gpu", "1"}});
  annotated.annotations["scheduling.volcano.sh/queue-name"] = "restricted";
  context.namespace_labels = &blue;
  EXPECT_EQ(tenant_pod_denials(annotated, context).size(), 1U);
}

TEST(TenantPodDenials, FairwayAssignedKeysAreRejectedOutsideTheReservationNamespace) {
  AdmissionContext context;
  Pod pod = testing::pod("team", "p", "", {{"cpu", "1"}});
  pod.labels["fairway.dev/gpu-group"] = "someone-elses-gpu";
  pod.annotations["fairway.dev/gpu-uuid"] = "GPU-123";
  EXPECT_THAT(
      tenant_pod_denials(pod, context),
      ElementsAre("label fairway.dev/gpu-group is assigned by fairway and may not be set",
                  "annotation fairway.dev/gpu-uuid is assigned by fairway and may not be set"));
  pod.namespace_ = "fairway-reservation";
  EXPECT_THAT(tenant_pod_denials(pod, context), IsEmpty());
}

}  // namespace
}  // namespace fairway
