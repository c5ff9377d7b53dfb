// What the reservation manager writes: the reservation pod and the sharer's ConfigMap.

#include "scheduler/service/reservations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "k8s-client/objects.h"
#include "scheduler/state/pod_requests.h"

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
  EXPECT_EQ(pod["spec"]["initContainers"][0]["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
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
  ASSERT_EQ(spec["initContainers"].size(), 1U);
  ASSERT_EQ(spec["containers"].size(), 1U);
  for (const json& container : {spec["initContainers"][0], spec["containers"][0]}) {
    SCOPED_TRACE(container["name"].get<std::string>());
    EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
    EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
    EXPECT_EQ(container["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
    // The GPU alone, requested as limited: no CPU or memory asked of a full node.
    EXPECT_EQ(container["resources"]["requests"], container["resources"]["limits"]);
    EXPECT_EQ(container["resources"]["limits"], json({{"nvidia.com/gpu", "1"}}));
    // A pinned image, never a moving tag.
    EXPECT_THAT(container["image"].get<std::string>(),
                ::testing::Not(::testing::EndsWith(":latest")));
  }
}

// No running container keeps a token after the one PATCH: the kubelet mounts none by default,
// the init container that reports the UUID mounts a projected one, the app container none.
TEST(Reservations, OnlyTheReportingInitContainerHasAToken) {
  const json pod = json::parse(reservation_pod_body({}, "g", "n", {}));
  const json& spec = pod["spec"];
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  EXPECT_EQ(spec["serviceAccountName"], "fairway-reservation");
  ASSERT_EQ(spec["volumes"].size(), 1U);
  const json& volume = spec["volumes"][0];
  const json& sources = volume["projected"]["sources"];
  ASSERT_EQ(sources.size(), 3U);
  EXPECT_EQ(sources[0]["serviceAccountToken"]["path"], "token");
  EXPECT_EQ(sources[0]["serviceAccountToken"]["expirationSeconds"], 600);
  EXPECT_EQ(sources[1]["configMap"]["name"], "kube-root-ca.crt");
  EXPECT_EQ(sources[1]["configMap"]["items"][0]["path"], "ca.crt");
  EXPECT_EQ(sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"], "metadata.namespace");

  const json& report = spec["initContainers"][0];
  EXPECT_EQ(report["name"], "report");
  EXPECT_EQ(report["args"], json::array({"reservation-agent", "--once"}));
  ASSERT_EQ(report["volumeMounts"].size(), 1U);
  EXPECT_EQ(report["volumeMounts"][0]["name"], volume["name"]);
  EXPECT_EQ(report["volumeMounts"][0]["mountPath"],
            "/var/run/secrets/kubernetes.io/serviceaccount");
  EXPECT_EQ(report["volumeMounts"][0]["readOnly"], true);
  EXPECT_FALSE(report.contains("restartPolicy"));  // a sidecar would keep its token running

  const json& hold = spec["containers"][0];
  EXPECT_EQ(hold["name"], "hold");
  EXPECT_EQ(hold["args"], json::array({"reservation-agent", "hold"}));
  EXPECT_FALSE(hold.contains("volumeMounts"));
  EXPECT_FALSE(hold.contains("env"));  // no pod identity to act on either
}

// Init containers count as max(init, sum(app)) (kube-scheduler's rule): the reporting init
// container and the holding app container ask for the same GPU, so fairway's state (the pod
// decoded as from a watch) charges it one GPU and nothing else.
TEST(Reservations, AReservationPodIsChargedOneGpuAndNothingElse) {
  const std::string body = reservation_pod_body({}, "g", "n", {});
  const auto decoded = k8s::decode_pod(body);
  ASSERT_TRUE(decoded) << decoded.error();
  ASSERT_EQ(decoded->object.init_containers.size(), 1U);
  EXPECT_EQ(pod_requests(decoded->object), ResourceList({{"nvidia.com/gpu", 1000}}));
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
