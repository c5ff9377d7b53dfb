// Fair share over time: the hand-worked tables of docs/scheduling.md ("Fair share over time").
// Weights in step (2) become w' = w · max(0, 1 - k · (u/U - w/W)) over a bucket's unsatisfied
// queues; u comes from UsageHistory (decayed share of the cluster used), driven here by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "queues/fair_share.h"
#include "queues/usage_history.h"
#include "unit/queues/queue_builders.h"

namespace fairway {
namespace {

using testing::gpus;
using testing::QueueBuilder;

constexpr double kTolerance = 1e-9;
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kHalfLife = 24 * kHour;
constexpr WallMs kStart = 1'800'000'000'000;  // 2027-01-15

struct Queue {
  QueueSpec spec;
  double wants = 0;    // GPUs pending
  double history = 0;  // share of the cluster's GPUs used over time
};

// Fair shares in whole GPUs, by queue name, with usage strength k.
std::map<std::string, double> shares(const std::vector<Queue>& queues, double capacity, double k) {
  ResourceRegistry registry;
  std::vector<QueueSpec> specs;
  for (const Queue& q : queues) specs.push_back(q.spec);
  const QueueTree tree = QueueTree::build(specs, registry);
  std::vector<QueueUsage> usage(tree.size());
  for (const Queue& q : queues) {
    QueueUsage& u = usage[*tree.find(q.spec.name)];
    u.pending = gpus(q.wants);
    u.history.assign(kGpu + 1, 0.0);
    u.history[kGpu] = q.history;
  }
  const FairShares fair = compute_fair_shares(tree, gpus(capacity), usage, registry.size(), k);
  std::map<std::string, double> out;
  for (const Queue& q : queues) out[q.spec.name] = fair.share(*tree.find(q.spec.name), kGpu) / 1000;
  return out;
}

// Two queues, weight 1 each, no quota, 10 GPUs, both want all 10. a held 8 GPUs for a long
// time (u = 0.8), b nothing. U = 0.8, W = 2:
//   k = 0: weights 1 : 1                                          → 5   / 5
//   k = 1: a 1 - (0.8/0.8 - 1/2) = 0.5, b 1 - (0 - 1/2) = 1.5      → 2.5 / 7.5
//   k = 2: a 1 - 2 · 0.5 = 0,          b 1 + 2 · 0.5 = 2           → 0   / 10
TEST(FairShareOverTime, TwoQueuesWithoutQuota) {
  const std::vector<Queue> queues = {{QueueBuilder("a"), 10, 0.8}, {QueueBuilder("b"), 10, 0}};
  EXPECT_NEAR(shares(queues, 10, 0)["a"], 5, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 1)["a"], 2.5, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 1)["b"], 7.5, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 2)["a"], 0, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 2)["b"], 10, kTolerance);
}

// A weight adjusted to 0 is a weight-0 queue: it gets what no one else wants. With k = 2 and b
// wanting only 6, a gets the other 4.
TEST(FairShareOverTime, AQueueAdjustedToZeroStillGetsWhatNobodyElseWants) {
  const std::vector<Queue> queues = {{QueueBuilder("a"), 10, 0.8}, {QueueBuilder("b"), 6, 0}};
  EXPECT_NEAR(shares(queues, 10, 2)["a"], 4, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 2)["b"], 6, kTolerance);
}

// Quotas 4 + 4 of 10 GPUs, both want 10, a's u = 0.8, k = 1. Step (1) gives each its quota, as
// without history: quota is deserved. The 2 left split 0.5 : 1.5 → a 4 + 0.5, b 4 + 1.5.
TEST(FairShareOverTime, QuotaIsNeverReduced) {
  const std::vector<Queue> queues = {{QueueBuilder("a").gpu(4), 10, 0.8},
                                     {QueueBuilder("b").gpu(4), 10, 0}};
  EXPECT_NEAR(shares(queues, 10, 1)["a"], 4.5, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 1)["b"], 5.5, kTolerance);
  // Even a k that would zero a's weight leaves it its quota.
  EXPECT_NEAR(shares(queues, 10, 5)["a"], 4, kTolerance);
  EXPECT_NEAR(shares(queues, 10, 5)["b"], 6, kTolerance);
}

// Three queues, weights 1, 1, 2, no quota, 10 GPUs, all want 10; u = 0.6, 0.2, 0.2 (U = 1,
// W = 4), k = 1:
//   a 1 · (1 - (0.6 - 0.25)) = 0.65   b 1 · (1 - (0.2 - 0.25)) = 1.05   c 2 · (1 - (0.2 - 0.5))
//   = 2.6 sum 4.3 → a 10 · 0.65 / 4.3 = 1.5116   b 2.4419   c 6.0465 (k = 0: 2.5, 2.5, 5)
TEST(FairShareOverTime, ThreeQueuesWithWeights) {
  const std::vector<Queue> queues = {{QueueBuilder("a"), 10, 0.6},
                                     {QueueBuilder("b"), 10, 0.2},
                                     {QueueBuilder("c").gpu(0, {}, 2), 10, 0.2}};
  auto k0 = shares(queues, 10, 0);
  EXPECT_NEAR(k0["a"], 2.5, kTolerance);
  EXPECT_NEAR(k0["c"], 5, kTolerance);
  auto k1 = shares(queues, 10, 1);
  EXPECT_NEAR(k1["a"], 10 * 0.65 / 4.3, kTolerance);
  EXPECT_NEAR(k1["b"], 10 * 1.05 / 4.3, kTolerance);
  EXPECT_NEAR(k1["c"], 10 * 2.6 / 4.3, kTolerance);
}

// A queue that used exactly its weight's part of the past keeps its weight: equal weights and
// equal history change nothing, whatever k.
TEST(FairShareOverTime, UseInProportionToWeightChangesNothing) {
  const std::vector<Queue> queues = {{QueueBuilder("a"), 10, 0.3}, {QueueBuilder("b"), 10, 0.3}};
  EXPECT_NEAR(shares(queues, 10, 3)["a"], 5, kTolerance);
}

// Inner queues compare their subtrees' history: team-x (x1 u = 0.6, x2 u = 0.2) against team-y
// (u = 0): U = 0.8, k = 1 → team-x 1 - (1 - 0.5) = 0.5, team-y 1.5 → 2.5 / 7.5 of 10. Inside
// team-x (U = 0.8): x1 1 - (0.75 - 0.5) = 0.75, x2 1 - (0.25 - 0.5) = 1.25 → 2.5 · 0.375 and
// 2.5 · 0.625.
TEST(FairShareOverTime, ParentsCompareTheirSubtrees) {
  const std::vector<Queue> queues = {{QueueBuilder("team-x"), 0, 0},
                                     {QueueBuilder("x1", "team-x"), 10, 0.6},
                                     {QueueBuilder("x2", "team-x"), 10, 0.2},
                                     {QueueBuilder("team-y"), 10, 0}};
  auto k1 = shares(queues, 10, 1);
  EXPECT_NEAR(k1["team-x"], 2.5, kTolerance);
  EXPECT_NEAR(k1["team-y"], 7.5, kTolerance);
  EXPECT_NEAR(k1["x1"], 2.5 * 0.375, kTolerance);
  EXPECT_NEAR(k1["x2"], 2.5 * 0.625, kTolerance);
}

std::unordered_map<std::string, QueueUsage> holding(std::map<std::string, double> gpus_by_queue) {
  std::unordered_map<std::string, QueueUsage> out;
  for (const auto& [queue, held] : gpus_by_queue) out[queue].allocated = gpus(held);
  return out;
}

double gpu_share(const UsageHistory& history, const std::string& queue) {
  const std::vector<double> shares = history.shares(queue);
  return kGpu < shares.size() ? shares[kGpu] : 0;
}

// The half-life step: a held 8 of 10 GPUs long enough that u = 0.8, then stops while b takes 8.
// One half-life later a's past has halved (0.4) and b has half of its steady 0.8 (0.4): equal,
// so with k = 1 they split the spare pool equally again. Another half-life: a 0.2, b 0.6.
TEST(UsageHistory, HalfLifeStep) {
  UsageHistory history(kHalfLife);
  const double steady[] = {0, 0, 0.8};
  history.restore("a", steady, kStart);
  history.advance(kStart, holding({{"a", 8}}), gpus(10));
  EXPECT_NEAR(gpu_share(history, "a"), 0.8, kTolerance);
  history.advance(kStart + kHalfLife, holding({{"b", 8}}), gpus(10));
  EXPECT_NEAR(gpu_share(history, "a"), 0.4, kTolerance);
  // b appeared at this advance: its allocation counts from the previous one, one half-life ago.
  EXPECT_NEAR(gpu_share(history, "b"), 0.4, kTolerance);
  history.advance(kStart + 2 * kHalfLife, holding({{"b", 8}}), gpus(10));
  EXPECT_NEAR(gpu_share(history, "a"), 0.2, kTolerance);
  EXPECT_NEAR(gpu_share(history, "b"), 0.6, kTolerance);
}

// Many small advances give what one large one gives (each step is exact for a constant
// allocation), so the cycle period does not change the history.
TEST(UsageHistory, StepsComposeExactly) {
  UsageHistory coarse(kHalfLife);
  UsageHistory fine(kHalfLife);
  coarse.advance(kStart, holding({{"a", 4}}), gpus(10));
  fine.advance(kStart, holding({{"a", 4}}), gpus(10));
  coarse.advance(kStart + 6 * kHour, holding({{"a", 4}}), gpus(10));
  for (int minute = 1; minute <= 360; ++minute) {
    fine.advance(kStart + minute * 60'000, holding({{"a", 4}}), gpus(10));
  }
  // A new cluster is taken as idle before its first advance: 0.4 · (1 - 2^(-6/24)).
  EXPECT_NEAR(gpu_share(coarse, "a"), 0.4 * (1 - std::exp2(-0.25)), 1e-12);
  EXPECT_NEAR(gpu_share(fine, "a"), gpu_share(coarse, "a"), 1e-12);
}

// After a restart the persisted share is the start, and the time since it was written is filled
// with what the queue holds when first advanced. fairway's own status writes, echoed back by
// the watch, do not restore again.
TEST(UsageHistory, RestoreFillsTheGapWithWhatTheQueueHolds) {
  const double persisted[] = {0, 0, 0.8};
  UsageHistory idle(kHalfLife);
  idle.restore("a", persisted, kStart);
  idle.advance(kStart + kHalfLife, holding({}), gpus(10));
  EXPECT_NEAR(gpu_share(idle, "a"), 0.4, kTolerance);

  UsageHistory at_once(kHalfLife);  // written the moment it restarts, holding nothing yet
  at_once.restore("a", persisted, kStart);
  at_once.advance(kStart, holding({}), gpus(10));
  EXPECT_NEAR(gpu_share(at_once, "a"), 0.8, kTolerance);
  ASSERT_NE(at_once.published("a"), nullptr);
  EXPECT_EQ(at_once.published("a")->shares[kGpu], 0.8);

  UsageHistory busy(kHalfLife);
  busy.restore("a", persisted, kStart);
  busy.advance(kStart + kHalfLife, holding({{"a", 8}}), gpus(10));
  EXPECT_NEAR(gpu_share(busy, "a"), 0.8, kTolerance);

  const double echoed[] = {0, 0, 0.1};
  busy.restore("a", echoed, kStart + kHalfLife);
  EXPECT_NEAR(gpu_share(busy, "a"), 0.8, kTolerance);
  // A queue first restored after the capacity is known is seeded at once.
  busy.restore("b", persisted, kStart + kHalfLife);
  EXPECT_NEAR(gpu_share(busy, "b"), 0.8, kTolerance);
}

// What status shows changes only when a rounded share moves, and carries when it was computed;
// a queue whose history decayed to nothing and that holds nothing is forgotten.
TEST(UsageHistory, PublishedSharesMoveOnlyWhenRoundedSharesDo) {
  UsageHistory history(kHalfLife);
  history.advance(kStart, holding({{"a", 10}}), gpus(10));
  history.advance(kStart + kHour, holding({{"a", 10}}), gpus(10));
  const UsageHistory::Published first = *history.published("a");
  EXPECT_EQ(first.at, kStart + kHour);
  EXPECT_NEAR(first.shares[kGpu], 0.02847, 1e-5);  // 1 - 2^(-1/24), four digits
  history.advance(kStart + kHour + 1, holding({{"a", 10}}), gpus(10));
  EXPECT_EQ(history.published("a")->at, kStart + kHour);  // 1 ms moves no fourth digit
  history.advance(kStart + 2 * kHour, holding({{"a", 10}}), gpus(10));
  EXPECT_EQ(history.published("a")->at, kStart + 2 * kHour);

  history.advance(kStart + 100 * kHalfLife, holding({}), gpus(10));
  EXPECT_EQ(history.published("a"), nullptr);
  EXPECT_TRUE(history.shares("a").empty());
}

TEST(UsageHistory, ShareTextHasFourSignificantDigits) {
  EXPECT_EQ(usage_share_text(0.125), "0.1250");
  EXPECT_EQ(usage_share_text(0.00123), "0.001230");
  EXPECT_EQ(usage_share_text(1), "1.000");
  EXPECT_EQ(usage_share_text(1e-7), "0");
  EXPECT_EQ(usage_share_text(std::nan("")), "0");
  EXPECT_EQ(parse_usage_share("0.001230"), 0.00123);
  EXPECT_EQ(rounded_share(0.123456), 0.1235);
  EXPECT_EQ(rounded_share(0.00123456), 0.001235);
  EXPECT_EQ(rounded_share(1e-7), 0);
  EXPECT_EQ(parse_usage_share("-0.1"), std::nullopt);
  EXPECT_EQ(parse_usage_share("half"), std::nullopt);
  EXPECT_EQ(parse_usage_share("0.5x"), std::nullopt);
}

}  // namespace
}  // namespace fairway
