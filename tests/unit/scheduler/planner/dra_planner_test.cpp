// Reclaim with Dynamic Resource Allocation: pods whose GPUs come through ResourceClaims charge
// their queues (StateConfig::gpu_device_classes), and the planner's what-if frees the devices of
// the claims its victims alone reserve, so a waiting claim pod reclaims from a queue above its
// fair share exactly as a pod asking nvidia.com/gpu does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/planner/planner.h"
#include "support/builders.h"

namespace fairway {
namespace {

using testing::gpu_node;
using testing::pod;
using testing::queue;
using ::testing::SizeIs;

constexpr TimeMs kNow = 1'700'000'000'000;
constexpr TimeMs kHour = 3'600'000;
constexpr const char* kDriver = "gpu.example.com";

dra::ResourceClaim four_gpus(const std::string& name) {
  dra::ResourceClaim claim;
  claim.namespace_ = "ns";
  claim.name = name;
  claim.uid = "claim-" + name;
  claim.spec.requests.push_back(
      {"gpus", dra::DeviceChoice{"gpu", {}, dra::AllocationMode::kExactCount, 4, false}, {}});
  return claim;
}

Pod claim_pod(const std::string& name, const std::string& queue_name, TimeMs created) {
  Pod p = pod("ns", name, queue_name, {{"cpu", "1"}}, created);
  p.resource_claims.push_back({"gpus", name, ""});
  return p;
}

// One node of 8 DRA GPUs, queues a and b with a quota of 4 each; b runs two 4-GPU claim pods.
ClusterState cluster_with_b_running() {
  StateConfig config;
  config.gpu_device_classes = {"gpu"};
  ClusterState state(config);
  state.upsert_node(gpu_node("node-a", 0));
  dra::ResourceSlice slice{"node-a", kDriver, {"node-a", 1, 1}, "node-a", {}, false, {}};
  for (int i = 0; i < 8; ++i) slice.devices.push_back({"gpu-" + std::to_string(i), {}, {}});
  state.upsert_resource_slice(slice);
  state.upsert_device_class({"gpu", {}});
  state.upsert_queue(queue("a", "", 4));
  state.upsert_queue(queue("b", "", 4));
  for (int i = 0; i < 2; ++i) {
    const std::string name = "b-" + std::to_string(i);
    dra::ResourceClaim claim = four_gpus(name);
    claim.allocation.emplace();
    for (int d = 0; d < 4; ++d) {
      claim.allocation->devices.push_back(
          {"gpus", kDriver, "node-a", "gpu-" + std::to_string(4 * i + d), false});
    }
    claim.reserved_for.push_back({"", "pods", name, "uid-ns-" + name});
    state.upsert_resource_claim(claim);
    Pod running = claim_pod(name, "b", kNow - kHour + i);
    running.node_name = "node-a";
    running.phase = PodPhase::kRunning;
    state.upsert_pod(running);
  }
  return state;
}

TEST(DraReclaim, AClaimPodReclaimsTheDevicesOfAQueueAboveItsFairShare) {
  ClusterState state = cluster_with_b_running();
  EXPECT_EQ(state.queue_usage().at("b").allocated[kGpu], 8'000);
  state.upsert_resource_claim(four_gpus("a-0"));
  state.upsert_pod(claim_pod("a-0", "a", kNow));
  // Nothing fits as it is: every device is allocated.
  const CycleResult before = run_cycle(state);
  ASSERT_THAT(before.pending, SizeIs(1));
  EXPECT_EQ(before.pending[0].message, "0/1 nodes are available: 1 cannot allocate all claims.");

  PreemptionMemory memory;
  PlannerOptions options;
  const PlanResult result = plan_preemptions(state, memory, options, [] { return kNow; });
  ASSERT_THAT(result.plans, SizeIs(1));
  const PreemptionPlan& plan = result.plans[0];
  EXPECT_EQ(plan.action, PreemptionAction::kReclaim);
  EXPECT_EQ(plan.queue, "a");
  ASSERT_THAT(plan.victims, SizeIs(1));
  EXPECT_EQ(plan.victims[0].pod, "ns/b-1");  // the younger: least run time lost
  // The what-if placed a-0 on the devices b-1 frees.
  ASSERT_THAT(plan.placements, SizeIs(1));
  ASSERT_THAT(plan.placements[0].claim_allocations, SizeIs(1));
  for (const auto& device : plan.placements[0].claim_allocations[0].allocation.devices) {
    EXPECT_GE(std::stoi(device.device.substr(4)), 4) << device.device << " is b-0's";
  }
}

TEST(DraReclaim, AQueueWithinItsFairShareKeepsItsDevices) {
  ClusterState state = cluster_with_b_running();
  state.remove_pod("ns/b-1");  // b holds 4 GPUs: its quota
  dra::ResourceClaim big = four_gpus("a-1");
  big.spec.requests[0].exactly->count = 8;
  state.upsert_resource_claim(big);
  state.upsert_pod(claim_pod("a-1", "a", kNow));
  PreemptionMemory memory;
  const PlanResult result = plan_preemptions(state, memory, {}, [] { return kNow; });
  EXPECT_THAT(result.plans, SizeIs(0));
}

}  // namespace
}  // namespace fairway
