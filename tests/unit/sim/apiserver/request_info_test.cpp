#include "sim/apiserver/request_info.h"

#include <gtest/gtest.h>

namespace fairway::apiserver {
namespace {

TEST(RequestInfo, CollectionsListWatchCreateAndDeleteCollection) {
  auto list = resolve_request_info("GET", "/api/v1/namespaces/team-a/pods?limit=500");
  EXPECT_TRUE(list.resource_request);
  EXPECT_EQ(list.verb, "list");
  EXPECT_EQ(list.api_group, "");
  EXPECT_EQ(list.api_version, "v1");
  EXPECT_EQ(list.namespace_, "team-a");
  EXPECT_EQ(list.resource, "pods");
  EXPECT_EQ(list.name, "");

  auto watch = resolve_request_info("GET", "/api/v1/pods?allowWatchBookmarks=true&watch=true");
  EXPECT_EQ(watch.verb, "watch");
  EXPECT_EQ(watch.namespace_, "");

  EXPECT_EQ(resolve_request_info("POST", "/api/v1/namespaces/x/events").verb, "create");
  EXPECT_EQ(resolve_request_info("DELETE", "/api/v1/namespaces/x/pods").verb, "deletecollection");
}

TEST(RequestInfo, ObjectsAndSubresources) {
  auto binding = resolve_request_info("POST", "/api/v1/namespaces/default/pods/train-0/binding");
  EXPECT_EQ(binding.verb, "create");
  EXPECT_EQ(binding.resource, "pods");
  EXPECT_EQ(binding.name, "train-0");
  EXPECT_EQ(binding.subresource, "binding");

  auto status =
      resolve_request_info("PATCH", "/apis/scheduling.fairway.dev/v1alpha1/queues/research/status");
  EXPECT_EQ(status.verb, "patch");
  EXPECT_EQ(status.api_group, "scheduling.fairway.dev");
  EXPECT_EQ(status.api_version, "v1alpha1");
  EXPECT_EQ(status.namespace_, "");
  EXPECT_EQ(status.resource, "queues");
  EXPECT_EQ(status.subresource, "status");

  auto lease = resolve_request_info(
      "PUT", "/apis/coordination.k8s.io/v1/namespaces/fairway-system/leases/fairway-scheduler");
  EXPECT_EQ(lease.verb, "update");
  EXPECT_EQ(lease.namespace_, "fairway-system");
  EXPECT_EQ(lease.resource, "leases");
  EXPECT_EQ(lease.name, "fairway-scheduler");

  EXPECT_EQ(resolve_request_info("DELETE", "/api/v1/namespaces/x/pods/p").verb, "delete");
  EXPECT_EQ(resolve_request_info("GET", "/api/v1/nodes/gpu-0").verb, "get");
}

// As in kube-apiserver: GET /api/v1/namespaces/NS is in namespace NS, so a RoleBinding there
// may grant it.
TEST(RequestInfo, TheNamespaceObjectIsInItsOwnNamespace) {
  auto ns = resolve_request_info("GET", "/api/v1/namespaces/team-a");
  EXPECT_EQ(ns.resource, "namespaces");
  EXPECT_EQ(ns.namespace_, "team-a");
  EXPECT_EQ(ns.name, "team-a");
  EXPECT_EQ(ns.verb, "get");
}

TEST(RequestInfo, DiscoveryAndHealthAreNotResourceRequests) {
  EXPECT_FALSE(resolve_request_info("GET", "/api/v1").resource_request);
  EXPECT_FALSE(
      resolve_request_info("GET", "/apis/scheduling.fairway.dev/v1alpha1").resource_request);
  auto healthz = resolve_request_info("GET", "/healthz");
  EXPECT_FALSE(healthz.resource_request);
  EXPECT_EQ(healthz.verb, "get");
  EXPECT_EQ(healthz.path, "/healthz");
}

}  // namespace
}  // namespace fairway::apiserver
