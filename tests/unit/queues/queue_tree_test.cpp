#include "queues/queue_tree.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "unit/queues/queue_builders.h"

namespace fairway {
namespace {

using ::testing::ElementsAre;
using testing::QueueBuilder;
using testing::units;

std::vector<std::string> names(const QueueTree& tree, const std::vector<QueueIndex>& indices) {
  std::vector<std::string> out;
  out.reserve(indices.size());
  for (QueueIndex i : indices) out.push_back(tree.node(i).name);
  return out;
}

// (queue, reason) pairs, in the tree's reporting order.
std::vector<std::pair<std::string, std::string>> reasons(const QueueTree& tree) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& problem : tree.problems()) out.emplace_back(problem.queue, problem.reason);
  return out;
}

QueueTree build(const std::vector<QueueSpec>& specs) {
  ResourceRegistry registry;
  return QueueTree::build(specs, registry);
}

using Reason = std::pair<std::string, std::string>;

TEST(QueueTree, BuildsHierarchyInDeterministicOrder) {
  const QueueTree tree = build({QueueBuilder("vision", "research"), QueueBuilder("research"),
                                QueueBuilder("nlp", "research"), QueueBuilder("infra"),
                                QueueBuilder("detection", "vision")});
  EXPECT_TRUE(tree.problems().empty());
  // The implicit default sits among the roots, sorted by name.
  EXPECT_THAT(names(tree, tree.roots()), ElementsAre("default", "infra", "research"));
  const QueueNode& research = tree.node(*tree.find("research"));
  EXPECT_THAT(names(tree, research.children), ElementsAre("nlp", "vision"));
  EXPECT_EQ(tree.node(*tree.find("detection")).depth, 2U);
  EXPECT_EQ(tree.node(*tree.find("vision")).parent, *tree.find("research"));

  // Parents come before children in top_down().
  const auto& order = tree.top_down();
  ASSERT_EQ(order.size(), tree.size());
  std::vector<size_t> position(tree.size());
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    if (tree.node(q).parent == kNoQueue) continue;
    EXPECT_LT(position[tree.node(q).parent], position[q]);
  }
}

TEST(QueueTree, SameTreeWhateverTheInputOrder) {
  std::vector<QueueSpec> specs = {QueueBuilder("b"), QueueBuilder("a"), QueueBuilder("c", "a"),
                                  QueueBuilder("bad", "nowhere")};
  const QueueTree first = build(specs);
  std::reverse(specs.begin(), specs.end());
  const QueueTree second = build(specs);
  EXPECT_EQ(names(first, first.top_down()), names(second, second.top_down()));
  EXPECT_EQ(reasons(first), reasons(second));
}

TEST(QueueTree, ImplicitDefaultWhenNoneDeclared) {
  const QueueTree tree = build({QueueBuilder("team")});
  ASSERT_NE(tree.default_queue(), kNoQueue);
  const QueueNode& node = tree.node(tree.default_queue());
  EXPECT_EQ(node.name, "default");
  EXPECT_TRUE(node.implicit);
  EXPECT_TRUE(node.is_leaf());
  EXPECT_EQ(node.parent, kNoQueue);
  EXPECT_EQ(node.quota[kGpu], 0);
  EXPECT_EQ(node.limit_of(kGpu), kUnlimited);
}

TEST(QueueTree, DeclaredDefaultIsUsed) {
  const QueueTree tree = build({QueueBuilder("default", "shared").gpu(2), QueueBuilder("shared")});
  ASSERT_NE(tree.default_queue(), kNoQueue);
  const QueueNode& node = tree.node(tree.default_queue());
  EXPECT_FALSE(node.implicit);
  EXPECT_EQ(node.depth, 1U);
  EXPECT_EQ(tree.size(), 2U);
}

TEST(QueueTree, InvalidDefaultIsReplacedByImplicitOne) {
  const QueueTree tree = build({QueueBuilder("default").gpu(-1)});
  ASSERT_NE(tree.default_queue(), kNoQueue);
  EXPECT_TRUE(tree.node(tree.default_queue()).implicit);
  ASSERT_NE(tree.problem_of("default"), nullptr);
  EXPECT_EQ(tree.problem_of("default")->reason, "NegativeQuota");
}

TEST(QueueTree, SpecThatCouldNotBeReadBlocksTheQueueAndItsSubtree) {
  QueueSpec broken = QueueBuilder("org").gpu(8);
  broken.problems.push_back("spec.resources.cpu.quota: quantity \"lots\": not a number");
  const QueueTree tree = build({broken, QueueBuilder("team", "org").gpu(4), QueueBuilder("other").gpu(4)});
  EXPECT_THAT(reasons(tree), ElementsAre(Reason{"org", "InvalidSpec"}, Reason{"team", "ParentInvalid"}));
  ASSERT_NE(tree.problem_of("org"), nullptr);
  EXPECT_EQ(tree.problem_of("org")->message, broken.problems[0]);
}

TEST(QueueTree, DefaultWithChildrenIsReported) {
  const QueueTree tree = build({QueueBuilder("default"), QueueBuilder("x", "default")});
  EXPECT_EQ(tree.default_queue(), kNoQueue);
  EXPECT_THAT(reasons(tree), ElementsAre(Reason{"default", "DefaultQueueNotLeaf"}));
  EXPECT_FALSE(tree.problems()[0].blocking);
}

TEST(QueueTree, ResourcesAreInternedWithDefaults) {
  ResourceRegistry registry;
  const std::vector<QueueSpec> specs = {
      QueueBuilder("a").resource("example.com/fpga", 2, 4, 3).gpu(1)};
  const QueueTree tree = QueueTree::build(specs, registry);
  const auto fpga = registry.find("example.com/fpga");
  ASSERT_TRUE(fpga.has_value());
  const QueueNode& a = tree.node(*tree.find("a"));
  EXPECT_EQ(a.quota[*fpga], units(2));
  EXPECT_EQ(a.limit_of(*fpga), units(4));
  EXPECT_EQ(a.weight_of(*fpga), 3.0);
  // Absent limits are unlimited and absent weights 1, also for ids inside the vector's size.
  EXPECT_EQ(a.limit_of(kGpu), kUnlimited);
  EXPECT_EQ(a.limit_of(kCpu), kUnlimited);
  EXPECT_EQ(a.weight_of(kCpu), 1.0);
}

TEST(QueueTree, EmptyName) {
  const QueueTree tree = build({QueueBuilder(""), QueueBuilder("ok")});
  EXPECT_THAT(reasons(tree), ElementsAre(Reason{"", "InvalidName"}));
  EXPECT_TRUE(tree.find("ok").has_value());
}

TEST(QueueTree, DuplicateNameBlocksEveryCopyAndTheirChildren) {
  const QueueTree tree = build({QueueBuilder("a").gpu(1), QueueBuilder("a").gpu(2),
                                QueueBuilder("child", "a"), QueueBuilder("b")});
  EXPECT_FALSE(tree.find("a").has_value());
  EXPECT_FALSE(tree.find("child").has_value());
  EXPECT_TRUE(tree.find("b").has_value());
  EXPECT_THAT(reasons(tree), ElementsAre(Reason{"a", "DuplicateName"}, Reason{"a", "DuplicateName"},
                                         Reason{"child", "ParentInvalid"}));
  ASSERT_NE(tree.problem_of("child"), nullptr);
  EXPECT_THAT(tree.problem_of("child")->message, ::testing::HasSubstr("\"a\""));
}

TEST(QueueTree, UnknownParentBlocksSubtreeOnly) {
  const QueueTree tree = build({QueueBuilder("orphan", "ghost"), QueueBuilder("kid", "orphan"),
                                QueueBuilder("grandkid", "kid"), QueueBuilder("fine")});
  EXPECT_THAT(reasons(tree),
              ElementsAre(Reason{"grandkid", "ParentInvalid"}, Reason{"kid", "ParentInvalid"},
                          Reason{"orphan", "UnknownParent"}));
  for (const auto& problem : tree.problems()) EXPECT_TRUE(problem.blocking);
  // The descendants name the root cause, not just their parent.
  EXPECT_THAT(tree.problem_of("grandkid")->message, ::testing::HasSubstr("\"orphan\""));
  EXPECT_THAT(tree.problem_of("grandkid")->message, ::testing::HasSubstr("UnknownParent"));
  EXPECT_TRUE(tree.find("fine").has_value());
  EXPECT_EQ(tree.size(), 2U);  // fine + implicit default
}

TEST(QueueTree, CycleMarksEveryMemberAndBlocksHangers) {
  const QueueTree tree =
      build({QueueBuilder("a", "c"), QueueBuilder("b", "a"), QueueBuilder("c", "b"),
             QueueBuilder("d", "a"), QueueBuilder("self", "self"), QueueBuilder("ok")});
  EXPECT_THAT(reasons(tree),
              ElementsAre(Reason{"a", "Cycle"}, Reason{"b", "Cycle"}, Reason{"c", "Cycle"},
                          Reason{"d", "ParentInvalid"}, Reason{"self", "Cycle"}));
  EXPECT_TRUE(tree.find("ok").has_value());
  EXPECT_FALSE(tree.find("self").has_value());
}

TEST(QueueTree, BadNumbersAreBlocking) {
  const QueueTree tree =
      build({QueueBuilder("neg-quota").gpu(-1), QueueBuilder("neg-limit").gpu(0, -2),
             QueueBuilder("over").gpu(8, 4), QueueBuilder("neg-weight").gpu(1, {}, -0.5),
             QueueBuilder("nan-weight").gpu(1, {}, std::nan("")), QueueBuilder("child", "over"),
             QueueBuilder("valid").gpu(8, 8, 0)});
  EXPECT_THAT(
      reasons(tree),
      ElementsAre(Reason{"child", "ParentInvalid"}, Reason{"nan-weight", "InvalidWeight"},
                  Reason{"neg-limit", "NegativeLimit"}, Reason{"neg-quota", "NegativeQuota"},
                  Reason{"neg-weight", "NegativeWeight"}, Reason{"over", "QuotaAboveLimit"}));
  EXPECT_EQ(tree.size(), 2U);  // valid + implicit default
  EXPECT_EQ(tree.node(*tree.find("valid")).quota[kGpu], units(8));
}

TEST(QueueTree, ChildrenQuotaAboveParentIsAWarningAndScales) {
  const QueueTree tree = build(
      {QueueBuilder("p").gpu(40), QueueBuilder("x", "p").gpu(30), QueueBuilder("y", "p").gpu(50)});
  ASSERT_THAT(reasons(tree), ElementsAre(Reason{"p", "ChildrenQuotaExceedParent"}));
  EXPECT_FALSE(tree.problems()[0].blocking);
  EXPECT_EQ(tree.problem_of("p"), nullptr);
  // 30:50 of 40 → 15 and 25; the queues stay usable.
  EXPECT_EQ(tree.node(*tree.find("x")).quota[kGpu], units(15));
  EXPECT_EQ(tree.node(*tree.find("y")).quota[kGpu], units(25));
  EXPECT_EQ(tree.node(*tree.find("p")).quota[kGpu], units(40));
}

TEST(QueueTree, ParentWithoutQuotaRollsChildrenQuotasUp) {
  // Neither an absent resource nor quota 0 (a limit alone) takes the children's guarantees away.
  const QueueTree tree = build({QueueBuilder("p").resource("cpu", 10),
                                QueueBuilder("x", "p").gpu(3), QueueBuilder("y", "p").gpu(4),
                                QueueBuilder("q").gpu(0, 80), QueueBuilder("z", "q").gpu(20)});
  EXPECT_TRUE(tree.problems().empty());
  EXPECT_EQ(tree.node(*tree.find("p")).quota[kGpu], units(7));
  EXPECT_EQ(tree.node(*tree.find("x")).quota[kGpu], units(3));
  EXPECT_EQ(tree.node(*tree.find("q")).quota[kGpu], units(20));
  EXPECT_EQ(tree.node(*tree.find("z")).quota[kGpu], units(20));
}

TEST(QueueTree, RolledUpQuotaIsCappedByParentLimit) {
  // p: no quota, limit 5; children 3 + 7 → p guarantees 5, children scaled 3:7 → 1.5 and 3.5.
  const QueueTree tree = build(
      {QueueBuilder("p").gpu(0, 5), QueueBuilder("x", "p").gpu(3), QueueBuilder("y", "p").gpu(7)});
  EXPECT_THAT(reasons(tree), ElementsAre(Reason{"p", "ChildrenQuotaExceedParent"}));
  EXPECT_FALSE(tree.problems()[0].blocking);
  EXPECT_EQ(tree.node(*tree.find("p")).quota[kGpu], units(5));
  EXPECT_EQ(tree.node(*tree.find("x")).quota[kGpu], units(1.5));
  EXPECT_EQ(tree.node(*tree.find("y")).quota[kGpu], units(3.5));
}

TEST(QueueTree, ScalingCascadesDownTheTree) {
  // root (10) > mid (no GPU quota: rolls up 20) > leaves 5 + 15. mid is scaled to 10 at the root,
  // then its leaves to 2.5 and 7.5. Only the root, whose own quota is exceeded, is warned about.
  const QueueTree tree =
      build({QueueBuilder("root").gpu(10), QueueBuilder("mid", "root"),
             QueueBuilder("l1", "mid").gpu(5), QueueBuilder("l2", "mid").gpu(15)});
  EXPECT_THAT(reasons(tree), ElementsAre(Reason{"root", "ChildrenQuotaExceedParent"}));
  EXPECT_EQ(tree.node(*tree.find("mid")).quota[kGpu], units(10));
  EXPECT_EQ(tree.node(*tree.find("l1")).quota[kGpu], units(2.5));
  EXPECT_EQ(tree.node(*tree.find("l2")).quota[kGpu], units(7.5));
}

TEST(QueueTree, EmptyInputHasOnlyTheDefault) {
  const QueueTree tree = build({});
  EXPECT_EQ(tree.size(), 1U);
  EXPECT_TRUE(tree.node(tree.default_queue()).implicit);
  EXPECT_FALSE(tree.find("nope").has_value());
  EXPECT_EQ(tree.problem_of("nope"), nullptr);
}

}  // namespace
}  // namespace fairway
