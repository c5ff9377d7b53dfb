// StorageState's indexes follow the events, and an assumed volume stays out of the available
// index until the volume's own update shows the binding, or the bind is forgotten.

#include "scheduler/state/storage_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scheduler/state/cluster_state.h"
#include "scheduler/state/volume_binding.h"

namespace fairway {
namespace {

PersistentVolume pv(std::string name, std::string storage_class) {
  PersistentVolume v;
  v.name = std::move(name);
  v.storage_class = std::move(storage_class);
  v.capacity_bytes = 10;
  v.phase = "Available";
  return v;
}

PersistentVolumeClaim pvc(std::string name) {
  PersistentVolumeClaim c;
  c.namespace_ = "ns";
  c.name = std::move(name);
  c.storage_class = "local";
  return c;
}

std::vector<std::string> available(const StorageState& s, std::string_view storage_class) {
  const auto* names = s.available_volumes(storage_class);
  return names ? std::vector<std::string>(names->begin(), names->end())
               : std::vector<std::string>{};
}

TEST(StorageStateTest, AvailableVolumesByClassFollowClaimRefs) {
  StorageState s;
  s.upsert_volume(pv("b", "local"));
  s.upsert_volume(pv("a", "local"));
  s.upsert_volume(pv("c", "fast"));
  EXPECT_EQ(available(s, "local"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(available(s, "fast"), (std::vector<std::string>{"c"}));

  auto claimed = pv("a", "local");
  claimed.claim_namespace = "ns";
  claimed.claim_name = "data";
  s.upsert_volume(claimed);
  EXPECT_EQ(available(s, "local"), (std::vector<std::string>{"b"}));
  ASSERT_NE(s.volumes_claiming("ns/data"), nullptr);
  EXPECT_EQ(*s.volumes_claiming("ns/data"), (std::vector<std::string>{"a"}));

  // The class changes: the volume moves between indexes.
  s.upsert_volume(pv("c", "local"));
  EXPECT_EQ(available(s, "local"), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(s.available_volumes("fast"), nullptr);

  s.remove_volume("a");
  EXPECT_EQ(s.volumes_claiming("ns/data"), nullptr);
  EXPECT_EQ(s.find_volume("a"), nullptr);
  s.remove_volume("b");
  s.remove_volume("c");
  EXPECT_EQ(s.available_volumes("local"), nullptr);
}

TEST(StorageStateTest, DefaultClassOnlyWhenExactlyOne) {
  StorageState s;
  s.upsert_class({"a", "p", true, true, {}});
  ASSERT_NE(s.default_class(), nullptr);
  EXPECT_EQ(s.default_class()->name, "a");
  auto claim = pvc("data");
  claim.storage_class.reset();
  EXPECT_EQ(s.claim_class(claim), "a");
  claim.storage_class = "";  // explicitly no class
  EXPECT_EQ(s.claim_class(claim), "");
  claim.annotations = {{"volume.beta.kubernetes.io/storage-class", "beta"}};
  EXPECT_EQ(s.claim_class(claim), "beta");

  s.upsert_class({"b", "p", true, true, {}});
  EXPECT_EQ(s.default_class(), nullptr);
  s.upsert_class({"b", "p", true, false, {}});
  EXPECT_EQ(s.default_class()->name, "a");
  s.remove_class("a");
  EXPECT_EQ(s.default_class(), nullptr);
}

TEST(StorageStateTest, ClaimsAndCsiNodesByName) {
  StorageState s;
  s.upsert_claim(pvc("data"));
  ASSERT_NE(s.find_claim("ns/data"), nullptr);
  s.remove_claim("ns/data");
  EXPECT_EQ(s.find_claim("ns/data"), nullptr);
  s.upsert_csi_node({"n1", {{"d", 3}}});
  ASSERT_NE(s.find_csi_node("n1"), nullptr);
  EXPECT_EQ(s.find_csi_node("n1")->attach_limits.at("d"), 3);
  s.remove_csi_node("n1");
  EXPECT_EQ(s.find_csi_node("n1"), nullptr);
}

TEST(StorageStateTest, AssumedVolumeIsNotAvailableUntilItsClaimRefArrives) {
  StorageState s;
  s.upsert_volume(pv("a", "local"));
  const std::vector<VolumeBinding> bindings = {{"ns/data", "a", "n1"}};
  s.assume(bindings);
  EXPECT_EQ(s.available_volumes("local"), nullptr);
  ASSERT_NE(s.assumed_claim("a"), nullptr);
  EXPECT_EQ(*s.assumed_claim("a"), "ns/data");

  // An update that does not show the binding yet keeps the promise.
  s.upsert_volume(pv("a", "local"));
  EXPECT_EQ(s.available_volumes("local"), nullptr);

  // Forgetting it (the bind failed) makes it available again.
  s.forget(bindings);
  EXPECT_EQ(available(s, "local"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(s.assumed_claim("a"), nullptr);

  // Assumed again, then the API shows the claimRef: the assumption is done with.
  s.assume(bindings);
  auto bound = pv("a", "local");
  bound.claim_namespace = "ns";
  bound.claim_name = "data";
  s.upsert_volume(bound);
  EXPECT_EQ(s.assumed_claim("a"), nullptr);
  EXPECT_EQ(s.available_volumes("local"), nullptr);
  // A late forget of a finished binding changes nothing.
  s.forget(bindings);
  EXPECT_EQ(s.available_volumes("local"), nullptr);
}

TEST(StorageStateTest, AssumedProvisioningUntilTheClaimShowsTheNode) {
  StorageState s;
  s.upsert_claim(pvc("data"));
  s.assume({{"ns/data", "", "n1"}});
  ASSERT_NE(s.assumed_selected_node("ns/data"), nullptr);
  EXPECT_EQ(*s.assumed_selected_node("ns/data"), "n1");
  s.upsert_claim(pvc("data"));  // no annotation yet
  EXPECT_NE(s.assumed_selected_node("ns/data"), nullptr);
  auto selected = pvc("data");
  selected.annotations = {{"volume.kubernetes.io/selected-node", "n1"}};
  s.upsert_claim(selected);
  EXPECT_EQ(s.assumed_selected_node("ns/data"), nullptr);

  s.assume({{"ns/data", "", "n1"}});
  s.forget({{"ns/data", "", "n1"}});
  EXPECT_EQ(s.assumed_selected_node("ns/data"), nullptr);
}

TEST(StorageStateTest, ClusterStateCountsClaimUsersOfPodsOnNodes) {
  ClusterState state;
  Pod pod;
  pod.namespace_ = "ns";
  pod.name = "p";
  pod.uid = "u";
  pod.scheduler_name = "fairway";
  pod.volume_claims = {{"data", false}};
  state.upsert_pod(pod);
  EXPECT_EQ(state.storage().claim_users("ns/data"), 0u);  // pending pods use nothing yet

  ASSERT_TRUE(state.assume("ns/p", "n1"));
  EXPECT_EQ(state.storage().claim_users("ns/data"), 1u);
  ASSERT_NE(state.storage().pods_with_claims("n1"), nullptr);
  EXPECT_EQ(state.storage().pods_with_claims("n1")->size(), 1u);

  state.forget("ns/p");
  EXPECT_EQ(state.storage().claim_users("ns/data"), 0u);
  EXPECT_EQ(state.storage().pods_with_claims("n1"), nullptr);

  pod.node_name = "n1";
  pod.phase = PodPhase::kRunning;
  state.upsert_pod(pod);
  EXPECT_EQ(state.storage().claim_users("ns/data"), 1u);
  pod.phase = PodPhase::kSucceeded;  // finished pods hold no claim
  state.upsert_pod(pod);
  EXPECT_EQ(state.storage().claim_users("ns/data"), 0u);
  pod.phase = PodPhase::kRunning;
  state.upsert_pod(pod);
  state.remove_pod("ns/p");
  EXPECT_EQ(state.storage().claim_users("ns/data"), 0u);
  EXPECT_EQ(state.storage().pods_with_claims("n1"), nullptr);
}

TEST(StorageStateTest, ClusterStateAssumeVolumesKeepsTheVolumeFromTheNextCycle) {
  ClusterState state;
  state.upsert_persistent_volume(pv("a", "local"));
  state.assume_volumes({{"ns/data", "a", "n1"}});
  EXPECT_EQ(state.storage().available_volumes("local"), nullptr);
  state.forget_volumes({{"ns/data", "a", "n1"}});
  EXPECT_NE(state.storage().available_volumes("local"), nullptr);
}

}  // namespace
}  // namespace fairway
