#include "queues/drf_order.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "unit/queues/queue_builders.h"

namespace fairway {
namespace {

using testing::gpus;
using testing::gpus_cpus;
using testing::NamedUsage;
using testing::QueueBuilder;

// Owns everything a DrfOrder points at, so the order can be exercised in place.
class Fixture {
 public:
  Fixture(const std::vector<QueueSpec>& specs, const ResourceVector& capacity,
          const std::vector<NamedUsage>& usage) {
    tree_ = QueueTree::build(specs, registry_);
    shares_ =
        compute_fair_shares(tree_, capacity, testing::usage_for(tree_, usage), registry_.size());
    order_ = std::make_unique<DrfOrder>(tree_, shares_);
    for (const auto& entry : usage) order_->set_active(index(entry.queue), true);
  }

  QueueIndex index(const std::string& name) const { return tree_.find(name).value_or(kNoQueue); }
  DrfOrder& order() { return *order_; }
  std::string pick() const {
    const auto picked = order_->pick();
    return picked ? tree_.node(*picked).name : "<none>";
  }

 private:
  ResourceRegistry registry_;
  QueueTree tree_;
  FairShares shares_;
  std::unique_ptr<DrfOrder> order_;
};

TEST(DrfOrder, StarvedQueueGoesFirst) {
  // Fair shares: a 40 (quota) + 30 = 70, b 30. Dominant shares: a 30/70, b 10/30 — b is lower,
  // but a holds less than its quota of 40 and wants more, so a is served first.
  Fixture f({QueueBuilder("a").gpu(40), QueueBuilder("b")}, gpus(100),
            {{"a", gpus(30), gpus(70)}, {"b", gpus(10), gpus(90)}});
  EXPECT_TRUE(f.order().starved(f.index("a")));
  EXPECT_FALSE(f.order().starved(f.index("b")));
  EXPECT_EQ(f.pick(), "a");
  // Once a reaches its quota it is no longer starved, and b's lower dominant share wins.
  f.order().charge(f.index("a"), gpus(10));
  EXPECT_FALSE(f.order().starved(f.index("a")));
  EXPECT_EQ(f.pick(), "b");
}

TEST(DrfOrder, BelowQuotaWithoutDemandIsNotStarved) {
  Fixture f({QueueBuilder("a").gpu(40)}, gpus(100), {{"a", gpus(5), {}}});
  EXPECT_FALSE(f.order().starved(f.index("a")));
}

TEST(DrfOrder, LowerDominantShareFirstAndChargeMovesIt) {
  // Equal fair shares of 50: a holds 20 (0.4), b 10 (0.2).
  Fixture f({QueueBuilder("a"), QueueBuilder("b")}, gpus(100),
            {{"a", gpus(20), gpus(80)}, {"b", gpus(10), gpus(90)}});
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("a")), 0.4);
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("b")), 0.2);
  EXPECT_EQ(f.pick(), "b");
  f.order().charge(f.index("b"), gpus(20));  // b: 30/50 = 0.6
  EXPECT_EQ(f.order().allocated(f.index("b"))[kGpu], testing::units(30));
  EXPECT_EQ(f.pick(), "a");
}

TEST(DrfOrder, DominantShareIsTheLargestOverResources) {
  // Fair shares 50 GPUs / 100 CPUs each. a: 10/50, 80/100 → 0.8. b: 30/50, 10/100 → 0.6.
  Fixture f(
      {QueueBuilder("a"), QueueBuilder("b")}, gpus_cpus(100, 200),
      {{"a", gpus_cpus(10, 80), gpus_cpus(90, 120)}, {"b", gpus_cpus(30, 10), gpus_cpus(70, 190)}});
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("a")), 0.8);
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("b")), 0.6);
  EXPECT_EQ(f.pick(), "b");
}

TEST(DrfOrder, AllocationWithoutFairShareIsInfinite) {
  Fixture f({QueueBuilder("a")}, ResourceVector{}, {{"a", gpus(1), {}}});
  EXPECT_TRUE(std::isinf(f.order().dominant_share(f.index("a"))));
  // Zero over zero is ignored.
  Fixture idle({QueueBuilder("a")}, ResourceVector{}, {{"a", {}, gpus(1)}});
  EXPECT_EQ(idle.order().dominant_share(idle.index("a")), 0.0);
}

TEST(DrfOrder, PriorityThenNameBreakTies) {
  const std::vector<NamedUsage> usage = {{"a", gpus(10), gpus(40)}, {"b", gpus(10), gpus(40)}};
  Fixture by_priority({QueueBuilder("a"), QueueBuilder("b").priority(5)}, gpus(100), usage);
  EXPECT_EQ(by_priority.pick(), "b");
  Fixture by_name({QueueBuilder("b"), QueueBuilder("a")}, gpus(100), usage);
  EXPECT_EQ(by_name.pick(), "a");
}

TEST(DrfOrder, HierarchyComparesAtTheLevelWhereSubtreesDiverge) {
  // Roots p1 and p2 get 50 each. p1 holds 40 (0.8) although a1 inside it holds nothing;
  // p2 holds 20 (0.4). p2 wins at the root, so b is picked before a1.
  Fixture f({QueueBuilder("p1"), QueueBuilder("p2"), QueueBuilder("a1", "p1"),
             QueueBuilder("a2", "p1"), QueueBuilder("b", "p2")},
            gpus(100),
            {{"a1", {}, gpus(50)}, {"a2", gpus(40), gpus(10)}, {"b", gpus(20), gpus(80)}});
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("p1")), 0.8);
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("a1")), 0.0);
  EXPECT_EQ(f.pick(), "b");
  // Charging b moves p2 past p1: 50/50 = 1.0 > 0.8.
  f.order().charge(f.index("b"), gpus(30));
  EXPECT_DOUBLE_EQ(f.order().dominant_share(f.index("p2")), 1.0);
  EXPECT_EQ(f.pick(), "a1");
}

TEST(DrfOrder, OnlyActiveLeavesArePicked) {
  Fixture f({QueueBuilder("p"), QueueBuilder("x", "p"), QueueBuilder("y")}, gpus(10), {});
  EXPECT_EQ(f.pick(), "<none>");
  f.order().set_active(f.index("p"), true);  // inner queues hold no pods: ignored
  EXPECT_EQ(f.pick(), "<none>");
  f.order().set_active(f.index("x"), true);
  f.order().set_active(f.index("x"), true);  // idempotent
  EXPECT_EQ(f.pick(), "x");
  f.order().set_active(f.index("x"), false);
  EXPECT_EQ(f.pick(), "<none>");
  f.order().set_active(f.index("y"), true);
  EXPECT_EQ(f.pick(), "y");
}

TEST(DrfOrder, ChargeRollsUpToAncestors) {
  Fixture f({QueueBuilder("p"), QueueBuilder("x", "p")}, gpus(10), {{"x", {}, gpus(4)}});
  f.order().charge(f.index("x"), gpus(2));
  EXPECT_EQ(f.order().allocated(f.index("p"))[kGpu], testing::units(2));
  EXPECT_EQ(f.order().allocated(f.index("x"))[kGpu], testing::units(2));
}

}  // namespace
}  // namespace fairway
