// The watches discovery decides, against the embedded API server answering as a given
// Kubernetes release: the DRA kinds are watched where resource.k8s.io/v1 is served (1.34+), not
// before, and their objects reach the ClusterState.
#include "scheduler/service/discovered_watches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "k8s-client/config.h"
#include "k8s-client/resource_paths.h"
#include "k8s-client/rest_client.h"
#include "sim/apiserver/server.h"

namespace fairway {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;
using ::testing::Not;

constexpr const char* kSlice = R"({"apiVersion":"resource.k8s.io/v1","kind":"ResourceSlice",
  "metadata":{"name":"node-a-gpu.example.com"},
  "spec":{"driver":"gpu.example.com","pool":{"name":"node-a","generation":1,"resourceSliceCount":1},
          "nodeName":"node-a","devices":[{"name":"gpu-0"}]}})";
constexpr const char* kClass = R"({"apiVersion":"resource.k8s.io/v1","kind":"DeviceClass",
  "metadata":{"name":"gpu.example.com"},
  "spec":{"selectors":[{"cel":{"expression":"device.driver == \"gpu.example.com\""}}]}})";

class DiscoveredWatchesTest : public ::testing::Test {
 protected:
  void start(int minor) {
    apiserver::ServerOptions options;
    options.tls = false;
    options.threads = 2;
    options.kubernetes_version = {minor};
    auto started = apiserver::Server::start(options);
    ASSERT_TRUE(started) << (started ? "" : started.error());
    server_ = std::move(*started);
    k8s::ClusterConfig cluster;
    cluster.server = server_->url();
    cluster.token = server_->token();
    client_ = std::make_unique<k8s::RestClient>(cluster);
    watches_ = std::make_unique<DiscoveredWatches>(*client_, inbox_);
  }
  void TearDown() override {
    if (client_) client_->stop();
    watches_.reset();  // joins the reflectors' threads
  }

  // Applies what the watches post, as the loop does, until `done` holds (false after 30s: only a
  // guard against a hang, each post wakes the wait).
  bool apply_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      for (auto& change : inbox_.take(std::min(
               deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)))) {
        change(state_);
      }
    }
    return true;
  }

  int create(const char* path, const char* body) {
    auto response = client_->request("POST", path, body);
    return response ? response->status : -1;
  }

  Inbox inbox_;
  ClusterState state_;
  std::unique_ptr<apiserver::Server> server_;
  std::unique_ptr<k8s::RestClient> client_;
  std::unique_ptr<DiscoveredWatches> watches_;
};

TEST_F(DiscoveredWatchesTest, DraKindsAreWatchedFromKubernetes134) {
  start(34);
  ASSERT_EQ(create(k8s::kDeviceClassesPath, kClass), 201);
  watches_->rediscover();
  EXPECT_THAT(
      watches_->watched(),
      IsSupersetOf({"deviceclasses.resource.k8s.io", "resourceclaims.resource.k8s.io",
                    "resourceclaimtemplates.resource.k8s.io", "resourceslices.resource.k8s.io"}));
  // Listed once (the class created before), then watched (the slice created after).
  ASSERT_TRUE(apply_until([&] { return watches_->synced(); }));
  ASSERT_TRUE(apply_until([&] { return state_.dra().classes().size() == 1; }));
  EXPECT_TRUE(state_.dra().classes().contains("gpu.example.com"));
  ASSERT_EQ(create(k8s::kResourceSlicesPath, kSlice), 201);
  ASSERT_TRUE(apply_until([&] { return state_.dra().slice_count() == 1; }));
  auto deleted =
      client_->request("DELETE", std::string(k8s::kResourceSlicesPath) + "/node-a-gpu.example.com");
  ASSERT_TRUE(deleted && deleted->ok());
  ASSERT_TRUE(apply_until([&] { return state_.dra().slice_count() == 0; }));
}

TEST_F(DiscoveredWatchesTest, NoDraWatchBeforeKubernetes134) {
  // resource.k8s.io/v1 is not served: a reflector for it would never sync, nor would the
  // scheduler.
  start(33);
  watches_->rediscover();
  for (const char* resource :
       {"deviceclasses.resource.k8s.io", "resourceclaims.resource.k8s.io",
        "resourceclaimtemplates.resource.k8s.io", "resourceslices.resource.k8s.io"}) {
    EXPECT_THAT(watches_->watched(), Not(Contains(resource)));
  }
  // Discovery itself worked: the gang sources 1.33 serves are watched, and they sync.
  EXPECT_THAT(watches_->watched(), Contains("jobs"));
  EXPECT_TRUE(apply_until([&] { return watches_->synced(); }));
}

TEST(ForgetDraKinds, AVanishedKindTakesItsObjects) {
  ClusterState state;
  dra::ResourceSlice slice;
  slice.name = "s";
  state.upsert_resource_slice(slice);
  state.upsert_device_class(dra::DeviceClass{"c", {}});
  dra::ResourceClaim claim;
  claim.namespace_ = "ns";
  claim.name = "c";
  state.upsert_resource_claim(claim);
  dra::ResourceClaimTemplate claim_template;
  claim_template.namespace_ = "ns";
  claim_template.name = "t";
  state.upsert_resource_claim_template(claim_template);
  ASSERT_EQ(state.dra().slice_count(), 1u);
  ASSERT_EQ(state.dra().claim_count(), 1u);

  state.forget_resource_slices();
  EXPECT_EQ(state.dra().slice_count(), 0u);
  EXPECT_EQ(state.dra().classes().size(), 1u);  // the others stay
  state.forget_device_classes();
  EXPECT_TRUE(state.dra().classes().empty());
  state.forget_resource_claims();
  EXPECT_EQ(state.dra().claim_count(), 0u);
  EXPECT_EQ(state.dra().find_claim("ns/c"), nullptr);
  ASSERT_NE(state.dra().find_template("ns/t"), nullptr);
  state.forget_resource_claim_templates();
  EXPECT_EQ(state.dra().find_template("ns/t"), nullptr);
}

}  // namespace
}  // namespace fairway
