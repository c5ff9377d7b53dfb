// Hand-worked fair-share tables. Every expectation is derived in the comment above it from the
// three steps in fair_share.h: quotas first, then the rest by priority bucket and weight, capped
// at min(demand, limit); then recurse into children.
#include "queues/fair_share.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "unit/queues/queue_builders.h"

namespace fairway {
namespace {

using testing::gpus;
using testing::gpus_cpus;
using testing::NamedUsage;
using testing::QueueBuilder;
using testing::units;

struct Result {
  ResourceRegistry registry;
  QueueTree tree;
  FairShares shares;

  QueueIndex index(const std::string& name) const {
    const auto found = tree.find(name);
    EXPECT_TRUE(found.has_value()) << name;
    return found.value_or(0);
  }
  // Fair share in whole units.
  double share(const std::string& name, ResourceId resource = kGpu) const {
    return shares.share(index(name), resource) / 1000.0;
  }
  double demand(const std::string& name, ResourceId resource = kGpu) const {
    return static_cast<double>(shares.demand[index(name)][resource]) / 1000.0;
  }
  double allocated(const std::string& name, ResourceId resource = kGpu) const {
    return static_cast<double>(shares.allocated[index(name)][resource]) / 1000.0;
  }
  double deserved(const std::string& name, ResourceId resource = kGpu) const {
    return static_cast<double>(shares.deserved[index(name)][resource]) / 1000.0;
  }
};

Result compute(const std::vector<QueueSpec>& specs, const ResourceVector& capacity,
               const std::vector<NamedUsage>& usage) {
  Result result;
  result.tree = QueueTree::build(specs, result.registry);
  const auto per_queue = testing::usage_for(result.tree, usage);
  result.shares = compute_fair_shares(result.tree, capacity, per_queue, result.registry.size());
  return result;
}

constexpr double kTolerance = 1e-9;

TEST(FairShare, QuotaOnlySingleLevel) {
  // 100 GPUs; a: quota 40, wants 30 → 30; b: quota 60, wants 60 → 60. The 10 left are wanted by
  // nobody and stay unassigned.
  const auto r = compute({QueueBuilder("a").gpu(40), QueueBuilder("b").gpu(60)}, gpus(100),
                         {{"a", {}, gpus(30)}, {"b", {}, gpus(60)}});
  EXPECT_NEAR(r.share("a"), 30, kTolerance);
  EXPECT_NEAR(r.share("b"), 60, kTolerance);
  EXPECT_NEAR(r.share("default"), 0, kTolerance);
}

TEST(FairShare, OverQuotaSplitByWeight) {
  // 100 GPUs; quotas 10 + 10 leave 80; weights 1:3 → 20 and 60 on top.
  const auto r = compute({QueueBuilder("a").gpu(10, {}, 1), QueueBuilder("b").gpu(10, {}, 3)},
                         gpus(100), {{"a", {}, gpus(100)}, {"b", {}, gpus(100)}});
  EXPECT_NEAR(r.share("a"), 30, kTolerance);
  EXPECT_NEAR(r.share("b"), 70, kTolerance);
}

TEST(FairShare, SatisfiedQueueReturnsTheRestToOthers) {
  // Quotas 10 + 10 leave 80. a wants only 5 more, b 90 more: level 40 each would overfill a,
  // so a gets 5 and b the remaining 75.
  const auto r = compute({QueueBuilder("a").gpu(10), QueueBuilder("b").gpu(10)}, gpus(100),
                         {{"a", {}, gpus(15)}, {"b", {}, gpus(100)}});
  EXPECT_NEAR(r.share("a"), 15, kTolerance);
  EXPECT_NEAR(r.share("b"), 85, kTolerance);
}

TEST(FairShare, HigherPriorityBucketIsSatisfiedFirst) {
  // c's quota 20 first; the 80 left go to bucket 10 (a, b: 40 each, both want more), none to c.
  const std::vector<QueueSpec> specs = {QueueBuilder("a").priority(10).gpu(0),
                                        QueueBuilder("b").priority(10).gpu(0),
                                        QueueBuilder("c").priority(0).gpu(20)};
  const auto hungry =
      compute(specs, gpus(100), {{"a", {}, gpus(70)}, {"b", {}, gpus(50)}, {"c", {}, gpus(100)}});
  EXPECT_NEAR(hungry.share("a"), 40, kTolerance);
  EXPECT_NEAR(hungry.share("b"), 40, kTolerance);
  EXPECT_NEAR(hungry.share("c"), 20, kTolerance);

  // Bucket 10 wants only 30 + 20; the 30 left over fall to c: 20 + 30.
  const auto modest =
      compute(specs, gpus(100), {{"a", {}, gpus(30)}, {"b", {}, gpus(20)}, {"c", {}, gpus(100)}});
  EXPECT_NEAR(modest.share("a"), 30, kTolerance);
  EXPECT_NEAR(modest.share("b"), 20, kTolerance);
  EXPECT_NEAR(modest.share("c"), 50, kTolerance);
}

TEST(FairShare, LimitCapsTheShare) {
  // a: quota 10, limit 25 → may take 15 more; b takes the other 65 of the 80 left.
  const auto r = compute({QueueBuilder("a").gpu(10, 25), QueueBuilder("b").gpu(10)}, gpus(100),
                         {{"a", {}, gpus(100)}, {"b", {}, gpus(100)}});
  EXPECT_NEAR(r.share("a"), 25, kTolerance);
  EXPECT_NEAR(r.share("b"), 75, kTolerance);
  // Demand is reported as asked; only what is passed up and shared is capped.
  EXPECT_NEAR(r.demand("a"), 100, kTolerance);
}

TEST(FairShare, ZeroDemandGetsNothing) {
  const auto r = compute({QueueBuilder("a").gpu(50, {}, 5), QueueBuilder("b").gpu(0)}, gpus(100),
                         {{"b", {}, gpus(30)}});
  EXPECT_EQ(r.shares.share(r.index("a"), kGpu), 0.0);
  EXPECT_NEAR(r.share("b"), 30, kTolerance);
  EXPECT_NEAR(r.deserved("a"), 50, kTolerance);  // the quota is still what it deserves
}

TEST(FairShare, WeightZeroOnlyGetsWhatPositiveWeightsLeave) {
  const std::vector<QueueSpec> specs = {QueueBuilder("a").gpu(0, {}, 0),
                                        QueueBuilder("b").gpu(0, {}, 1)};
  // b is satisfied at 30; a, alone and weight 0, takes what is left up to its demand.
  const auto light = compute(specs, gpus(100), {{"a", {}, gpus(50)}, {"b", {}, gpus(30)}});
  EXPECT_NEAR(light.share("a"), 50, kTolerance);
  EXPECT_NEAR(light.share("b"), 30, kTolerance);
  // b wants everything: a gets nothing over quota.
  const auto heavy = compute(specs, gpus(100), {{"a", {}, gpus(50)}, {"b", {}, gpus(200)}});
  EXPECT_NEAR(heavy.share("a"), 0, kTolerance);
  EXPECT_NEAR(heavy.share("b"), 100, kTolerance);
}

TEST(FairShare, AllWeightZeroShareEqually) {
  const auto r = compute({QueueBuilder("a").gpu(0, {}, 0), QueueBuilder("b").gpu(0, {}, 0)},
                         gpus(10), {{"a", {}, gpus(10)}, {"b", {}, gpus(10)}});
  EXPECT_NEAR(r.share("a"), 5, kTolerance);
  EXPECT_NEAR(r.share("b"), 5, kTolerance);
}

TEST(FairShare, HierarchySplitsTheParentsShare) {
  // Roots: r1 quota 50, r2 quota 30 → 80; the 20 left split 10/10 → r1 60, r2 40.
  // r1's 60: a and b quota 20 each → 40; 20 left, weights 1:3 → a 25, b 35. r2's 40 → c.
  const auto r = compute(
      {QueueBuilder("r1").gpu(50), QueueBuilder("r2").gpu(30),
       QueueBuilder("a", "r1").gpu(20, {}, 1), QueueBuilder("b", "r1").gpu(20, {}, 3),
       QueueBuilder("c", "r2").gpu(0)},
      gpus(100), {{"a", gpus(10), gpus(40)}, {"b", gpus(5), gpus(45)}, {"c", {}, gpus(100)}});
  EXPECT_NEAR(r.share("r1"), 60, kTolerance);
  EXPECT_NEAR(r.share("r2"), 40, kTolerance);
  EXPECT_NEAR(r.share("a"), 25, kTolerance);
  EXPECT_NEAR(r.share("b"), 35, kTolerance);
  EXPECT_NEAR(r.share("c"), 40, kTolerance);
  // Usage sums up the tree.
  EXPECT_NEAR(r.demand("r1"), 100, kTolerance);
  EXPECT_NEAR(r.allocated("r1"), 15, kTolerance);
  EXPECT_NEAR(r.allocated("a"), 10, kTolerance);
}

TEST(FairShare, ChildDemandIsCappedByItsLimitBeforeItIsPassedUp) {
  // a can never hold more than 30, so r1 asks for 30, not 100: r2 gets the other 70.
  const auto r = compute(
      {QueueBuilder("r1").gpu(0), QueueBuilder("a", "r1").gpu(0, 30), QueueBuilder("r2").gpu(0)},
      gpus(100), {{"a", {}, gpus(100)}, {"r2", {}, gpus(100)}});
  EXPECT_NEAR(r.demand("a"), 100, kTolerance);
  EXPECT_NEAR(r.demand("r1"), 30, kTolerance);
  EXPECT_NEAR(r.share("r1"), 30, kTolerance);
  EXPECT_NEAR(r.share("r2"), 70, kTolerance);
}

TEST(FairShare, QuotasAboveCapacityAreScaledByQuota) {
  // 60 GPUs for quotas 60 + 30 (both fully demanded): 2:1 → 40 and 20.
  const auto full = compute({QueueBuilder("a").gpu(60), QueueBuilder("b").gpu(30)}, gpus(60),
                            {{"a", {}, gpus(100)}, {"b", {}, gpus(100)}});
  EXPECT_NEAR(full.share("a"), 40, kTolerance);
  EXPECT_NEAR(full.share("b"), 20, kTolerance);

  // 50 GPUs for quotas 60 + 60, but a needs only 10: 25 each by quota would overfill a, so a keeps
  // its 10 and b gets the other 40.
  const auto partial = compute({QueueBuilder("a").gpu(60), QueueBuilder("b").gpu(60)}, gpus(50),
                               {{"a", {}, gpus(10)}, {"b", {}, gpus(100)}});
  EXPECT_NEAR(partial.share("a"), 10, kTolerance);
  EXPECT_NEAR(partial.share("b"), 40, kTolerance);
}

TEST(FairShare, FractionalShares) {
  // 10 GPUs among three equal queues: 3.333... each, not rounded to whole GPUs.
  const auto r = compute({QueueBuilder("a"), QueueBuilder("b"), QueueBuilder("c")}, gpus(10),
                         {{"a", {}, gpus(10)}, {"b", {}, gpus(10)}, {"c", {}, gpus(10)}});
  for (const char* name : {"a", "b", "c"}) EXPECT_NEAR(r.share(name), 10.0 / 3, 1e-9) << name;
  EXPECT_NEAR(r.share("a") + r.share("b") + r.share("c"), 10, 1e-9);
}

TEST(FairShare, ResourcesAreSharedIndependently) {
  // GPUs: a wants 80, b 10 of 40 → b 10, a 30. CPUs: a wants 10, b 200 of 100 → a 10, b 90.
  const auto r = compute({QueueBuilder("a"), QueueBuilder("b")}, gpus_cpus(40, 100),
                         {{"a", {}, gpus_cpus(80, 10)}, {"b", {}, gpus_cpus(10, 200)}});
  EXPECT_NEAR(r.share("a", kGpu), 30, kTolerance);
  EXPECT_NEAR(r.share("b", kGpu), 10, kTolerance);
  EXPECT_NEAR(r.share("a", kCpu), 10, kTolerance);
  EXPECT_NEAR(r.share("b", kCpu), 90, kTolerance);
}

TEST(FairShare, ParentWithoutQuotaGuaranteesItsChildrensQuotas) {
  // r1 names no GPU quota: it guarantees a's 40. r2 (quota 20) and r1 both want everything:
  // quotas 40 + 20, the 40 left split equally → r1 60, r2 40.
  const auto r =
      compute({QueueBuilder("r1"), QueueBuilder("a", "r1").gpu(40), QueueBuilder("r2").gpu(20)},
              gpus(100), {{"a", {}, gpus(100)}, {"r2", {}, gpus(100)}});
  EXPECT_NEAR(r.deserved("r1"), 40, kTolerance);
  EXPECT_NEAR(r.share("r1"), 60, kTolerance);
  EXPECT_NEAR(r.share("a"), 60, kTolerance);
  EXPECT_NEAR(r.share("r2"), 40, kTolerance);
}

TEST(FairShare, NoCapacityMeansNoShare) {
  const auto r = compute({QueueBuilder("a").gpu(10)}, ResourceVector{}, {{"a", {}, gpus(5)}});
  EXPECT_EQ(r.shares.share(r.index("a"), kGpu), 0.0);
}

TEST(FairShare, InnerQueueUsageIsIgnored) {
  ResourceRegistry registry;
  const std::vector<QueueSpec> specs = {QueueBuilder("r"), QueueBuilder("a", "r")};
  const QueueTree tree = QueueTree::build(specs, registry);
  std::vector<QueueUsage> usage(tree.size());
  usage[*tree.find("r")].pending = gpus(7);  // pods only live in leaves
  usage[*tree.find("a")].pending = gpus(2);
  const FairShares shares = compute_fair_shares(tree, gpus(10), usage, registry.size());
  EXPECT_EQ(shares.demand[*tree.find("r")][kGpu], units(2));
  EXPECT_NEAR(shares.share(*tree.find("r"), kGpu), units(2), kTolerance);
}

TEST(FairShare, UsageShorterThanTheTreeCountsAsZero) {
  ResourceRegistry registry;
  const std::vector<QueueSpec> specs = {QueueBuilder("a"), QueueBuilder("b")};
  const QueueTree tree = QueueTree::build(specs, registry);
  const FairShares shares = compute_fair_shares(tree, gpus(10), {}, registry.size());
  EXPECT_EQ(shares.fair_share.size(), tree.size() * registry.size());
  EXPECT_EQ(shares.share(*tree.find("a"), kGpu), 0.0);
  EXPECT_EQ(shares.share(*tree.find("a"), static_cast<ResourceId>(99)), 0.0);
}

// The shares do not depend on the order the Queues were listed in: the same specs and usage in
// shuffled orders give every queue the same share (compared by name: indexes may differ).
TEST(FairShare, IndependentOfTheOrderQueuesArrive) {
  std::vector<QueueSpec> specs = {QueueBuilder("x").gpu(3, {}, 2), QueueBuilder("y").gpu(1),
                                  QueueBuilder("z", "x").gpu(1), QueueBuilder("w", "x").gpu(1),
                                  QueueBuilder("v").gpu(0, {}, 3)};
  std::vector<NamedUsage> usage = {
      {"z", {}, gpus(9)}, {"y", {}, gpus(9)}, {"w", {}, gpus(2)}, {"v", {}, gpus(9)}};
  auto shares_by_name = [&] {
    const auto r = compute(specs, gpus(7), usage);
    std::map<std::string, double> out;
    for (const QueueSpec& spec : specs) {
      out[spec.name] = r.shares.share(*r.tree.find(spec.name), kGpu);
    }
    return out;
  };
  const auto reference = shares_by_name();
  EXPECT_GT(reference.at("v"), 0);  // over-quota weight at work: not a trivial split
  std::mt19937 random(11);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(specs.begin(), specs.end(), random);
    std::shuffle(usage.begin(), usage.end(), random);
    const auto shuffled = shares_by_name();
    for (const auto& [name, share] : reference) {
      EXPECT_NEAR(shuffled.at(name), share, kTolerance) << name << ", round " << round;
    }
  }
}

TEST(FairShare, InvariantsHoldOnRandomTrees) {
  // For random trees and usage: nobody gets more than min(demand, limit); siblings never split more
  // than their parent has; and nothing is left idle while a sibling still wants more.
  std::mt19937 random(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };
  for (int round = 0; round < 200; ++round) {
    std::vector<QueueSpec> specs;
    const int count = pick(1, 25);
    for (int i = 0; i < count; ++i) {
      const std::string parent =
          i == 0 || pick(0, 2) == 0 ? "" : "q" + std::to_string(pick(0, i - 1));
      QueueBuilder queue("q" + std::to_string(i), parent);
      queue.priority(pick(0, 2));
      const std::optional<double> limit =
          pick(0, 3) == 0 ? std::optional<double>(pick(0, 30)) : std::nullopt;
      queue.gpu(std::min<double>(pick(0, 10), limit.value_or(100)), limit, pick(0, 3));
      specs.push_back(queue);
    }
    std::vector<NamedUsage> usage;
    for (int i = 0; i < count; ++i) {
      // Filled in place: copying small_vectors in a loop trips a GCC 12 -Wstringop-overread
      // false positive inside Boost.
      NamedUsage& entry = usage.emplace_back();
      entry.queue = "q" + std::to_string(i);
      entry.allocated.set(kGpu, units(pick(0, 5)));
      entry.pending.set(kGpu, units(pick(0, 20) * 0.5));
    }
    const double capacity = pick(0, 100);
    const auto r = compute(specs, gpus(capacity), usage);
    ASSERT_TRUE(r.tree.problems().empty() ||
                r.tree.problems().front().reason == "ChildrenQuotaExceedParent");

    auto want = [&](QueueIndex q) {
      return std::min<double>(static_cast<double>(r.shares.demand[q][kGpu]),
                              static_cast<double>(r.tree.node(q).limit_of(kGpu)));
    };
    auto check_group = [&](const std::vector<QueueIndex>& siblings, double available) {
      double given = 0;
      bool someone_wants_more = false;
      for (QueueIndex q : siblings) {
        const double share = r.shares.share(q, kGpu);
        EXPECT_GE(share, 0);
        EXPECT_LE(share, want(q) + 1e-6) << r.tree.node(q).name << " round " << round;
        given += share;
        someone_wants_more = someone_wants_more || share < want(q) - 1e-6;
      }
      EXPECT_LE(given, available + 1e-6) << "round " << round;
      if (someone_wants_more) {
        EXPECT_NEAR(given, available, 1e-6) << "round " << round;
      }
    };
    check_group(r.tree.roots(), units(capacity));
    for (QueueIndex q : r.tree.top_down()) {
      if (!r.tree.node(q).is_leaf()) check_group(r.tree.node(q).children, r.shares.share(q, kGpu));
    }
  }
}

}  // namespace
}  // namespace fairway
