#include "topology/gpu_link_graph.h"

#include <gtest/gtest.h>

#include <bit>

#include "topology/gpu_topology.h"

namespace fairway {
namespace {

GpuLinkGraph hgx() {
  return *GpuLinkGraph::build(8, *infer_gpu_links("NVIDIA-H100-80GB-HBM3", 8));
}

// Two NVLink pairs (0-1, 2-3) on one PCIe switch each, the pairs on different sockets.
GpuLinkGraph pairs() {
  const std::vector<GpuLink> links = {
      {0, 1, GpuLinkType::kNvLink, 600}, {2, 3, GpuLinkType::kNvLink, 600},
      {0, 2, GpuLinkType::kSmp, 0},      {0, 3, GpuLinkType::kSmp, 0},
      {1, 2, GpuLinkType::kSmp, 0},      {1, 3, GpuLinkType::kSmp, 0},
  };
  return *GpuLinkGraph::build(4, links);
}

TEST(GpuLinkGraph, HgxIsOneNvSwitchIsland) {
  const GpuLinkGraph graph = hgx();
  EXPECT_TRUE(graph.one_island());
  EXPECT_EQ(graph.widest(0, 7), 900);
  EXPECT_EQ(graph.bottleneck(graph.all_gpus()), 900);
}

TEST(GpuLinkGraph, PcieCardsHaveNoIslandLargerThanOne) {
  const GpuLinkGraph graph = *GpuLinkGraph::build(2, *infer_gpu_links("NVIDIA-L4", 2));
  EXPECT_FALSE(graph.one_island());
  EXPECT_EQ(graph.islands().size(), 2U);
  EXPECT_EQ(graph.largest_free_island(graph.all_gpus()), 1);
  EXPECT_EQ(graph.widest(0, 1), default_bandwidth_gbps(GpuLinkType::kPcie));
}

TEST(GpuLinkGraph, WidestPathGoesAroundASlowDirectLink) {
  // 0-2 is slow PCIe, but 0-1-2 is NVLink all the way: the widest path is 300.
  const std::vector<GpuLink> links = {{0, 1, GpuLinkType::kNvLink, 300},
                                      {1, 2, GpuLinkType::kNvLink, 300},
                                      {0, 2, GpuLinkType::kPcie, 32}};
  const GpuLinkGraph graph = *GpuLinkGraph::build(3, links);
  EXPECT_EQ(graph.widest(0, 2), 300);
  EXPECT_TRUE(graph.one_island());
}

TEST(GpuLinkGraph, SeveralNvLinksBetweenTheSamePairAddUp) {
  const std::vector<GpuLink> links = {{0, 1, GpuLinkType::kNvLink, 50},
                                      {1, 0, GpuLinkType::kNvLink, 50},
                                      {0, 1, GpuLinkType::kPcieSwitch, 64}};
  const GpuLinkGraph graph = *GpuLinkGraph::build(2, links);
  EXPECT_EQ(graph.widest(0, 1), 100);
}

TEST(GpuLinkGraph, IslandsAndBottleneckOfPairs) {
  const GpuLinkGraph graph = pairs();
  EXPECT_EQ(graph.islands().size(), 2U);
  EXPECT_EQ(graph.bottleneck(0b0011), 600);
  EXPECT_EQ(graph.bottleneck(0b0101), default_bandwidth_gbps(GpuLinkType::kSmp));
  EXPECT_FALSE(graph.bottleneck(0b0001));
}

TEST(GpuLinkGraph, ChooseTakesTheSmallestIslandThatHoldsThePod) {
  const GpuLinkGraph graph = pairs();
  // GPU 0 busy: the pair 2-3 is whole, the pair 0-1 has one free. A 1-GPU pod takes GPU 1 and
  // keeps the whole pair for a 2-GPU pod.
  EXPECT_EQ(graph.choose(0b1110, 1), 0b0010U);
  EXPECT_EQ(graph.choose(0b1110, 2), 0b1100U);
  EXPECT_EQ(std::popcount(graph.choose(0b1110, 3)), 3);
  EXPECT_EQ(graph.choose(0b1110, 4), 0U);
}

TEST(GpuLinkGraph, AssumedUsageFillsSmallIslandsFirst) {
  const std::vector<GpuLink> links = {{0, 1, GpuLinkType::kNvLink, 600},
                                      {1, 2, GpuLinkType::kNvLink, 600}};
  const GpuLinkGraph graph = *GpuLinkGraph::build(4, links);  // islands {0,1,2} and {3}
  EXPECT_EQ(graph.assume_used(1), 0b1000U);
  EXPECT_EQ(graph.assume_used(2), 0b1001U);
}

TEST(GpuLinkGraph, RejectsBadLinks) {
  const std::vector<GpuLink> self = {{1, 1, GpuLinkType::kNvLink, 0}};
  EXPECT_FALSE(GpuLinkGraph::build(2, self));
  const std::vector<GpuLink> outside = {{0, 5, GpuLinkType::kNvLink, 0}};
  EXPECT_FALSE(GpuLinkGraph::build(2, outside));
  EXPECT_FALSE(GpuLinkGraph::build(65, {}));
}

}  // namespace
}  // namespace fairway
