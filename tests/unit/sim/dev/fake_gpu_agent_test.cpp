// The stand-in node agent's choices (sim/dev/fake_gpu_agent.h): which UUID each GPU of a fake node
// has, and which GPU a new reservation pod gets. Its watch and PATCH are covered end to end by
// tests/integration/dev_mode.sh and quick_start.sh.

#include "sim/dev/fake_gpu_agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

namespace fairway::dev {
namespace {

using nlohmann::json;

json node(const std::string& name, json gpus, json annotations = json::object()) {
  return {{"metadata", {{"name", name}, {"annotations", std::move(annotations)}}},
          {"status", {{"allocatable", {{"cpu", "64"}, {"nvidia.com/gpu", std::move(gpus)}}}}}};
}

TEST(FakeGpuUuid, HasTheShapeOfAnNvmlUuidAndIsTheSameForTheSameGpu) {
  const std::regex shape("GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  EXPECT_TRUE(std::regex_match(fake_gpu_uuid("gpu-0", 0), shape)) << fake_gpu_uuid("gpu-0", 0);
  std::set<std::string> seen;
  for (const char* name : {"gpu-0", "gpu-1", "gpu-10", "a"}) {
    for (int index = 0; index < 16; ++index) {
      const std::string uuid = fake_gpu_uuid(name, index);
      EXPECT_TRUE(std::regex_match(uuid, shape)) << uuid;
      seen.insert(uuid);
    }
  }
  EXPECT_EQ(seen.size(), 64u);  // every GPU of every node its own
}

TEST(NodeGpuUuids, FakeOnesByIndexForEachAllocatableGpu) {
  const auto uuids = node_gpu_uuids(node("gpu-1", "4"));
  ASSERT_EQ(uuids.size(), 4u);
  for (int index = 0; index < 4; ++index) EXPECT_EQ(uuids[index], fake_gpu_uuid("gpu-1", index));
  EXPECT_EQ(node_gpu_uuids(node("gpu-1", 2)).size(), 2u);  // a number, not a string
}

TEST(NodeGpuUuids, TheTopologyAgentsUuidsWhenItListsEveryGpu) {
  const json topology = {{"version", 1},
                         {"gpus",
                          {{{"index", 1}, {"uuid", "GPU-bbbb"}, {"memoryMiB", 81559}},
                           {{"index", 0}, {"uuid", "GPU-aaaa"}, {"memoryMiB", 81559}}}}};
  EXPECT_THAT(node_gpu_uuids(node("gpu-0", "2", {{"fairway.dev/gpu-topology", topology.dump()}})),
              ::testing::ElementsAre("GPU-aaaa", "GPU-bbbb"));
}

TEST(NodeGpuUuids, AnUnusableTopologyFallsBackToFakeOnes) {
  for (const std::string& annotation :
       {std::string("not json"), std::string(R"({"gpus":[{"index":0}]})"),
        std::string(R"({"gpus":[{"index":0,"uuid":"GPU-a"},{"index":0,"uuid":"GPU-b"}]})"),
        std::string(R"({"gpus":[{"index":5,"uuid":"GPU-a"}]})"), std::string(R"({"gpus":{}})"),
        std::string("[]")}) {
    EXPECT_THAT(node_gpu_uuids(node("n", "1", {{"fairway.dev/gpu-topology", annotation}})),
                ::testing::ElementsAre(fake_gpu_uuid("n", 0)))
        << annotation;
  }
}

TEST(NodeGpuUuids, NoneForANodeWithoutGpusOrWithAnOddCount) {
  EXPECT_TRUE(node_gpu_uuids(node("n", "0")).empty());
  EXPECT_TRUE(node_gpu_uuids(node("n", "abc")).empty());
  EXPECT_TRUE(node_gpu_uuids(node("n", "1.5")).empty());
  EXPECT_TRUE(node_gpu_uuids(node("n", "-2")).empty());
  EXPECT_TRUE(node_gpu_uuids(node("n", nullptr)).empty());
  EXPECT_TRUE(node_gpu_uuids(json{{"metadata", {{"name", "n"}}}}).empty());
  EXPECT_TRUE(node_gpu_uuids(json()).empty());
  EXPECT_TRUE(node_gpu_uuids(json("a string")).empty());
}

TEST(FreeGpu, TheLowestIndexNobodyHolds) {
  const std::vector<std::string> gpus = {"GPU-0", "GPU-1", "GPU-2"};
  EXPECT_EQ(free_gpu(gpus, {}), "GPU-0");
  EXPECT_EQ(free_gpu(gpus, {"GPU-0", "GPU-2"}), "GPU-1");
  EXPECT_EQ(free_gpu(gpus, {"GPU-other"}), "GPU-0");  // a UUID not of this node holds nothing
  EXPECT_EQ(free_gpu(gpus, {"GPU-0", "GPU-1", "GPU-2"}), std::nullopt);
  EXPECT_EQ(free_gpu({}, {}), std::nullopt);
}

}  // namespace
}  // namespace fairway::dev
