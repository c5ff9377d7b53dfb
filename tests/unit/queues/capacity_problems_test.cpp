// The capacity warning (QuotaAboveCapacity): top-level quotas above what the cluster has.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "queues/fair_share.h"
#include "unit/queues/queue_builders.h"

namespace fairway {
namespace {

using testing::gpus;
using testing::gpus_cpus;
using testing::QueueBuilder;

std::vector<std::string> warned(const std::vector<QueueSpec>& specs,
                                const ResourceVector& capacity) {
  ResourceRegistry registry;
  const QueueTree tree = QueueTree::build(specs, registry);
  std::vector<std::string> out;
  for (const QueueProblem& p : capacity_problems(tree, capacity, registry)) {
    EXPECT_FALSE(p.blocking);
    EXPECT_EQ(p.reason, "QuotaAboveCapacity");
    out.push_back(p.queue + ": " + p.message);
  }
  return out;
}

TEST(CapacityProblems, TopLevelQuotasAboveTheClusterWarnEveryQueueThatPromises) {
  // 6 + 4 = 10 GPUs promised, 8 exist; `idle` promises none; children are not counted twice.
  const std::vector<QueueSpec> specs = {QueueBuilder("a").gpu(6), QueueBuilder("b").gpu(4),
                                        QueueBuilder("b1", "b").gpu(4), QueueBuilder("idle")};
  const std::string why =
      "the top-level queues' quotas of nvidia.com/gpu add up to 10, more than the cluster's 8: "
      "when every queue claims its quota, each gets a part in proportion to quota";
  EXPECT_THAT(warned(specs, gpus(8)), ::testing::ElementsAre("a: " + why, "b: " + why));
  EXPECT_TRUE(warned(specs, gpus(10)).empty());  // exactly kept: no warning
}

TEST(CapacityProblems, EachResourceOnItsOwnAndNeverThePodsCount) {
  const std::vector<QueueSpec> specs = {QueueBuilder("a").gpu(2).resource("cpu", 100)};
  const auto out = warned(specs, gpus_cpus(8, 64));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find("quotas of cpu add up to 100, more than the cluster's 64"),
            std::string::npos)
      << out[0];
}

}  // namespace
}  // namespace fairway
