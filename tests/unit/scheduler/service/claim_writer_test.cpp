// The claim writer against the embedded API server in-process (resource.k8s.io/v1): a claim's
// allocation and reservation are written through the status subresource before the pod's
// Binding, a claim someone else allocated first fails the write without writes of ours, and a
// rollback leaves the claim as it was.

#include "scheduler/service/claim_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "support/in_process_api.h"

namespace fairway {
namespace {

using nlohmann::json;

constexpr const char* kClaims = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims";

class ClaimWriterTest : public testing::InProcessApiTest {
 protected:
  // A claim for 2 devices of class "gpu"; returns its uid.
  std::string claim(const std::string& name) {
    const json object = {
        {"apiVersion", "resource.k8s.io/v1"},
        {"kind", "ResourceClaim"},
        {"metadata", {{"name", name}}},
        {"spec",
         {{"devices",
           {{"requests",
             {{{"name", "gpus"}, {"exactly", {{"deviceClassName", "gpu"}, {"count", 2}}}}}}}}}}};
    auto created = client_->request("POST", kClaims, object.dump());
    EXPECT_TRUE(created && created->status == 201) << (created ? created->body : "transport");
    return created ? json::parse(created->body)["metadata"]["uid"].get<std::string>() : "";
  }
  json finalizers_of(const std::string& name) {
    auto got = client_->get(std::string(kClaims) + "/" + name);
    return got && got->ok() ? json::parse(got->body)["metadata"].value("finalizers", json())
                            : json();
  }
  json status_of(const std::string& name) {
    auto got = client_->get(std::string(kClaims) + "/" + name);
    EXPECT_TRUE(got && got->ok());
    return got && got->ok() ? json::parse(got->body).value("status", json::object())
                            : json::object();
  }
  static dra::AllocationResult two_gpus(const std::string& node) {
    dra::AllocationResult allocation;
    for (const char* device : {"gpu-0", "gpu-1"}) {
      allocation.devices.push_back({"gpus", "gpu.example.com", node, device, false});
    }
    allocation.node_selector = {
        {{}, {{"metadata.name", NodeSelectorRequirement::Operator::kIn, {node}}}}};
    return allocation;
  }
  // A pod of that name (the resourceclaim controller drops reservations of pods that do not
  // exist); returns its uid.
  std::string pod_uid(const std::string& name) {
    auto got = client_->get("/api/v1/namespaces/default/pods/" + name);
    if (got && got->ok()) return json::parse(got->body)["metadata"]["uid"];
    const json pod = {{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", {{"name", name}}},
                      {"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}};
    auto created = client_->request("POST", "/api/v1/namespaces/default/pods", pod.dump());
    EXPECT_TRUE(created && created->status == 201) << (created ? created->body : "transport");
    return created ? json::parse(created->body)["metadata"]["uid"].get<std::string>() : "";
  }
  Binding binding_of(const std::string& pod, const std::string& claim, const std::string& claim_uid,
                     bool newly_allocated) {
    Binding binding;
    binding.pod = "default/" + pod;
    binding.uid = pod_uid(pod);
    binding.node = "node-a";
    binding.claim_allocations = {
        {"default", claim, claim_uid, two_gpus("node-a"), newly_allocated}};
    return binding;
  }
};

TEST_F(ClaimWriterTest, AllocationAndReservationAreWrittenThroughTheStatus) {
  const std::string uid = claim("train");
  RestClusterWriter cluster(*client_);
  ClaimWriter writer(cluster);
  std::vector<ClaimWrite> written;
  ASSERT_EQ(writer.write(binding_of("p", "train", uid, true), written), std::nullopt);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_TRUE(written[0].allocated);
  const json status = status_of("train");
  const json& results = status["allocation"]["devices"]["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], json({{"request", "gpus"},
                              {"driver", "gpu.example.com"},
                              {"pool", "node-a"},
                              {"device", "gpu-0"}}));
  EXPECT_EQ(status["allocation"]["nodeSelector"]["nodeSelectorTerms"][0]["matchFields"][0],
            json({{"key", "metadata.name"}, {"operator", "In"}, {"values", {"node-a"}}}));
  EXPECT_EQ(status["reservedFor"],
            json({{{"resource", "pods"}, {"name", "p"}, {"uid", pod_uid("p")}}}));
  // kube-scheduler's finalizer: the controller deallocates only claims that carry it.
  EXPECT_EQ(finalizers_of("train"), json({"resource.kubernetes.io/delete-protection"}));

  // A second pod sharing the allocated claim is only added to reservedFor.
  std::vector<ClaimWrite> second;
  ASSERT_EQ(writer.write(binding_of("q", "train", uid, false), second), std::nullopt);
  EXPECT_FALSE(second[0].allocated);
  EXPECT_EQ(status_of("train")["reservedFor"].size(), 2u);

  // q's Binding failed: it leaves reservedFor, p's allocation stays.
  writer.rollback(binding_of("q", "train", uid, false), second);
  EXPECT_EQ(status_of("train")["reservedFor"].size(), 1u);
  EXPECT_TRUE(status_of("train").contains("allocation"));
  // p's failed too: nobody is left, so the allocation it wrote goes.
  writer.rollback(binding_of("p", "train", uid, true), written);
  EXPECT_EQ(status_of("train"), json::object());
  EXPECT_EQ(finalizers_of("train"), json());
}

TEST_F(ClaimWriterTest, AClaimAllocatedBySomeoneElseFailsTheWrite) {
  const std::string uid = claim("taken");
  const std::string other = claim("other");
  RestClusterWriter cluster(*client_);
  ClaimWriter writer(cluster);
  std::vector<ClaimWrite> written;
  ASSERT_EQ(writer.write(binding_of("first", "taken", uid, true), written), std::nullopt);

  // The second pod was planned on a stale view: "taken" unallocated. Its write of "other"
  // (listed first) is rolled back when "taken" fails.
  Binding stale = binding_of("second", "other", other, true);
  stale.claim_allocations.push_back({"default", "taken", uid, two_gpus("node-b"), true});
  std::vector<ClaimWrite> none;
  const auto error = writer.write(stale, none);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "default/taken was allocated by someone else");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(status_of("other"), json::object());
  EXPECT_EQ(finalizers_of("other"), json());
  EXPECT_EQ(finalizers_of("taken"), json({"resource.kubernetes.io/delete-protection"}));
  EXPECT_EQ(status_of("taken")["reservedFor"][0]["name"], "first");

  // A claim deleted and created again under the same name is not the one planned for.
  Binding replaced = binding_of("third", "other", "uid-of-an-older-claim", true);
  EXPECT_EQ(writer.write(replaced, none), "default/other was replaced by a new claim");
}

}  // namespace
}  // namespace fairway
