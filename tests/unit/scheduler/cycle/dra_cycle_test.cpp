// The cycle with Dynamic Resource Allocation (scheduler/cycle/device_ledger.h): pods whose
// ResourceClaims must be allocated on the node they go to, devices never given twice within a
// cycle or across cycles, shared claims allocated once, and the pending reasons.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "scheduler/cycle/cycle.h"
#include "support/builders.h"

namespace fairway {
namespace {

using testing::gpu_node;
using ::testing::HasSubstr;
using testing::pod;
using ::testing::SizeIs;

constexpr const char* kDriver = "gpu.example.com";
constexpr const char* kClique = "gpu.example.com/cliqueId";

// A node's slice: `gpus` devices gpu-0.., in cliques "<node>-<i / clique_size>".
dra::ResourceSlice slice_of(const std::string& node, int gpus, int clique_size) {
  dra::ResourceSlice slice{node + "-slice", kDriver, {node, 1, 1}, node, {}, false, {}};
  for (int i = 0; i < gpus; ++i) {
    dra::Device device{"gpu-" + std::to_string(i), {}, {}};
    device.attributes[kClique] = node + "-" + std::to_string(i / clique_size);
    device.attributes["gpu.example.com/index"] = int64_t{i};
    slice.devices.push_back(std::move(device));
  }
  return slice;
}

// A claim for `count` GPUs, all of one clique when `same_clique`.
dra::ResourceClaim gpu_claim(const std::string& name, int64_t count, bool same_clique) {
  dra::ResourceClaim claim;
  claim.namespace_ = "ns";
  claim.name = name;
  claim.uid = "claim-uid-" + name;
  dra::DeviceChoice choice{"gpu", {}, dra::AllocationMode::kExactCount, count, false};
  claim.spec.requests.push_back({"gpus", choice, {}});
  if (same_clique) claim.spec.constraints.push_back({{}, kClique});
  return claim;
}

Pod claim_pod(const std::string& name, const std::string& claim) {
  Pod p = pod("ns", name, "", {{"cpu", "1"}});
  p.resource_claims.push_back({"gpus", claim, ""});
  return p;
}

// Two nodes without nvidia.com/gpu, each with 8 DRA GPUs in two cliques of 4.
ClusterState dra_cluster() {
  ClusterState state;
  for (const std::string node : {"node-a", "node-b"}) {
    state.upsert_node(gpu_node(node, 0));
    state.upsert_resource_slice(slice_of(node, 8, 4));
  }
  state.upsert_device_class({"gpu", {"device.driver == \"gpu.example.com\""}});
  return state;
}

// The clique all of a binding's devices are on; "" when they span several.
std::string clique_of(const Binding& binding) {
  std::set<std::string> cliques;
  for (const auto& decided : binding.claim_allocations) {
    for (const auto& result : decided.allocation.devices) {
      EXPECT_EQ(result.pool, binding.node) << binding.pod << " got a device of another node";
      const int index = std::stoi(result.device.substr(4));
      cliques.insert(result.pool + "-" + std::to_string(index / 4));
    }
  }
  return cliques.size() == 1 ? *cliques.begin() : "";
}

TEST(DraCycle, FourGpuClaimsTakeOneCliqueEachAndAFifthWaits) {
  ClusterState state = dra_cluster();
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "train-" + std::to_string(i);
    state.upsert_resource_claim(gpu_claim(name, 4, true));
    state.upsert_pod(claim_pod(name, name));
  }
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(4));
  std::set<std::string> cliques;
  for (const Binding& binding : result.bindings) {
    ASSERT_THAT(binding.claim_allocations, SizeIs(1));
    const dra::ClaimAllocation& decided = binding.claim_allocations[0];
    EXPECT_TRUE(decided.newly_allocated);
    EXPECT_THAT(decided.allocation.devices, SizeIs(4));
    ASSERT_THAT(decided.allocation.node_selector, SizeIs(1));
    cliques.insert(clique_of(binding));
  }
  EXPECT_THAT(cliques, SizeIs(4));
  EXPECT_FALSE(cliques.contains(""));
  ASSERT_THAT(result.pending, SizeIs(1));
  EXPECT_EQ(result.pending[0].message, "0/2 nodes are available: 2 cannot allocate all claims.");
}

TEST(DraCycle, AssumedClaimsKeepTheirDevicesUntilTheBindFails) {
  ClusterState state = dra_cluster();
  for (int i = 1; i <= 4; ++i) {
    const std::string name = "train-" + std::to_string(i);
    state.upsert_resource_claim(gpu_claim(name, 4, true));
    state.upsert_pod(claim_pod(name, name));
  }
  CycleResult first = run_cycle(state);
  ASSERT_THAT(first.bindings, SizeIs(4));
  assume_all(state, first);
  // The claims show allocated and reserved before any watch event says so.
  const dra::ResourceClaim* claim = state.dra().find_claim("ns/train-1");
  ASSERT_NE(claim, nullptr);
  ASSERT_TRUE(claim->allocation);
  ASSERT_THAT(claim->reserved_for, SizeIs(1));
  EXPECT_EQ(claim->reserved_for[0].uid, "uid-ns-train-1");

  state.upsert_resource_claim(gpu_claim("late", 4, true));
  state.upsert_pod(claim_pod("late", "late"));
  CycleResult second = run_cycle(state);
  EXPECT_THAT(second.bindings, SizeIs(0));
  ASSERT_THAT(second.pending, SizeIs(1));
  EXPECT_THAT(second.pending[0].message, HasSubstr("cannot allocate all claims"));

  // train-2's bind failed: its devices are free again, and `late` gets exactly them.
  const Binding failed = *std::find_if(first.bindings.begin(), first.bindings.end(),
                                       [](const Binding& b) { return b.pod == "ns/train-2"; });
  state.forget(failed.pod);
  state.forget_claims(failed.claim_allocations);
  state.remove_pod("ns/train-2");
  CycleResult third = run_cycle(state);
  ASSERT_THAT(third.bindings, SizeIs(1));
  EXPECT_EQ(third.bindings[0].pod, "ns/late");
  EXPECT_EQ(clique_of(third.bindings[0]), clique_of(failed));
}

TEST(DraCycle, TheApiShowingTheAllocationEndsTheAssumption) {
  ClusterState state = dra_cluster();
  state.upsert_resource_claim(gpu_claim("one", 2, false));
  state.upsert_pod(claim_pod("one", "one"));
  CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  assume_all(state, result);
  // An update written before ours became visible (no allocation yet): still assumed.
  state.upsert_resource_claim(gpu_claim("one", 2, false));
  ASSERT_TRUE(state.dra().find_claim("ns/one")->allocation);
  // The update carrying our write: the API's copy now, and forget() changes nothing.
  dra::ResourceClaim written = gpu_claim("one", 2, false);
  written.allocation = result.bindings[0].claim_allocations[0].allocation;
  written.reserved_for.push_back({"", "pods", "one", "uid-ns-one"});
  state.upsert_resource_claim(written);
  state.forget_claims(result.bindings[0].claim_allocations);
  EXPECT_TRUE(state.dra().find_claim("ns/one")->allocation);
  EXPECT_THAT(state.dra().allocated(), SizeIs(2));
}

TEST(DraCycle, PodsSharingAClaimGetOneAllocationOnOneNode) {
  ClusterState state = dra_cluster();
  state.upsert_resource_claim(gpu_claim("shared", 2, true));
  state.upsert_pod(claim_pod("reader-1", "shared"));
  state.upsert_pod(claim_pod("reader-2", "shared"));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(2));
  const Binding& a = result.bindings[0];
  const Binding& b = result.bindings[1];
  EXPECT_EQ(a.node, b.node);
  ASSERT_THAT(a.claim_allocations, SizeIs(1));
  ASSERT_THAT(b.claim_allocations, SizeIs(1));
  EXPECT_TRUE(a.claim_allocations[0].newly_allocated);
  EXPECT_FALSE(b.claim_allocations[0].newly_allocated);  // reserved, not allocated again
  EXPECT_EQ(a.claim_allocations[0].allocation.devices, b.claim_allocations[0].allocation.devices);
}

TEST(DraCycle, NodesWhereTheDevicesStayOnOneIslandWin) {
  ClusterState state = dra_cluster();
  // node-a: 4 free GPUs in two cliques (2 + 2); node-b: 4 free in one clique.
  auto allocated = [&](const std::string& name, const std::string& node,
                       std::vector<std::string> devices) {
    dra::ResourceClaim claim = gpu_claim(name, static_cast<int64_t>(devices.size()), false);
    claim.allocation.emplace();
    for (const std::string& device : devices) {
      claim.allocation->devices.push_back({"gpus", kDriver, node, device, false});
    }
    state.upsert_resource_claim(std::move(claim));
  };
  allocated("used-a", "node-a", {"gpu-0", "gpu-1", "gpu-4", "gpu-5"});
  allocated("used-b", "node-b", {"gpu-0", "gpu-1", "gpu-2", "gpu-3"});
  state.upsert_resource_claim(gpu_claim("four", 4, false));  // no constraint: any 4 devices
  state.upsert_pod(claim_pod("four", "four"));
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].node, "node-b");
  EXPECT_EQ(clique_of(result.bindings[0]), "node-b-1");
}

TEST(DraCycle, ClaimsThatCannotBeUsedYetAreSaidOnce) {
  ClusterState state = dra_cluster();
  Pod waiting = pod("ns", "waiting", "", {{"cpu", "1"}});
  waiting.resource_claims.push_back({"gpus", "", "four-gpus"});  // template: no claim yet
  state.upsert_pod(waiting);
  state.upsert_pod(claim_pod("missing", "nowhere"));
  Pod stranger = pod("ns", "stranger", "", {{"cpu", "1"}});
  stranger.resource_claims.push_back({"gpus", "", "four-gpus"});
  stranger.resource_claim_statuses.push_back({"gpus", "someone-elses"});
  dra::ResourceClaim other = gpu_claim("someone-elses", 1, false);
  other.owner_pod_uid = "uid-of-another-pod";
  state.upsert_resource_claim(other);
  state.upsert_pod(stranger);

  const CycleResult result = run_cycle(state);
  EXPECT_THAT(result.bindings, SizeIs(0));
  std::map<std::string, std::string> messages;
  for (const PendingJob& job : result.pending) messages[job.pods.at(0)] = job.message;
  EXPECT_EQ(messages["ns/waiting"],
            "0/2 nodes are available: pod \"ns/waiting\": ResourceClaim not created yet.");
  EXPECT_EQ(messages["ns/missing"],
            "0/2 nodes are available: resourceclaim.resource.k8s.io \"nowhere\" not found.");
  EXPECT_EQ(messages["ns/stranger"],
            "0/2 nodes are available: ResourceClaim someone-elses was not created for pod "
            "ns/stranger (pod is not owner).");

  // The controller says no claim is needed: the pod schedules without devices.
  waiting.resource_claim_statuses.push_back({"gpus", ""});
  state.upsert_pod(waiting);
  const CycleResult after = run_cycle(state);
  ASSERT_THAT(after.bindings, SizeIs(1));
  EXPECT_EQ(after.bindings[0].pod, "ns/waiting");
  EXPECT_TRUE(after.bindings[0].claim_allocations.empty());
}

TEST(DraCycle, ClaimedGpusChargeTheQueueAsNvidiaGpu) {
  StateConfig config;
  config.gpu_device_classes = {"gpu"};
  ClusterState state(config);
  for (const std::string node : {"node-a", "node-b"}) {
    state.upsert_node(gpu_node(node, 0));
    state.upsert_resource_slice(slice_of(node, 8, 4));
  }
  state.upsert_device_class({"gpu", {"device.driver == \"gpu.example.com\""}});
  state.upsert_queue(testing::queue("capped", "", 0, 6));
  // The 16 published GPUs count in the capacity queues share.
  EXPECT_EQ(state.queue_capacity()[kGpu], 16'000);
  for (const std::string name : {"a", "b"}) {
    state.upsert_resource_claim(gpu_claim(name, 4, true));
    Pod p = claim_pod(name, name);
    p.labels["fairway.dev/queue"] = "capped";
    p.creation_ms = name == "a" ? 0 : 1;
    state.upsert_pod(p);
  }
  EXPECT_EQ(state.queue_usage().at("capped").pending[kGpu], 8'000);
  const CycleResult result = run_cycle(state);
  ASSERT_THAT(result.bindings, SizeIs(1));
  EXPECT_EQ(result.bindings[0].pod, "ns/a");
  ASSERT_THAT(result.pending, SizeIs(1));
  EXPECT_EQ(result.pending[0].message,
            "queue \"capped\" would exceed its limit on nvidia.com/gpu: 4 allocated + 4 "
            "requested > limit 6");
  // A claim of another class costs the queue nothing; one growing re-charges its pod.
  dra::ResourceClaim bigger = gpu_claim("b", 6, false);
  state.upsert_resource_claim(bigger);
  EXPECT_EQ(state.queue_usage().at("capped").pending[kGpu], 10'000);
  bigger.spec.requests[0].exactly->device_class_name = "nic";
  state.upsert_resource_claim(bigger);
  EXPECT_EQ(state.queue_usage().at("capped").pending[kGpu], 4'000);
}

}  // namespace
}  // namespace fairway
