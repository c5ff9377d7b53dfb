#include "sim/invariants/invariants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fairway::invariants {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

json node(const std::string& name, const std::string& gpus, json labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}},
          {"status",
           {{"allocatable",
             {{"cpu", "8"}, {"memory", "64Gi"}, {"nvidia.com/gpu", gpus}, {"pods", "10"}}},
            {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

json pod(const std::string& name, const std::string& gpus, const std::string& node_name = "",
         json labels = json::object(), json annotations = json::object(),
         const std::string& ns = "team") {
  json p = {{"metadata",
             {{"namespace", ns},
              {"name", name},
              {"uid", ns + "-" + name},
              {"labels", labels},
              {"annotations", annotations}}},
            {"spec",
             {{"schedulerName", "fairway"},
              {"containers",
               {{{"name", "main"}, {"resources", {{"limits", {{"nvidia.com/gpu", gpus}}}}}}}}}},
            {"status", {{"phase", node_name.empty() ? "Pending" : "Running"}}}};
  if (!node_name.empty()) p["spec"]["nodeName"] = node_name;
  return p;
}

std::vector<std::string> names(const std::vector<Violation>& violations) {
  std::vector<std::string> out;
  for (const auto& v : violations) out.push_back(v.invariant + " " + v.object);
  return out;
}

TEST(PodRequests, SumsContainersTakesInitPeakAddsOverheadAndOnePod) {
  json p = {{"spec",
             {{"containers",
               {{{"resources", {{"requests", {{"cpu", "1"}}}}}},
                {{"resources", {{"limits", {{"cpu", "500m"}}}}}}}},
              {"initContainers", {{{"resources", {{"requests", {{"cpu", "4"}}}}}}}},
              {"overhead", {{"cpu", "100m"}}}}}};
  auto requests = pod_requests(p);
  EXPECT_EQ(requests["cpu"], 4100);
  EXPECT_EQ(requests["pods"], 1000);
}

TEST(Checker, CleanClusterHasNoViolation) {
  Checker checker;
  Snapshot s{
      1000, {pod("a", "4", "n1"), pod("b", "4", "n1"), pod("c", "8")}, {node("n1", "8")}, {}, {}};
  EXPECT_THAT(checker.check(s), IsEmpty());
}

TEST(Checker, NodeOvercommitIsReported) {
  Checker checker;
  Snapshot s{1000, {pod("a", "6", "n1"), pod("b", "4", "n1")}, {node("n1", "8")}, {}, {}};
  auto violations = checker.check(s);
  ASSERT_THAT(names(violations), ElementsAre("node-overcommit node/n1"));
  EXPECT_EQ(violations[0].message, "nvidia.com/gpu requested 10 > allocatable 8");
}

TEST(Checker, FinishedPodsHoldNothing) {
  Checker checker;
  json done = pod("a", "8", "n1");
  done["status"]["phase"] = "Succeeded";
  Snapshot s{1000, {done, pod("b", "8", "n1")}, {node("n1", "8")}, {}, {}};
  EXPECT_THAT(checker.check(s), IsEmpty());
}

TEST(Checker, NodeNameChangeAcrossSnapshotsIsADoubleBind) {
  Checker checker;
  EXPECT_THAT(
      checker.check({1000, {pod("a", "1", "n1")}, {node("n1", "8"), node("n2", "8")}, {}, {}}),
      IsEmpty());
  EXPECT_THAT(names(checker.check(
                  {2000, {pod("a", "1", "n2")}, {node("n1", "8"), node("n2", "8")}, {}, {}})),
              ElementsAre("double-bind team/a"));
}

TEST(Checker, PartialGangIsAViolationOnlyAfterTheGracePeriod) {
  CheckerOptions options;
  options.gang_grace_ms = 5000;
  Checker checker(options);
  json group = {{"fairway.dev/pod-group", "g"}, {"fairway.dev/min-member", "3"}};
  auto snapshot = [&](TimeMs t) {
    return Snapshot{t,
                    {pod("g-0", "1", "n1", {}, group), pod("g-1", "1", "n1", {}, group),
                     pod("g-2", "1", "", {}, group)},
                    {node("n1", "8")},
                    {},
                    {}};
  };
  EXPECT_THAT(checker.check(snapshot(1000)), IsEmpty());
  EXPECT_THAT(checker.check(snapshot(5000)), IsEmpty());
  EXPECT_THAT(names(checker.check(snapshot(7000))), ElementsAre("gang-partial gang/team/g"));
}

TEST(Checker, PodGroupMinMemberIsNamespaceScoped) {
  CheckerOptions options;
  options.gang_grace_ms = 0;
  Checker checker(options);
  json group = {{"fairway.dev/pod-group", "g"}};
  json other_ns_group = {{"metadata", {{"namespace", "other"}, {"name", "g"}}},
                         {"spec", {{"minMember", 4}}}};
  // The PodGroup "g" of namespace "other" does not make team/g a gang of four.
  Snapshot s{1000, {pod("g-0", "1", "n1", {}, group)}, {node("n1", "8")}, {}, {other_ns_group}};
  EXPECT_THAT(checker.check(s), IsEmpty());
  s.pod_groups[0]["metadata"]["namespace"] = "team";
  s.taken_ms = 2000;
  EXPECT_THAT(checker.check(s), IsEmpty());  // partial from now on: the grace period starts
  s.taken_ms = 2001;
  EXPECT_THAT(names(checker.check(s)), ElementsAre("gang-partial gang/team/g"));
}

TEST(Checker, QueueLimitCountsTheSubtree) {
  Checker checker;
  json parent = {{"metadata", {{"name", "org"}}},
                 {"spec", {{"resources", {{"nvidia.com/gpu", {{"quota", 0}, {"limit", "4"}}}}}}}};
  json child = {{"metadata", {{"name", "team"}}}, {"spec", {{"parent", "org"}}}};
  json q = {{"fairway.dev/queue", "team"}};
  Snapshot s{1000,
             {pod("a", "2", "n1", q), pod("b", "2", "n1", q)},
             {node("n1", "8")},
             {parent, child},
             {}};
  EXPECT_THAT(checker.check(s), IsEmpty());
  s.pods.push_back(pod("c", "1", "n1", q));
  EXPECT_THAT(names(checker.check(s)), ElementsAre("queue-limit queue/org"));
}

TEST(Checker, QueueLimitCountsSharedGpuFractions) {
  Checker checker;
  json capped = {{"metadata", {{"name", "team"}}},
                 {"spec", {{"resources", {{"nvidia.com/gpu", {{"limit", "1"}}}}}}}};
  json q = {{"fairway.dev/queue", "team"}, {"fairway.dev/gpu-group", "g1"}};
  json nodes = node("n1", "8", {{"nvidia.com/gpu.memory", "80000"}});
  json half = pod("a", "0", "n1", q, {{"fairway.dev/gpu-fraction", "0.5"}});
  json quarter = pod("b", "0", "n1", q, {{"fairway.dev/gpu-memory", "20000"}});
  EXPECT_THAT(checker.check({0, {half, quarter}, {nodes}, {capped}, {}}), IsEmpty());
  // Two devices at 0.25 each: 0.5 more, 1.25 GPUs against a limit of 1.
  json two =
      pod("c", "0", "n1", q,
          {{"fairway.dev/gpu-fraction", "0.25"}, {"fairway.dev/gpu-fraction-num-devices", "2"}});
  EXPECT_THAT(names(checker.check({0, {half, quarter, two}, {nodes}, {capped}, {}})),
              ElementsAre("queue-limit queue/team"));
  // A whole-GPU pod of the queue no longer fits under the limit the shares used up.
  json whole = pod("w", "1", "", {{"fairway.dev/queue", "team"}});
  EXPECT_THAT(checker.pending_feasible({0, {half, quarter, whole}, {nodes}, {capped}, {}}),
              IsEmpty());
}

TEST(Checker, ReservationPodsAndSharersMustComeTogether) {
  CheckerOptions options;
  options.reservation_grace_ms = 1000;
  Checker checker(options);
  json gpu_group = {{"fairway.dev/gpu-group", "g1"}};
  json reservation =
      pod("gpu-reservation-x", "1", "n1", gpu_group, json::object(), "fairway-reservation");
  json sharer = pod("s", "0", "n1", gpu_group, {{"fairway.dev/gpu-fraction", "0.5"}});
  json nodes = node("n1", "8", {{"nvidia.com/gpu.memory", "81920"}});
  EXPECT_THAT(checker.check({0, {reservation, sharer}, {nodes}, {}, {}}), IsEmpty());
  // Alone for longer than the grace period: an orphan reservation, then an orphan sharer.
  EXPECT_THAT(checker.check({500, {reservation}, {nodes}, {}, {}}), IsEmpty());
  EXPECT_THAT(names(checker.check({2000, {reservation}, {nodes}, {}, {}})),
              ElementsAre("reservation-orphan gpu-group/g1"));
  EXPECT_THAT(checker.check({2100, {sharer}, {nodes}, {}, {}}), IsEmpty());
  EXPECT_THAT(names(checker.check({3200, {sharer}, {nodes}, {}, {}})),
              ElementsAre("sharer-orphan team/s"));
}

TEST(Checker, SharedGpuFractionsAndMemoryMustFitOneGpu) {
  Checker checker;
  json gpu_group = {{"fairway.dev/gpu-group", "g1"}};
  json reservation = pod("r", "1", "n1", gpu_group, json::object(), "fairway-reservation");
  json nodes = node("n1", "8", {{"nvidia.com/gpu.memory", "80000"}});
  json half = pod("a", "0", "n1", gpu_group, {{"fairway.dev/gpu-fraction", "0.5"}});
  json memory = pod("b", "0", "n1", gpu_group, {{"fairway.dev/gpu-memory", "40000"}});
  EXPECT_THAT(checker.check({0, {reservation, half, memory}, {nodes}, {}, {}}), IsEmpty());
  json more = pod("c", "0", "n1", gpu_group, {{"fairway.dev/gpu-memory", "1000"}});
  EXPECT_THAT(names(checker.check({0, {reservation, half, memory, more}, {nodes}, {}, {}})),
              ElementsAre("gpu-share-overcommit gpu-group/g1"));
  json another_half = pod("d", "0", "n1", gpu_group, {{"fairway.dev/gpu-fraction", "0.6"}});
  EXPECT_THAT(names(checker.check({0, {reservation, half, another_half}, {nodes}, {}, {}})),
              ElementsAre("gpu-share-overcommit gpu-group/g1"));
}

TEST(Checker, PendingFeasibleFindsPodsThatFitAndSkipsOnesThatCannot) {
  Checker checker;
  json q = {{"fairway.dev/queue", "capped"}};
  json capped = {{"metadata", {{"name", "capped"}}},
                 {"spec", {{"resources", {{"nvidia.com/gpu", {{"limit", "1"}}}}}}}};
  Snapshot s{1000,
             {pod("running", "6", "n1"), pod("fits", "2"), pod("too-big", "4"),
              pod("over-limit", "2", "", q),
              pod("unknown-queue", "1", "", {{"fairway.dev/queue", "nope"}})},
             {node("n1", "8")},
             {capped},
             {}};
  EXPECT_THAT(checker.pending_feasible(s), ElementsAre("team/fits"));
}

TEST(Checker, SurvivesMalformedObjects) {
  Checker checker;
  Snapshot s{1000,
             {json::array(), json("x"), json{{"metadata", 3}, {"spec", {{"containers", "no"}}}},
              json{{"spec",
                    {{"nodeName", "n1"},
                     {"containers", {{{"resources", {{"limits", {{"cpu", "banana"}}}}}}}}}}}},
             {json{{"status", 1}}, node("n1", "8")},
             {json{{"spec", {{"resources", {{"cpu", {{"limit", json::array()}}}}}}}}},
             {json{{"spec", {{"minMember", "x"}}}}}};
  EXPECT_NO_THROW(checker.check(s));
  EXPECT_NO_THROW(checker.pending_feasible(s));
}

}  // namespace
}  // namespace fairway::invariants
