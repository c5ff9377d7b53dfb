// The volume binder against the embedded API server in-process: a static volume is bound on
// both sides before the pod, a provisioning that never finishes times out and is rolled back,
// and the actuator does not bind a pod whose claims failed.

#include "scheduler/service/volume_binder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "scheduler/service/actuator.h"
#include "support/in_process_api.h"

namespace fairway {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class VolumeBinderTest : public testing::InProcessApiTest {
 protected:
  void create(const std::string& path, const json& object) {
    auto created = client_->request("POST", path, object.dump());
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "transport");
  }
  json get(const std::string& path) {
    auto got = client_->get(path);
    EXPECT_TRUE(got && got->ok());
    return got && got->ok() ? json::parse(got->body) : json::object();
  }
  void claim(const std::string& name) {
    create("/api/v1/namespaces/default/persistentvolumeclaims",
           {{"apiVersion", "v1"},
            {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"accessModes", {"ReadWriteOnce"}},
              {"storageClassName", "local"},
              {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }
  void volume(const std::string& name) {
    create("/api/v1/persistentvolumes", {{"apiVersion", "v1"},
                                         {"kind", "PersistentVolume"},
                                         {"metadata", {{"name", name}}},
                                         {"spec",
                                          {{"accessModes", {"ReadWriteOnce"}},
                                           {"storageClassName", "local"},
                                           {"capacity", {{"storage", "1Gi"}}},
                                           {"hostPath", {{"path", "/tmp"}}}}}});
  }
  void pod(const std::string& name) {
    create("/api/v1/namespaces/default/pods",
           {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"schedulerName", "fairway"}, {"containers", {{{"name", "c"}, {"image", "i"}}}}}}});
  }
};

TEST_F(VolumeBinderTest, StaticVolumeIsBoundOnBothSides) {
  claim("data");
  volume("pv-1");
  RestClusterWriter writer(*client_);
  VolumeBinder binder(writer, {5s, 50ms});
  Binding binding;
  binding.pod = "default/p";
  binding.node = "n1";
  binding.volume_bindings = {{"default/data", "pv-1", "n1"}};
  VolumeWrites written;
  EXPECT_EQ(binder.bind(binding, written), std::nullopt);
  const json pv = get("/api/v1/persistentvolumes/pv-1");
  EXPECT_EQ(pv["spec"]["claimRef"]["name"], "data");
  EXPECT_EQ(pv["spec"]["claimRef"]["namespace"], "default");
  EXPECT_EQ(pv["spec"]["claimRef"]["uid"],
            get("/api/v1/namespaces/default/persistentvolumeclaims/data")["metadata"]["uid"]);
  EXPECT_EQ(get("/api/v1/namespaces/default/persistentvolumeclaims/data")["spec"]["volumeName"],
            "pv-1");

  // The pod's Binding failed afterwards: the writes are undone.
  binder.rollback(written);
  EXPECT_FALSE(get("/api/v1/persistentvolumes/pv-1")["spec"].contains("claimRef"));
}

TEST_F(VolumeBinderTest, AVolumeBoundToAnotherClaimFailsWithoutWrites) {
  claim("data");
  volume("pv-1");
  auto patched = client_->request(
      "PATCH", "/api/v1/persistentvolumes/pv-1",
      json{{"spec", {{"claimRef", {{"namespace", "default"}, {"name", "other"}}}}}}.dump(),
      "application/merge-patch+json");
  ASSERT_TRUE(patched && patched->ok());
  RestClusterWriter writer(*client_);
  VolumeBinder binder(writer, {5s, 50ms});
  Binding binding;
  binding.pod = "default/p";
  binding.volume_bindings = {{"default/data", "pv-1", "n1"}};
  VolumeWrites written;
  const auto why = binder.bind(binding, written);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "volume pv-1 is bound to claim default/other");
  EXPECT_TRUE(written.empty());
  EXPECT_FALSE(
      get("/api/v1/namespaces/default/persistentvolumeclaims/data")["spec"].contains("volumeName"));
}

TEST_F(VolumeBinderTest, ProvisioningThatNeverFinishesTimesOutAndIsRolledBack) {
  claim("data");
  // A zero timeout: the first look finds the claim unbound and the wait is over, so the test
  // does not wait on the wall clock.
  RestClusterWriter writer(*client_);
  VolumeBinder binder(writer, {0ms, 50ms});
  Binding binding;
  binding.pod = "default/p";
  binding.volume_bindings = {{"default/data", "", "n1"}};
  VolumeWrites written;
  const auto why = binder.bind(binding, written);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("timed out"), std::string::npos) << *why;
  const json pvc = get("/api/v1/namespaces/default/persistentvolumeclaims/data");
  EXPECT_FALSE(pvc["metadata"].contains("annotations") &&
               pvc["metadata"]["annotations"].contains("volume.kubernetes.io/selected-node"))
      << pvc.dump();
}

TEST_F(VolumeBinderTest, ActuatorBindsThePodAfterItsClaims) {
  claim("data");
  volume("pv-1");
  pod("p");
  std::atomic<int> failed{0};
  std::atomic<int> bound{0};
  RestClusterWriter writer(*client_);
  Actuator actuator(
      writer, 1,
      Actuator::Hooks{[] { return true; }, [&](const Binding&, const std::string&) { ++failed; },
                      [&](const Binding&) { ++bound; }},
      VolumeBinderOptions{5s, 50ms});
  Binding binding;
  binding.pod = "default/p";
  binding.node = "n1";
  binding.volume_bindings = {{"default/data", "pv-1", "n1"}};
  actuator.bind(binding);
  Binding missing = binding;
  missing.volume_bindings = {{"default/nosuch", "pv-1", "n1"}};
  actuator.bind(missing);
  actuator.stop();
  EXPECT_EQ(bound.load(), 1);
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(get("/api/v1/namespaces/default/pods/p")["spec"]["nodeName"], "n1");
  EXPECT_EQ(get("/api/v1/namespaces/default/persistentvolumeclaims/data")["spec"]["volumeName"],
            "pv-1");
}

}  // namespace
}  // namespace fairway
