#include "topology/fabric_tree.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fairway {
namespace {

using ::testing::ElementsAre;

TopologySpec three_levels() {
  return {
      "fabric",
      {{"example.com/spine", 25.0}, {"example.com/rack", 50.0}, {"kubernetes.io/hostname", {}}}};
}

LabelMap node(const std::string& spine, const std::string& rack, const std::string& host) {
  LabelMap labels{{"kubernetes.io/hostname", host}};
  if (!spine.empty()) labels["example.com/spine"] = spine;
  if (!rack.empty()) labels["example.com/rack"] = rack;
  return labels;
}

TEST(FabricTree, GroupsNodesIntoNestedDomainsWithContiguousRanges) {
  const std::vector<LabelMap> labels = {node("s1", "r1", "a"), node("s2", "r3", "b"),
                                        node("s1", "r2", "c"), node("s1", "r1", "d")};
  std::vector<const LabelMap*> slots;
  for (const auto& l : labels) slots.push_back(&l);
  const FabricTree tree = FabricTree::build(three_levels(), slots);
  ASSERT_EQ(tree.levels(), 3U);
  EXPECT_EQ(tree.domains(0).size(), 2U);  // s1, s2
  EXPECT_EQ(tree.domains(1).size(), 3U);  // r1, r3, r2
  const DomainId r1 = tree.domain_of(1, 0);
  EXPECT_EQ(tree.domain_of(1, 3), r1);
  EXPECT_EQ(tree.domain_name(1, r1), "r1");
  EXPECT_THAT(tree.nodes_in(1, r1), ElementsAre(0U, 3U));
  const DomainId s1 = tree.domain_of(0, 0);
  EXPECT_EQ(tree.nodes_in(0, s1).size(), 3U);
  EXPECT_THAT(tree.domain(0, s1).children.size(), 2U);
  EXPECT_EQ(tree.domain(1, r1).parent, s1);
}

TEST(FabricTree, SameRackNameUnderDifferentSpinesIsTwoRacks) {
  const std::vector<LabelMap> labels = {node("s1", "r1", "a"), node("s2", "r1", "b")};
  const FabricTree tree = FabricTree::build(three_levels(), {{&labels[0], &labels[1]}});
  EXPECT_NE(tree.domain_of(1, 0), tree.domain_of(1, 1));
}

TEST(FabricTree, NodesWithoutALabelGoToTheUnknownDomainNotNowhere) {
  const std::vector<LabelMap> labels = {node("s1", "", "a"), node("s1", "", "b"),
                                        node("", "", "c")};
  std::vector<const LabelMap*> slots = {&labels[0], nullptr, &labels[1], &labels[2]};
  const FabricTree tree = FabricTree::build(three_levels(), slots);
  EXPECT_EQ(tree.node_order().size(), 3U);  // the empty slot is not a node
  EXPECT_EQ(tree.domain_of(0, 1), kNoDomain);
  const DomainId unknown_rack = tree.domain_of(1, 0);
  EXPECT_TRUE(tree.domain(1, unknown_rack).unknown);
  EXPECT_EQ(tree.domain_of(1, 2), unknown_rack);
  EXPECT_EQ(tree.domain_name(1, unknown_rack), "(unlabelled)");
  EXPECT_TRUE(tree.domain(0, tree.domain_of(0, 3)).unknown);
}

TEST(FabricTree, FindsLevelsByLabelOrShortName) {
  const FabricTree tree = FabricTree::build(three_levels(), {});
  EXPECT_EQ(tree.level_index("example.com/rack"), 1U);
  EXPECT_EQ(tree.level_index("rack"), 1U);
  EXPECT_EQ(tree.level_index("hostname"), 2U);
  EXPECT_FALSE(tree.level_index("zone"));
  EXPECT_EQ(tree.level_name(0), "spine");
}

TEST(FabricTree, BandwidthFallsBackToTheLevelAbove) {
  const FabricTree tree = FabricTree::build(three_levels(), {});
  EXPECT_EQ(tree.bandwidth_at(1), 50.0);
  EXPECT_EQ(tree.bandwidth_at(2), 50.0);  // hostname has none: a rack's is a lower bound
  const FabricTree bare = FabricTree::build({"t", {{"rack", {}}}}, {});
  EXPECT_FALSE(bare.bandwidth_at(0));
}

TEST(FabricCapacity, AggregatesAndUpdatesFreeGpusPerDomain) {
  const std::vector<LabelMap> labels = {node("s1", "r1", "a"), node("s1", "r2", "b"),
                                        node("s2", "r3", "c")};
  const FabricTree tree = FabricTree::build(three_levels(), {{&labels[0], &labels[1], &labels[2]}});
  const std::vector<int64_t> free = {8, 4, 2};
  const std::vector<int64_t> total = {8, 8, 8};
  FabricCapacity capacity(tree, free, total);
  const DomainId s1 = tree.domain_of(0, 0);
  EXPECT_EQ(capacity.free(0, s1), 12);
  EXPECT_EQ(capacity.total(0, s1), 16);
  capacity.adjust(1, -4);
  EXPECT_EQ(capacity.free(0, s1), 8);
  EXPECT_EQ(capacity.free(1, tree.domain_of(1, 1)), 0);
  EXPECT_EQ(capacity.free(2, tree.domain_of(2, 1)), 0);
  capacity.adjust(7, 3);  // not a node of the tree: ignored
  EXPECT_EQ(capacity.free(0, s1), 8);
}

}  // namespace
}  // namespace fairway

namespace fairway {
namespace {

TEST(FabricCapacity, MaxNodeFreeIsAnUpperBoundRaisedOnGive) {
  const std::vector<LabelMap> labels = {{{"rack", "r"}, {"host", "a"}},
                                        {{"rack", "r"}, {"host", "b"}}};
  const FabricTree tree =
      FabricTree::build({"t", {{"rack", {}}, {"host", {}}}}, {{&labels[0], &labels[1]}});
  EXPECT_TRUE(tree.one_node_per_domain(1));
  EXPECT_FALSE(tree.one_node_per_domain(0));
  const std::vector<int64_t> free = {3, 5};
  const std::vector<int64_t> total = {8, 8};
  FabricCapacity capacity(tree, free, total);
  const DomainId rack = tree.domain_of(0, 0);
  EXPECT_EQ(capacity.max_node_free(0, rack), 5);
  capacity.adjust(1, -5);
  EXPECT_EQ(capacity.max_node_free(0, rack), 5);  // stale but still a bound
  capacity.adjust(0, 4);
  EXPECT_EQ(capacity.max_node_free(0, rack), 7);
}

}  // namespace
}  // namespace fairway
