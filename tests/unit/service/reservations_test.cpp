// What the reservation manager writes: the reservation pod and the sharer's ConfigMap.

#include "scheduler/service/reservations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fairway {
namespace {

using nlohmann::json;

TEST(Reservations, ReservationPodHoldsOneGpuOnItsNode) {
  ReservationOptions options;
  options.runtime_class = "nvidia";
  Toleration toleration;
  toleration.key = "dedicated";
  toleration.value = "infer";
  toleration.effect = TaintEffect::kNoSchedule;
  Toleration any;
  any.op = Toleration::Operator::kExists;
  const json pod =
      json::parse(reservation_pod_body(options, "gpu-0-gpu1", "gpu-0", {toleration, any}));
  EXPECT_EQ(pod["metadata"]["name"], "gpu-0-gpu1");
  EXPECT_EQ(pod["metadata"]["namespace"], "fairway-reservation");
  EXPECT_EQ(pod["metadata"]["labels"]["fairway.dev/gpu-group"], "gpu-0-gpu1");
  EXPECT_EQ(pod["spec"]["nodeName"], "gpu-0");
  EXPECT_EQ(pod["spec"]["priorityClassName"], "fairway-reservation");
  EXPECT_EQ(pod["spec"]["runtimeClassName"], "nvidia");
  EXPECT_EQ(pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(pod["spec"]["containers"][0]["args"][0], "reservation-agent");
  EXPECT_EQ(pod["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.name");
  ASSERT_EQ(pod["spec"]["tolerations"].size(), 2U);
  EXPECT_EQ(pod["spec"]["tolerations"][0], json({{"key", "dedicated"},
                                                 {"operator", "Equal"},
                                                 {"value", "infer"},
                                                 {"effect", "NoSchedule"}}));
  EXPECT_EQ(pod["spec"]["tolerations"][1], json({{"operator", "Exists"}}));
}

TEST(Reservations, ReservationPodsMeetTheRestrictedPodSecurityStandard) {
  const json pod = json::parse(reservation_pod_body({}, "g", "n", {}));
  const json& spec = pod["spec"];
  EXPECT_EQ(spec["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  const json& container = spec["containers"][0];
  EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(container["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
  EXPECT_EQ(container["resources"]["requests"], container["resources"]["limits"]);
  // A pinned image, never a moving tag.
  EXPECT_THAT(container["image"].get<std::string>(),
              ::testing::Not(::testing::EndsWith(":latest")));
}

TEST(Reservations, NoRuntimeClassWhenNoneIsConfigured) {
  const json pod = json::parse(reservation_pod_body({}, "g", "n", {}));
  EXPECT_FALSE(pod["spec"].contains("runtimeClassName"));
}

TEST(Reservations, ConfigMapPointsTheSharerAtItsGpus) {
  Binding binding;
  binding.pod = "team/infer-0";
  binding.uid = "u-1";
  binding.node = "gpu-0";
  binding.shares = {{"gpu-0-gpu0", 0, false}, {"gpu-0-gpu1", 1, true}};
  binding.gpu_fraction = 0.25;
  binding.gpu_memory_mib = 4096;
  binding.gpu_configmap = "infer-0-fairway-gpu";
  const json configmap = json::parse(sharer_configmap_body(binding, {"GPU-a", "GPU-b"}));
  EXPECT_EQ(configmap["metadata"]["name"], "infer-0-fairway-gpu");
  EXPECT_EQ(configmap["metadata"]["namespace"], "team");
  EXPECT_EQ(configmap["metadata"]["ownerReferences"][0]["uid"], "u-1");
  EXPECT_EQ(configmap["data"]["NVIDIA_VISIBLE_DEVICES"], "GPU-a,GPU-b");
  EXPECT_EQ(configmap["data"]["GPU_FRACTION"], "0.25");
  EXPECT_EQ(configmap["data"]["GPU_MEMORY_MIB"], "4096");
}

}  // namespace
}  // namespace fairway
