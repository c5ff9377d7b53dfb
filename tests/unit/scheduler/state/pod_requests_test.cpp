// pod_requests must match k8s.io/component-helpers resource.PodRequests, sidecars included,
// or fairway would bind pods the kubelet then rejects (or leave room unused).

#include "scheduler/state/pod_requests.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "queues/quantity.h"

namespace fairway {
namespace {

ResourceList rl(std::initializer_list<std::pair<std::string, std::string>> items) {
  ResourceList list;
  for (const auto& [name, text] : items) list[name] = parse_resource_quantity(name, text).value();
  return list;
}

Container container(std::string name, ResourceList requests, ResourceList limits = {},
                    bool sidecar = false) {
  Container c;
  c.name = std::move(name);
  c.requests = std::move(requests);
  c.limits = std::move(limits);
  c.restart_always = sidecar;
  return c;
}

Container sidecar(std::string name, ResourceList requests) {
  return container(std::move(name), std::move(requests), {}, true);
}

TEST(PodRequests, EmptyPodAsksForNothing) {
  EXPECT_TRUE(pod_requests(Pod{}).empty());
}

TEST(PodRequests, SumsAppContainers) {
  Pod pod;
  pod.containers = {container("a", rl({{"cpu", "500m"}, {"memory", "1Gi"}})),
                    container("b", rl({{"cpu", "1"}, {"nvidia.com/gpu", "2"}}))};
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "1500m"}, {"memory", "1Gi"}, {"nvidia.com/gpu", "2"}}));
}

TEST(PodRequests, LimitStandsInForAMissingRequestPerResource) {
  Pod pod;
  // Only limits: the request defaults to the limit (API server defaulting).
  pod.containers.push_back(
      container("limits-only", {}, rl({{"cpu", "2"}, {"nvidia.com/gpu", "1"}})));
  // A request wins over its limit; a resource with only a limit still falls back.
  pod.containers.push_back(
      container("mixed", rl({{"cpu", "100m"}}), rl({{"cpu", "4"}, {"memory", "2Gi"}})));
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "2100m"}, {"memory", "2Gi"}, {"nvidia.com/gpu", "1"}}));
  EXPECT_EQ(container_requests(pod.containers[1]), rl({{"cpu", "100m"}, {"memory", "2Gi"}}));
}

TEST(PodRequests, ExplicitZeroRequestIsKeptOverTheLimit) {
  Container c = container("c", ResourceList{{"cpu", 0}}, rl({{"cpu", "2"}}));
  EXPECT_EQ(container_requests(c), (ResourceList{{"cpu", 0}}));
}

TEST(PodRequests, InitContainerLargerThanTheSumWins) {
  Pod pod;
  pod.init_containers = {container("migrate", rl({{"cpu", "4"}, {"memory", "100Mi"}}))};
  pod.containers = {container("a", rl({{"cpu", "1"}, {"memory", "1Gi"}})),
                    container("b", rl({{"cpu", "1"}}))};
  // Per resource: cpu max(4, 2) = 4, memory max(100Mi, 1Gi) = 1Gi.
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "4"}, {"memory", "1Gi"}}));
}

TEST(PodRequests, RegularInitContainersDoNotAddUp) {
  Pod pod;
  pod.init_containers = {container("one", rl({{"cpu", "3"}})),
                         container("two", rl({{"cpu", "2"}, {"nvidia.com/gpu", "1"}}))};
  pod.containers = {container("app", rl({{"cpu", "1"}}))};
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "3"}, {"nvidia.com/gpu", "1"}}));
}

TEST(PodRequests, SidecarsAddToAppContainers) {
  Pod pod;
  pod.init_containers = {sidecar("proxy", rl({{"cpu", "500m"}, {"memory", "64Mi"}}))};
  pod.containers = {container("app", rl({{"cpu", "1"}, {"memory", "1Gi"}}))};
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "1500m"}, {"memory", "1088Mi"}}));
}

// KEP-753: a regular init container runs beside the sidecars declared before it, not after it.
TEST(PodRequests, InitContainerRunsBesideEarlierSidecarsOnly) {
  Pod pod;
  pod.init_containers = {
      sidecar("log-shipper", rl({{"cpu", "1"}})),
      container("init-big", rl({{"cpu", "5"}})),  // 5 + 1 (log-shipper) = 6
      sidecar("proxy", rl({{"cpu", "2"}})),
      container("init-small", rl({{"cpu", "1"}})),  // 1 + 1 + 2 = 4
  };
  pod.containers = {container("app", rl({{"cpu", "1"}}))};
  // max(6, app 1 + sidecars 3 = 4) = 6
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "6"}}));

  // Moving the big init container after both sidecars makes it 5 + 3 = 8.
  std::swap(pod.init_containers[1], pod.init_containers[2]);
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "8"}}));
}

TEST(PodRequests, SidecarsCountEvenWithoutAppRequests) {
  Pod pod;
  pod.init_containers = {sidecar("a", rl({{"memory", "1Gi"}})),
                         sidecar("b", rl({{"memory", "1Gi"}})),
                         container("init", rl({{"memory", "512Mi"}}))};
  pod.containers = {container("app", {})};
  // init: 512Mi + 2Gi = 2.5Gi > sidecars 2Gi.
  EXPECT_EQ(pod_requests(pod), rl({{"memory", "2560Mi"}}));
}

TEST(PodRequests, SidecarWithOnlyALimit) {
  Pod pod;
  pod.init_containers = {container("proxy", {}, rl({{"cpu", "250m"}}), true)};
  pod.containers = {container("app", rl({{"cpu", "1"}}))};
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "1250m"}}));
}

TEST(PodRequests, OverheadIsAddedAfterTheMax) {
  Pod pod;
  pod.init_containers = {container("init", rl({{"cpu", "4"}}))};
  pod.containers = {container("app", rl({{"cpu", "1"}, {"memory", "1Gi"}}))};
  pod.overhead = rl({{"cpu", "250m"}, {"memory", "120Mi"}});
  EXPECT_EQ(pod_requests(pod), rl({{"cpu", "4250m"}, {"memory", "1144Mi"}}));
}

TEST(PodRequests, ZeroEntriesAreDropped) {
  Pod pod;
  pod.containers = {
      container("app", ResourceList{{"cpu", 0}, {"nvidia.com/gpu", 0}, {"memory", 1024}})};
  pod.init_containers = {container("init", ResourceList{{"example.com/foo", 0}})};
  pod.overhead = ResourceList{{"pods", 0}};
  EXPECT_EQ(pod_requests(pod), (ResourceList{{"memory", 1024}}));
}

TEST(PodRequests, ExtendedResourcesFollowTheSameRules) {
  Pod pod;
  pod.init_containers = {container("init", rl({{"example.com/fpga", "2"}}))};
  pod.containers = {container("a", rl({{"example.com/fpga", "1"}})),
                    container("b", rl({{"example.com/fpga", "1"}}))};
  pod.overhead = rl({{"example.com/fpga", "1"}});
  EXPECT_EQ(pod_requests(pod), rl({{"example.com/fpga", "3"}}));
}

}  // namespace
}  // namespace fairway
