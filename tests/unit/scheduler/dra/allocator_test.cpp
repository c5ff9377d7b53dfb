// Allocation of ResourceClaims on one node, rule by rule (allocator.h), with the pending reasons.
#include "scheduler/dra/allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fairway::dra {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;

constexpr const char* kDriver = "gpu.example.com";

// A node-local slice of `count` GPUs named gpu-<first>...; the island of GPU i is i / island_size.
ResourceSlice gpu_slice(const std::string& node, int count, int island_size = 4, int first = 0) {
  ResourceSlice slice;
  slice.name = node + "-gpus";
  slice.driver = kDriver;
  slice.pool = ResourcePool{node, 1, 1};
  slice.node_name = node;
  for (int i = first; i < first + count; ++i) {
    Device device;
    device.name = "gpu-" + std::to_string(i);
    device.attributes = {
        {"gpu.example.com/model", AttributeValue{std::string(i % 2 == 0 ? "A100" : "H100")}},
        {"gpu.example.com/index", AttributeValue{int64_t{i}}},
        {"gpu.example.com/cliqueId",
         AttributeValue{std::string("clique-") + std::to_string(i / island_size)}},
    };
    device.capacity = {{"gpu.example.com/memory", Quantity{int64_t{80} << 40}}};
    slice.devices.push_back(std::move(device));
  }
  return slice;
}

DeviceChoice gpus(int64_t count, std::vector<std::string> selectors = {}) {
  return DeviceChoice{"gpu", std::move(selectors), AllocationMode::kExactCount, count, false};
}

ResourceClaim claim_of(const std::string& name, std::vector<DeviceRequest> requests,
                       std::vector<DeviceConstraint> constraints = {}) {
  ResourceClaim claim;
  claim.namespace_ = "team";
  claim.name = name;
  claim.uid = name + "-uid";
  claim.spec.requests = std::move(requests);
  claim.spec.constraints = std::move(constraints);
  return claim;
}

DeviceRequest exactly(const std::string& name, DeviceChoice choice) {
  return DeviceRequest{name, std::move(choice), {}};
}

// A cluster of slices and classes, and the allocated devices, for allocate() on a node.
struct Cluster {
  std::vector<ResourceSlice> slices;
  Allocator::Classes classes = {
      {"gpu", DeviceClass{"gpu", {R"(device.driver == "gpu.example.com")"}}}};
  DeviceSet allocated;
  CelCache cel;
  AllocatorOptions options;
  DevicePools::SelectorMatches selector_matches;

  tl::expected<PodAllocation, AllocationFailure> allocate(
      const std::string& node, const std::vector<const ResourceClaim*>& claims) {
    DevicePools pools(slices);
    Allocator allocator(pools, classes, allocated, cel, options);
    return allocator.allocate(node, selector_matches, claims, "pod-uid");
  }
  // Allocates one claim and records its devices as allocated, as the cluster would after
  // write-back.
  tl::expected<PodAllocation, AllocationFailure> allocate_and_commit(const std::string& node,
                                                                     const ResourceClaim& claim) {
    auto result = allocate(node, {&claim});
    if (result) {
      for (const auto& d : result->results[0].devices)
        allocated.insert({d.driver, d.pool, d.device});
    }
    return result;
  }
};

std::vector<std::string> device_names(const AllocationResult& result) {
  std::vector<std::string> names;
  for (const auto& d : result.devices) names.push_back(d.device);
  return names;
}

TEST(Allocator, ExactCountTakesThatManyDevicesOfTheNode) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8), gpu_slice("node-b", 8)};
  const ResourceClaim claim = claim_of("two", {exactly("gpus", gpus(2))});
  auto result = cluster.allocate("node-b", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-1"));
  EXPECT_EQ(result->results[0].devices[0].pool, "node-b");
  EXPECT_EQ(result->results[0].devices[0].request, "gpus");
  EXPECT_TRUE(result->newly_allocated[0]);
  // The claim is then bound to the node.
  ASSERT_EQ(result->results[0].node_selector.size(), 1u);
  EXPECT_EQ(result->results[0].node_selector[0].match_fields[0].key, "metadata.name");
  EXPECT_THAT(result->results[0].node_selector[0].match_fields[0].values, ElementsAre("node-b"));
}

TEST(Allocator, TooFewDevicesCannotAllocate) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8)};
  const ResourceClaim claim = claim_of("nine", {exactly("gpus", gpus(9))});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "cannot allocate all claims");
  EXPECT_EQ(result.error().kind, AllocationFailure::Kind::kUnschedulable);
  // Another node's devices are not visible.
  const ResourceClaim one = claim_of("one", {exactly("gpus", gpus(1))});
  EXPECT_FALSE(cluster.allocate("node-b", {&one}));
}

TEST(Allocator, ClassAndRequestSelectorsBothApply) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8)};
  cluster.classes["gpu"].selectors.push_back(R"(device.attributes["gpu.example.com"].index >= 2)");
  const ResourceClaim claim = claim_of(
      "h100",
      {exactly("gpus", gpus(2, {R"(device.attributes["gpu.example.com"].model == "H100")"}))});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-3", "gpu-5"));
  const ResourceClaim too_many = claim_of(
      "h100s",
      {exactly("gpus", gpus(4, {R"(device.attributes["gpu.example.com"].model == "H100")"}))});
  EXPECT_FALSE(cluster.allocate("node-a", {&too_many}));  // gpu-1 is excluded by the class
}

TEST(Allocator, AllModeTakesEveryMatchingDeviceOrNone) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 4)};
  DeviceChoice all = gpus(0, {R"(device.attributes["gpu.example.com"].model == "A100")"});
  all.allocation_mode = AllocationMode::kAll;
  const ResourceClaim claim = claim_of("all-a100", {exactly("gpus", all)});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-2"));
  cluster.allocated.insert({kDriver, "node-a", "gpu-2"});
  auto busy = cluster.allocate("node-a", {&claim});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().message, "cannot allocate all claims");
  // No matching device at all: nothing to allocate, which is a failure too.
  DeviceChoice none = all;
  none.selectors = {R"(device.attributes["gpu.example.com"].model == "B200")"};
  const ResourceClaim empty = claim_of("all-b200", {exactly("gpus", none)});
  EXPECT_FALSE(cluster.allocate("node-a", {&empty}));
}

TEST(Allocator, FirstAvailableTriesChoicesInOrder) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 4)};
  DeviceRequest request{
      "gpus",
      std::nullopt,
      {{"four-h100", gpus(4, {R"(device.attributes["gpu.example.com"].model == "H100")"})},
       {"two-a100", gpus(2, {R"(device.attributes["gpu.example.com"].model == "A100")"})},
       {"one-any", gpus(1)}}};
  const ResourceClaim claim = claim_of("flexible", {request});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-2"));
  EXPECT_EQ(result->results[0].devices[0].request, "gpus/two-a100");
  // With the A100s taken, the third choice is used.
  cluster.allocated = {{kDriver, "node-a", "gpu-0"}};
  result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-1"));
  EXPECT_EQ(result->results[0].devices[0].request, "gpus/one-any");
}

TEST(Allocator, MatchAttributeHoldsAcrossTheNamedRequests) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8, /*island_size=*/4)};
  cluster.allocated = {{kDriver, "node-a", "gpu-1"}};
  // Two requests of 2 and 1 GPUs on one clique: clique-0 has only 3 free, which is enough.
  const ResourceClaim claim = claim_of("paired", {exactly("a", gpus(2)), exactly("b", gpus(2))},
                                       {DeviceConstraint{{"a", "b"}, "gpu.example.com/cliqueId"}});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  // gpu-0, gpu-2, gpu-3 are on clique-0 but four are needed: clique-1 it is.
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-4", "gpu-5", "gpu-6", "gpu-7"));
  // Without the constraint the first free devices are taken across cliques.
  const ResourceClaim loose = claim_of("loose", {exactly("a", gpus(2)), exactly("b", gpus(2))});
  result = cluster.allocate("node-a", {&loose});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-2", "gpu-3", "gpu-4"));
  // A constraint naming only request "a" leaves "b" free to be elsewhere.
  const ResourceClaim partial = claim_of("partial", {exactly("a", gpus(3)), exactly("b", gpus(1))},
                                         {DeviceConstraint{{"a"}, "gpu.example.com/cliqueId"}});
  result = cluster.allocate("node-a", {&partial});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-2", "gpu-3", "gpu-4"));
  // A device without the attribute never satisfies the constraint.
  const ResourceClaim missing = claim_of("missing", {exactly("a", gpus(1))},
                                         {DeviceConstraint{{}, "gpu.example.com/numaNode"}});
  EXPECT_FALSE(cluster.allocate("node-a", {&missing}));
}

TEST(Allocator, ADeviceIsUsedOnceAcrossThePodsClaims) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8)};
  const ResourceClaim first = claim_of("first", {exactly("gpus", gpus(4))});
  const ResourceClaim second = claim_of("second", {exactly("gpus", gpus(4))});
  const ResourceClaim third = claim_of("third", {exactly("gpus", gpus(1))});
  auto result = cluster.allocate("node-a", {&first, &second});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-1", "gpu-2", "gpu-3"));
  EXPECT_THAT(device_names(result->results[1]), ElementsAre("gpu-4", "gpu-5", "gpu-6", "gpu-7"));
  EXPECT_FALSE(cluster.allocate("node-a", {&first, &second, &third}));
}

TEST(Allocator, AllocatedClaimsAreReusedNotReallocated) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8)};
  ResourceClaim shared = claim_of("shared", {exactly("gpus", gpus(2))});
  auto first = cluster.allocate_and_commit("node-a", shared);
  ASSERT_TRUE(first) << first.error().message;
  shared.allocation = first->results[0];
  shared.reserved_for = {ConsumerReference{"", "pods", "first-pod", "first-pod-uid"}};
  // A second pod sharing the claim gets the same devices, and a new claim of its own others.
  const ResourceClaim own = claim_of("own", {exactly("gpus", gpus(1))});
  cluster.selector_matches = [](const std::vector<NodeSelectorTerm>& terms) {
    return terms[0].match_fields[0].values[0] == "node-a";
  };
  auto second = cluster.allocate("node-a", {&shared, &own});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->newly_allocated[0]);
  EXPECT_EQ(device_names(second->results[0]), device_names(first->results[0]));
  EXPECT_TRUE(second->newly_allocated[1]);
  EXPECT_THAT(device_names(second->results[1]), ElementsAre("gpu-2"));
  // On another node the allocated claim is out of reach.
  cluster.selector_matches = [](const std::vector<NodeSelectorTerm>& terms) {
    return terms[0].match_fields[0].values[0] == "node-b";
  };
  auto elsewhere = cluster.allocate("node-b", {&shared});
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().message, "resourceclaim not available on the node");
  // A claim reserved for 256 other consumers takes no more.
  shared.reserved_for.resize(kReservedForMaxSize, ConsumerReference{"", "pods", "p", "other"});
  auto full = cluster.allocate("node-a", {&shared});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message, "resourceclaim in use");
  shared.deleting = true;
  EXPECT_EQ(cluster.allocate("node-a", {&shared}).error().message,
            "resourceclaim is being deleted");
}

TEST(Allocator, AdminAccessMayUseAllocatedDevices) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 2)};
  cluster.allocated = {{kDriver, "node-a", "gpu-0"}, {kDriver, "node-a", "gpu-1"}};
  DeviceChoice monitor = gpus(2);
  monitor.admin_access = true;
  const ResourceClaim claim = claim_of("monitor", {exactly("gpus", monitor)});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-1"));
  EXPECT_TRUE(result->results[0].devices[0].admin_access);
  const ResourceClaim plain = claim_of("plain", {exactly("gpus", gpus(1))});
  EXPECT_FALSE(cluster.allocate("node-a", {&plain}));
  // A device an admin-access request of the pod takes is not also given to a plain request.
  cluster.allocated.clear();
  DeviceChoice one_monitor = gpus(1);
  one_monitor.admin_access = true;
  const ResourceClaim both =
      claim_of("both", {exactly("monitor", one_monitor), exactly("work", gpus(2))});
  EXPECT_FALSE(cluster.allocate("node-a", {&both}));
  const ResourceClaim fits =
      claim_of("fits", {exactly("monitor", one_monitor), exactly("work", gpus(1))});
  auto split = cluster.allocate("node-a", {&fits});
  ASSERT_TRUE(split) << split.error().message;
  EXPECT_THAT(device_names(split->results[0]), ElementsAre("gpu-0", "gpu-1"));
}

TEST(Allocator, IncompleteAndOutdatedPoolsGiveNoDevices) {
  Cluster cluster;
  ResourceSlice part1 = gpu_slice("node-a", 2, 4, 0);
  part1.pool.resource_slice_count = 2;
  part1.pool.generation = 2;
  cluster.slices = {part1};  // the second slice of generation 2 is not there yet
  const ResourceClaim one = claim_of("one", {exactly("gpus", gpus(1))});
  auto result = cluster.allocate("node-a", {&one});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "cannot allocate all claims");
  DeviceChoice all = gpus(0);
  all.allocation_mode = AllocationMode::kAll;
  const ResourceClaim every = claim_of("every", {exactly("gpus", all)});
  result = cluster.allocate("node-a", {&every});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "claim team/every, request gpus: asks for all devices, but resource pool "
            "gpu.example.com/node-a is currently being updated");
  // Complete: both slices of generation 2; a slice of generation 1 is outdated and ignored.
  ResourceSlice part2 = gpu_slice("node-a", 2, 4, 2);
  part2.name = "node-a-gpus-2";
  part2.pool = part1.pool;
  ResourceSlice old = gpu_slice("node-a", 1, 4, 7);
  old.name = "node-a-old";
  cluster.slices = {part1, part2, old};
  result = cluster.allocate("node-a", {&every});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-1", "gpu-2", "gpu-3"));
}

TEST(Allocator, InvalidPoolsGiveNoDevicesAndAreNamed) {
  Cluster cluster;
  ResourceSlice twice = gpu_slice("node-a", 2);
  twice.devices[1].name = "gpu-0";  // a device name twice in the pool
  cluster.slices = {twice, gpu_slice("node-b", 1)};
  const ResourceClaim one = claim_of("one", {exactly("gpus", gpus(1))});
  auto result = cluster.allocate("node-a", {&one});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "invalid resource pools were encountered");
  DeviceChoice all = gpus(0);
  all.allocation_mode = AllocationMode::kAll;
  const ResourceClaim every = claim_of("every", {exactly("gpus", all)});
  result = cluster.allocate("node-a", {&every});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "claim team/every, request gpus: asks for all devices, but resource pool "
            "gpu.example.com/node-a is currently invalid");
  EXPECT_TRUE(cluster.allocate("node-b", {&one}));  // other pools are unaffected
}

TEST(Allocator, SlicesForSelectedNodesAndAllNodes) {
  Cluster cluster;
  ResourceSlice fabric = gpu_slice("fabric", 2);
  fabric.node_name.clear();
  NodeSelectorTerm rack;
  rack.match_expressions.push_back(
      NodeSelectorRequirement{"rack", NodeSelectorRequirement::Operator::kIn, {"r1"}});
  fabric.node_selector = {rack};
  ResourceSlice global = gpu_slice("global", 1, 4, 5);
  global.node_name.clear();
  global.all_nodes = true;
  cluster.slices = {fabric, global};
  cluster.selector_matches = [](const std::vector<NodeSelectorTerm>&) { return false; };
  const ResourceClaim two = claim_of("two", {exactly("gpus", gpus(2))});
  EXPECT_FALSE(cluster.allocate("node-a", {&two}));  // only the allNodes device is visible
  const ResourceClaim one = claim_of("one", {exactly("gpus", gpus(1))});
  auto result = cluster.allocate("node-a", {&one});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-5"));
  EXPECT_TRUE(result->results[0].node_selector.empty());  // reachable from every node
  cluster.selector_matches = [](const std::vector<NodeSelectorTerm>& terms) {
    return terms[0].match_expressions[0].values[0] == "r1";
  };
  result = cluster.allocate("node-a", {&two});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(device_names(result->results[0]), ElementsAre("gpu-0", "gpu-1"));
  ASSERT_EQ(result->results[0].node_selector.size(), 1u);
  EXPECT_EQ(result->results[0].node_selector[0].match_expressions[0].key, "rack");
}

struct InvalidCase {
  std::string name;
  ResourceClaim claim;
  std::string message;
};

void PrintTo(const InvalidCase& c, std::ostream* os) {
  *os << c.name;
}

class AllocatorInvalid : public testing::TestWithParam<InvalidCase> {};

TEST_P(AllocatorInvalid, SaysWhy) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8)};
  auto result = cluster.allocate("node-a", {&GetParam().claim});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, AllocationFailure::Kind::kInvalid);
  EXPECT_THAT(result.error().message, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Claims, AllocatorInvalid,
    testing::Values(
        InvalidCase{"missing_class",
                    claim_of("c", {exactly("gpus",
                                           DeviceChoice{
                                               "tpu", {}, AllocationMode::kExactCount, 1, false})}),
                    "claim team/c, request gpus: could not retrieve device class tpu: "
                    "deviceclass.resource.k8s.io \"tpu\" not found"},
        InvalidCase{"unsupported_cel",
                    claim_of("c", {exactly("gpus", gpus(1, {"size(device.driver) > 0"}))}),
                    "claim team/c: selector #0: CEL compile error: unsupported CEL function "
                    "\"size\""},
        InvalidCase{
            "missing_attribute",
            claim_of("c",
                     {exactly("gpus",
                              gpus(1, {R"(device.attributes["gpu.example.com"].numa == 0)"}))}),
            "claim team/c: selector #0 on device gpu.example.com/node-a/gpu-0: CEL "
            "runtime error: no such key: numa"},
        InvalidCase{"over_claim_limit", claim_of("c", {exactly("gpus", gpus(33))}),
                    "claim team/c: number of requested devices 33 exceeds the claim limit of 32"},
        InvalidCase{"empty_constraint",
                    claim_of("c", {exactly("gpus", gpus(1))}, {DeviceConstraint{{}, ""}}),
                    "claim team/c, constraint #0: empty constraint (unsupported constraint "
                    "type?)"}),
    [](const testing::TestParamInfo<InvalidCase>& param_info) { return param_info.param.name; });

TEST(Allocator, ClassSelectorErrorsNameTheClass) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 1)};
  cluster.classes["gpu"].selectors = {R"(device.attributes["gpu.example.com"].vendor == "x")"};
  const ResourceClaim claim = claim_of("c", {exactly("gpus", gpus(1))});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "class gpu: selector #0 on device gpu.example.com/node-a/gpu-0: CEL runtime error: no "
            "such key: vendor");
}

// The issue's scenario: 2 NVLink islands of 4 GPUs; claims of 4 GPUs on one island.
TEST(Allocator, FourGpuClaimsOnOneIslandEach) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8, /*island_size=*/4)};
  const ResourceClaim claim = claim_of("train", {exactly("gpus", gpus(4))},
                                       {DeviceConstraint{{}, "gpu.example.com/cliqueId"}});
  cluster.allocated = {{kDriver, "node-a", "gpu-1"}};  // island 0 has 3 free: not enough
  auto first = cluster.allocate_and_commit("node-a", claim);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_THAT(device_names(first->results[0]), ElementsAre("gpu-4", "gpu-5", "gpu-6", "gpu-7"));
  cluster.allocated.erase({kDriver, "node-a", "gpu-1"});
  auto second = cluster.allocate_and_commit("node-a", claim);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_THAT(device_names(second->results[0]), ElementsAre("gpu-0", "gpu-1", "gpu-2", "gpu-3"));
  auto third = cluster.allocate("node-a", {&claim});
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().message, "cannot allocate all claims");
}

TEST(Allocator, IslandPreferenceChoosesFewestIslands) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8, /*island_size=*/4)};
  cluster.allocated = {{kDriver, "node-a", "gpu-0"}, {kDriver, "node-a", "gpu-1"}};
  const ResourceClaim claim = claim_of("two", {exactly("gpus", gpus(4))});
  // First fit spans both islands (gpu-2, gpu-3 of island 0; gpu-4, gpu-5 of island 1).
  auto first_fit = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(first_fit);
  EXPECT_THAT(device_names(first_fit->results[0]), ElementsAre("gpu-2", "gpu-3", "gpu-4", "gpu-5"));
  EXPECT_EQ(first_fit->islands, 0);  // no preference asked
  cluster.options.island_of = island_by_attribute("gpu.example.com/cliqueId");
  auto preferred = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(preferred) << preferred.error().message;
  EXPECT_THAT(device_names(preferred->results[0]), ElementsAre("gpu-4", "gpu-5", "gpu-6", "gpu-7"));
  EXPECT_EQ(preferred->islands, 1);
  // Two claims of 2 and 3 GPUs: together they span the fewest islands (2; 6 GPUs are free).
  const ResourceClaim a = claim_of("a", {exactly("gpus", gpus(2))});
  const ResourceClaim b = claim_of("b", {exactly("gpus", gpus(3))});
  auto both = cluster.allocate("node-a", {&a, &b});
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->islands, 2);
  // A callback may give islands from elsewhere (the node's link graph): odd and even GPUs.
  cluster.options.island_of = [](const CandidateDevice& d) -> std::optional<std::string> {
    return std::to_string(std::get<int64_t>(d.device->attributes.at("gpu.example.com/index")) % 2);
  };
  const ResourceClaim three = claim_of("three", {exactly("gpus", gpus(3))});
  auto by_parity = cluster.allocate("node-a", {&three});
  ASSERT_TRUE(by_parity) << by_parity.error().message;
  EXPECT_THAT(device_names(by_parity->results[0]), ElementsAre("gpu-2", "gpu-4", "gpu-6"));
  EXPECT_EQ(by_parity->islands, 1);
}

TEST(Allocator, FirstAvailableOrderComesBeforeTheIslandPreference) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8, /*island_size=*/4)};
  cluster.options.island_of = island_by_attribute("gpu.example.com/cliqueId");
  // Five GPUs span two islands, one GPU would span one: the first choice still wins.
  DeviceRequest request{"gpus", std::nullopt, {{"five", gpus(5)}, {"one", gpus(1)}}};
  const ResourceClaim claim = claim_of("flexible", {request});
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->results[0].devices.size(), 5u);
  EXPECT_EQ(result->results[0].devices[0].request, "gpus/five");
  EXPECT_EQ(result->islands, 2);
}

TEST(Allocator, TheSearchIsBoundedInSteps) {
  Cluster cluster;
  cluster.slices = {gpu_slice("node-a", 8, 1)};  // eight islands of one
  // Impossible: 5 devices sharing a clique of one. The full search tries C(8,1)+... placements.
  const ResourceClaim claim =
      claim_of("c", {exactly("gpus", gpus(5))}, {DeviceConstraint{{}, "gpu.example.com/cliqueId"}});
  cluster.options.max_steps = 5;
  auto result = cluster.allocate("node-a", {&claim});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "cannot allocate all claims: no allocation found within 5 steps");
  cluster.options.max_steps = 100'000;
  result = cluster.allocate("node-a", {&claim});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "cannot allocate all claims");
}

}  // namespace
}  // namespace fairway::dra
