// The simulation driver over simulated time, on cases small enough to work out by hand.
#include "sim/driver.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "sim/demo_scenario.h"
#include "sim/report.h"

namespace fairway::sim {
namespace {

using ::testing::HasSubstr;

Scenario must_parse(std::string_view yaml) {
  auto parsed = parse_scenario(yaml);
  EXPECT_TRUE(parsed.has_value()) << parsed.error();
  return parsed.value_or(Scenario{});
}

const JobOutcome& job_named(const SimResult& result, const std::string& name) {
  for (const JobOutcome& job : result.jobs) {
    if (job.name == name) return job;
  }
  ADD_FAILURE() << "no job " << name;
  return result.jobs.front();
}

// One node with 4 GPUs; three 2-GPU jobs arrive together and run 10 s each.
//   t=0:  a-1 and a-2 fill the node (wait 0); a-3 waits.
//   t=10: a-1 and a-2 finish; a-3 is bound (wait 10) and finishes at t=20.
// Waits {0, 0, 10}: nearest-rank p50 = 2nd = 0, p90 = p99 = 3rd = 10, max 10.
constexpr const char* kThreeJobs = R"(
name: three
nodes: [{namePrefix: n-, allocatable: {cpu: 16, memory: 64Gi, nvidia.com/gpu: 4}}]
queues: [{name: q, resources: {nvidia.com/gpu: {quota: 4}}}]
jobs:
  - {name: a, queue: q, at: 0, count: 3, durationSeconds: 10, requests: {cpu: 1, nvidia.com/gpu: 2}}
)";

TEST(SimDriver, HandComputedWaitsAndCompletion) {
  const SimResult result = simulate(must_parse(kThreeJobs));
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  EXPECT_EQ(result.end_ms, 20'000);
  ASSERT_EQ(result.jobs.size(), 3u);
  EXPECT_EQ(job_named(result, "a-1").wait_ms(), 0);
  EXPECT_EQ(job_named(result, "a-2").wait_ms(), 0);
  EXPECT_EQ(job_named(result, "a-3").wait_ms(), 10'000);
  EXPECT_EQ(job_named(result, "a-3").finished_ms, 20'000);
  EXPECT_EQ(result.pods_bound, 3u);

  const SimSummary summary = summarize(result);
  EXPECT_EQ(summary.completed, 3u);
  EXPECT_EQ(summary.pending, 0u);
  EXPECT_DOUBLE_EQ(summary.wait.p50, 0);
  EXPECT_DOUBLE_EQ(summary.wait.p90, 10);
  EXPECT_DOUBLE_EQ(summary.wait.p99, 10);
  EXPECT_DOUBLE_EQ(summary.wait.max, 10);
  // 4 of 4 GPUs for 10 s, then 2 of 4 for 10 s.
  EXPECT_DOUBLE_EQ(summary.avg_utilization, 0.75);
  EXPECT_DOUBLE_EQ(summary.peak_utilization, 1.0);
  // Cycles at t=0 and 10 bind; the ones after them (t=1, 11) find nothing to do, so the clock
  // skips ticks 2..9 and 12..19; t=20 finishes the last job.
  EXPECT_EQ(result.cycles_run, 5u);
  EXPECT_EQ(result.idle_ticks_skipped, 16u);
}

TEST(SimDriver, SamplesFollowTheQueues) {
  const SimResult result = simulate(must_parse(kThreeJobs));
  ASSERT_FALSE(result.samples.empty());
  size_t q = result.queues.size();
  for (size_t i = 0; i < result.queues.size(); ++i) {
    if (result.queues[i].name == "q") q = i;
  }
  ASSERT_LT(q, result.queues.size());
  const Sample& first = result.samples.front();
  EXPECT_EQ(first.time_ms, 0);
  EXPECT_DOUBLE_EQ(first.allocated_gpu, 4);
  EXPECT_DOUBLE_EQ(first.queues[q].allocated_gpu, 4);
  EXPECT_DOUBLE_EQ(first.queues[q].fair_share_gpu, 4);
  EXPECT_EQ(first.queues[q].pending_pods, 1u);
  EXPECT_EQ(result.samples.back().queues[q].pending_pods, 0u);
}

// Fair share over time in a scenario (docs/scheduling.md's hand-worked case): one 8-GPU node,
// queues a and b without quota, each wanting 8 one-GPU pods at t=0. With strength 1, a (which
// used half the cluster before the scenario) weighs 1 - (1 - 1/2) = 0.5 and b (no past use)
// 1 + 1/2 = 1.5: b gets 6 GPUs and a 2. Without the history, 4 and 4.
constexpr const char* kPastUsage = R"(
nodes: [{namePrefix: n-, allocatable: {cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}]
usage: {halfLife: 24h, strength: 1}
queues:
  - {name: a, pastUsage: {nvidia.com/gpu: 0.5}}
  - {name: b}
jobs:
  - {name: a, queue: a, at: 0, count: 8, durationSeconds: 60, requests: {cpu: 1, nvidia.com/gpu: 1}}
  - {name: b, queue: b, at: 0, count: 8, durationSeconds: 60, requests: {cpu: 1, nvidia.com/gpu: 1}}
)";

double first_allocated(const SimResult& result, const std::string& queue) {
  for (size_t i = 0; i < result.queues.size(); ++i) {
    if (result.queues[i].name == queue) return result.samples.front().queues[i].allocated_gpu;
  }
  ADD_FAILURE() << "no queue " << queue;
  return -1;
}

TEST(SimDriver, PastUsageMovesTheSplitOfWhatIsLeft) {
  const SimResult with_history = simulate(must_parse(kPastUsage));
  ASSERT_FALSE(with_history.samples.empty());
  EXPECT_DOUBLE_EQ(first_allocated(with_history, "a"), 2);
  EXPECT_DOUBLE_EQ(first_allocated(with_history, "b"), 6);

  Scenario without = must_parse(kPastUsage);
  without.usage.strength = 0;
  const SimResult as_written = simulate(without);
  EXPECT_DOUBLE_EQ(first_allocated(as_written, "a"), 4);
  EXPECT_DOUBLE_EQ(first_allocated(as_written, "b"), 4);
}

// Topology in a scenario: rack r1 of three 8-GPU nodes, rack r2 of two. A filler holds a node of
// r1 for 30 s; a gang of 3 x 8 GPUs that must share a rack fits in neither rack until the filler
// ends (4 nodes are free, but 2 in each rack), then binds in r1. Without the constraint it binds
// at once, split over the racks.
constexpr const char* kRackGang = R"(
nodes:
  - {namePrefix: r1-, count: 3, labels: {example.com/rack: r1},
     allocatable: {cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}
  - {namePrefix: r2-, count: 2, labels: {example.com/rack: r2},
     allocatable: {cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}
topologies:
  - {name: fabric, levels: [{nodeLabel: example.com/rack}, {nodeLabel: kubernetes.io/hostname}]}
queues: [{name: q}]
jobs:
  - {name: filler, queue: q, at: 0, durationSeconds: 30, nodeSelector: {example.com/rack: r1},
     requests: {cpu: 1, nvidia.com/gpu: 8}}
  - {name: gang, queue: q, at: 1, pods: 3, durationSeconds: 10,
     topology: {name: fabric, required: example.com/rack}, requests: {cpu: 1, nvidia.com/gpu: 8}}
)";

TEST(SimDriver, AGangWithARequiredRackWaitsForOneRackToHoldItWhole) {
  const SimResult constrained = simulate(must_parse(kRackGang));
  EXPECT_EQ(job_named(constrained, "gang").first_bound_ms, 30'000);
  Scenario loose = must_parse(kRackGang);
  loose.jobs[1].topology = {};
  EXPECT_EQ(job_named(simulate(loose), "gang").first_bound_ms, 1'000);
}

// Subgroups in a scenario: a gang of two parts (2 x 8 GPUs each), each of which must sit in one
// rack. Racks of 2, 2 and 1 nodes: it binds at once, a part per two-node rack. Racks of 2, 1, 1:
// only r1 holds a part, so the gang waits (all or nothing), though four nodes are free; without
// the parts' constraint it binds at once.
std::string subgroup_scenario(int r2, int r3) {
  return fmt::format(R"(
nodes:
  - {{namePrefix: r1-, count: 2, labels: {{example.com/rack: r1}},
     allocatable: {{cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}}}
  - {{namePrefix: r2-, count: {}, labels: {{example.com/rack: r2}},
     allocatable: {{cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}}}
  - {{namePrefix: r3-, count: {}, labels: {{example.com/rack: r3}},
     allocatable: {{cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}}}
topologies: [{{name: fabric, levels: [{{nodeLabel: example.com/rack}}]}}]
queues: [{{name: q}}]
jobs:
  - {{name: train, queue: q, at: 0, durationSeconds: 10, requests: {{cpu: 1, nvidia.com/gpu: 8}},
     subgroups: [{{name: prefill, pods: 2, topology: {{name: fabric, required: example.com/rack}}}},
                 {{name: decode, pods: 2, topology: {{name: fabric, required: example.com/rack}}}}]}}
)",
                     r2, r3);
}

TEST(SimDriver, SubgroupsEachMeetTheirOwnTopologyConstraint) {
  const Scenario two_racks = must_parse(subgroup_scenario(2, 1));
  EXPECT_EQ(two_racks.jobs[0].pods, 4);
  EXPECT_EQ(job_named(simulate(two_racks), "train").first_bound_ms, 0);

  Scenario scattered = must_parse(subgroup_scenario(1, 1));
  scattered.duration_ms = 60'000;
  EXPECT_FALSE(job_named(simulate(scattered), "train").first_bound_ms);
  for (auto& part : scattered.jobs[0].subgroups) part.group.topology_constraint = {};
  EXPECT_EQ(job_named(simulate(scattered), "train").first_bound_ms, 0);
}

// Two 8-GPU nodes. A filler takes one node for 30 s from t=0; a 16-GPU gang (2 x 8) arrives at
// t=1 and must not start on the one free node: it waits, all or nothing, until t=30.
constexpr const char* kGangWaits = R"(
nodes: [{namePrefix: n-, count: 2, allocatable: {cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}]
queues: [{name: q}]
jobs:
  - {name: filler, queue: q, at: 0, durationSeconds: 30, requests: {cpu: 1, nvidia.com/gpu: 8}}
  - {name: gang, queue: q, at: 1, pods: 2, durationSeconds: 10,
     requests: {cpu: 1, nvidia.com/gpu: 8}}
)";

TEST(SimDriver, GangWaitsForCapacityThenRuns) {
  const SimResult result = simulate(must_parse(kGangWaits));
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  const JobOutcome& gang = job_named(result, "gang");
  EXPECT_EQ(gang.started_ms, 30'000);
  EXPECT_EQ(gang.wait_ms(), 29'000);
  EXPECT_EQ(gang.finished_ms, 40'000);
  // Before t=30 the cluster held only the filler's 8 GPUs: no half-placed gang.
  for (const Sample& sample : result.samples) {
    if (sample.time_ms > 0 && sample.time_ms < 30'000) {
      EXPECT_DOUBLE_EQ(sample.allocated_gpu, 8) << "at " << sample.time_ms;
    }
  }
}

// The same gang as a PyTorchJob's pods (1 master + 1 worker, no PodGroup, no annotation):
// fairway infers the gang from their owner, and it waits whole just the same.
TEST(SimDriver, PyTorchJobPodsAreOneInferredGang) {
  const SimResult result = simulate(must_parse(R"(
nodes: [{namePrefix: n-, count: 2, allocatable: {cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}]
queues: [{name: q}]
jobs:
  - {name: filler, queue: q, at: 0, durationSeconds: 30, requests: {cpu: 1, nvidia.com/gpu: 8}}
  - {name: llama, queue: q, at: 1, pods: 2, durationSeconds: 10, workload: PyTorchJob,
     requests: {cpu: 1, nvidia.com/gpu: 8}}
)"));
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  const JobOutcome& gang = job_named(result, "llama");
  EXPECT_EQ(gang.gang, "inferred from PyTorchJob sim/llama");
  EXPECT_EQ(gang.min_member, 2);
  EXPECT_EQ(gang.first_bound_ms, 30'000);
  EXPECT_EQ(gang.started_ms, 30'000);
  for (const Sample& sample : result.samples) {
    if (sample.time_ms > 0 && sample.time_ms < 30'000) {
      EXPECT_DOUBLE_EQ(sample.allocated_gpu, 8) << "at " << sample.time_ms;
    }
  }
  EXPECT_EQ(job_named(result, "llama").queue, "q");
}

// A plain Job's pods bind independently: the one that fits starts at once.
TEST(SimDriver, PlainJobPodsBindIndependently) {
  const SimResult result = simulate(must_parse(R"(
nodes: [{namePrefix: n-, count: 2, allocatable: {cpu: 64, memory: 256Gi, nvidia.com/gpu: 8}}]
queues: [{name: q}]
jobs:
  - {name: filler, queue: q, at: 0, durationSeconds: 30, requests: {cpu: 1, nvidia.com/gpu: 8}}
  - {name: etl, queue: q, at: 1, pods: 2, durationSeconds: 10, workload: Job,
     requests: {cpu: 1, nvidia.com/gpu: 8}}
)"));
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  const JobOutcome& job = job_named(result, "etl");
  EXPECT_EQ(job.gang, "inferred from Job sim/etl");
  EXPECT_EQ(job.min_member, 1);
  EXPECT_EQ(job.first_bound_ms, 1'000);
  EXPECT_EQ(job.started_ms, 30'000);
  std::ostringstream text;
  write_summary(text, result, {});
  EXPECT_THAT(text.str(), HasSubstr("inferred from Job sim/etl"));
  EXPECT_THAT(text.str(), HasSubstr("apart"));
}

TEST(SimDriver, PendingGangExplainsWhy) {
  Scenario scenario = must_parse(kGangWaits);
  scenario.duration_ms = 20'000;
  const SimResult result = simulate(scenario);
  EXPECT_EQ(result.stop, StopReason::kDurationReached);
  EXPECT_EQ(result.end_ms, 20'000);
  const JobOutcome& gang = job_named(result, "gang");
  EXPECT_FALSE(gang.started_ms.has_value());
  EXPECT_EQ(gang.pods_bound, 0);
  ASSERT_EQ(result.pending.size(), 1u);
  EXPECT_EQ(result.pending[0].job, "gang");
  EXPECT_EQ(result.pending[0].reason, "Unschedulable");
  EXPECT_THAT(result.pending[0].message, HasSubstr("gang needs 2 more pods, 1 fit"));
  const SimSummary summary = summarize(result);
  EXPECT_EQ(summary.running, 1u);
  EXPECT_EQ(summary.pending, 1u);
}

TEST(SimDriver, StopsWhenNothingCanChange) {
  const SimResult result = simulate(must_parse(R"(
nodes: [{allocatable: {cpu: 8, nvidia.com/gpu: 8}}]
jobs:
  - {name: fits, durationSeconds: 5, requests: {nvidia.com/gpu: 4}}
  - {name: never, at: 1, pods: 3, requests: {nvidia.com/gpu: 4}}
)"));
  EXPECT_EQ(result.stop, StopReason::kStalled);
  EXPECT_EQ(result.end_ms, 5'000);
  EXPECT_TRUE(job_named(result, "fits").completed());
  ASSERT_EQ(result.pending.size(), 1u);
  EXPECT_EQ(result.pending[0].job, "never");
  EXPECT_EQ(result.pending[0].queue, "default");
}

TEST(SimDriver, SameScenarioSameResult) {
  const Scenario scenario = must_parse(demo_scenario_yaml());
  const nlohmann::json first = json_report(simulate(scenario), {});
  const nlohmann::json second = json_report(simulate(scenario), {});
  EXPECT_EQ(first, second);
  std::ostringstream a;
  std::ostringstream b;
  write_text_report(a, simulate(scenario), {});
  write_text_report(b, simulate(scenario), {});
  EXPECT_EQ(a.str(), b.str());
}

TEST(SimDriver, DemoEndsEveryJob) {
  const SimResult result = simulate(must_parse(demo_scenario_yaml()));
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  EXPECT_EQ(result.nodes, 16u);
  EXPECT_DOUBLE_EQ(result.gpu_capacity, 128);
  const SimSummary summary = summarize(result);
  // Every job ended: completed, or evicted by the reclaim below (never both).
  EXPECT_EQ(summary.completed + summary.evicted, summary.jobs);
  EXPECT_EQ(summary.running + summary.pending, 0u);
  EXPECT_GT(summary.jobs, 40u);
  // A few simulated minutes, with contention: someone waited and the cluster was full at times.
  EXPECT_GE(result.end_ms, 120'000);
  EXPECT_LE(result.end_ms, 300'000);
  EXPECT_GT(summary.wait.max, 0);
  EXPECT_DOUBLE_EQ(summary.peak_utilization, 1.0);
  // The 16-GPU gang ran.
  EXPECT_TRUE(job_named(result, "nlp-pretrain").completed());
}

// The demo's point: production (quota 48) arrives at 0:30 while research holds the cluster far
// over its share. fairway's own preemption pass (scheduler/planner) reclaims: it evicts research
// pods for production's jobs, and production reaches its fair share within seconds instead of
// waiting for research's jobs to end (the first at 1:10).
TEST(SimDriver, DemoReclaimsForProductionFromResearch) {
  const SimResult result = simulate(must_parse(demo_scenario_yaml()));
  ASSERT_FALSE(result.evictions.empty());
  for (const Eviction& eviction : result.evictions) {
    EXPECT_EQ(eviction.action, "reclaim");
    EXPECT_THAT(eviction.queue, ::testing::AnyOf("vision", "nlp")) << eviction.pod;
    EXPECT_EQ(eviction.for_queue, "production") << eviction.pod;
    EXPECT_THAT(eviction.for_job, ::testing::AnyOf(::testing::StartsWith("serve-"), "prod-gang"));
    EXPECT_GE(eviction.time_ms, 30'000);  // not before production asked
    // The victim's job ended by eviction and never completes later.
    const JobOutcome& victim = job_named(result, eviction.job);
    EXPECT_TRUE(victim.evicted()) << victim.name;
    EXPECT_FALSE(victim.completed()) << victim.name;
    EXPECT_EQ(victim.pods_evicted, victim.pods);
  }
  const auto groups = summarize_evictions(result);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].for_queue, "production");
  ASSERT_TRUE(groups[0].share_reached_ms.has_value());
  EXPECT_GE(*groups[0].share_reached_ms, 30'000);
  EXPECT_LT(*groups[0].share_reached_ms, 45'000);

  // The same demo without the pass: production waits for research's jobs to end.
  DriverOptions no_pass;
  no_pass.preemption_period_ms = 0;
  const SimResult waited = simulate(must_parse(demo_scenario_yaml()), no_pass);
  EXPECT_TRUE(waited.evictions.empty());
  const size_t production = 1;  // default, production, research, nlp, vision
  ASSERT_EQ(waited.queues[production].name, "production");
  std::optional<TimeMs> reached;
  for (const Sample& sample : waited.samples) {
    const QueueSample& q = sample.queues[production];
    if (sample.time_ms >= 30'000 && q.fair_share_gpu > 0 &&
        q.allocated_gpu + 0.5 >= q.fair_share_gpu) {
      reached = sample.time_ms;
      break;
    }
  }
  ASSERT_TRUE(reached.has_value());
  EXPECT_GE(*reached, 60'000);
}

// Hand-computed reclaim. One node of 8 GPUs; queues a and b deserve 4 each. b runs 8 one-GPU
// jobs for 100 s from t=0 (it may borrow a's idle quota). At t=10 a submits 4 one-GPU jobs of
// 10 s: the pass after that cycle evicts 4 of b's pods (reclaim for a), the next cycle (t=11)
// binds a's 4 on the room nominated to them, they finish at t=21, b's other 4 at t=100.
constexpr const char* kReclaim = R"(
name: reclaim
nodes: [{namePrefix: n-, allocatable: {cpu: 64, memory: 64Gi, nvidia.com/gpu: 8}}]
queues:
  - {name: a, resources: {nvidia.com/gpu: {quota: 4}}}
  - {name: b, resources: {nvidia.com/gpu: {quota: 4}}}
jobs:
  - {name: b, queue: b, at: 0, count: 8, durationSeconds: 100, requests: {cpu: 1, nvidia.com/gpu: 1}}
  - {name: a, queue: a, at: 10, count: 4, durationSeconds: 10, requests: {cpu: 1, nvidia.com/gpu: 1}}
)";

TEST(SimDriver, ReclaimEvictsTheOverShareQueueAndTheWaitingQueueGetsItsShare) {
  const SimResult result = simulate(must_parse(kReclaim));
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  EXPECT_EQ(result.end_ms, 100'000);
  ASSERT_EQ(result.evictions.size(), 4u);
  for (const Eviction& eviction : result.evictions) {
    EXPECT_EQ(eviction.time_ms, 10'000);
    EXPECT_EQ(eviction.action, "reclaim");
    EXPECT_EQ(eviction.queue, "b");
    EXPECT_EQ(eviction.for_queue, "a");
    EXPECT_THAT(eviction.for_job, ::testing::StartsWith("a-"));
  }
  size_t evicted = 0;
  for (int i = 1; i <= 8; ++i) {
    const JobOutcome& job = job_named(result, "b-" + std::to_string(i));
    if (job.evicted()) {
      ++evicted;
      EXPECT_EQ(job.evicted_ms, 10'000);
      EXPECT_FALSE(job.finished_ms.has_value());
    } else {
      EXPECT_EQ(job.finished_ms, 100'000);
    }
  }
  EXPECT_EQ(evicted, 4u);
  for (int i = 1; i <= 4; ++i) {
    const JobOutcome& job = job_named(result, "a-" + std::to_string(i));
    EXPECT_EQ(job.started_ms, 11'000) << job.name;
    EXPECT_EQ(job.finished_ms, 21'000) << job.name;
  }
  const SimSummary summary = summarize(result);
  EXPECT_EQ(summary.completed, 8u);
  EXPECT_EQ(summary.evicted, 4u);
  const auto groups = summarize_evictions(result);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].from_queues, std::vector<std::string>{"b"});
  EXPECT_EQ(groups[0].share_reached_ms, 11'000);
  EXPECT_DOUBLE_EQ(groups[0].fair_share_gpu, 4);

  // The report says so.
  std::ostringstream text;
  write_summary(text, result, {});
  EXPECT_THAT(text.str(), HasSubstr("12 total: 8 completed, 4 evicted, 0 running, 0 pending"));
  EXPECT_THAT(text.str(),
              HasSubstr("reclaim for queue a: fairway evicted 4 pod(s) of queue b at 0:10"));
  EXPECT_THAT(text.str(), HasSubstr("a reached its fair share (4 GPUs) at 0:11"));
  const nlohmann::json json = json_report(result, {});
  EXPECT_EQ(json["jobs"]["evicted"], 4);
  EXPECT_EQ(json["evictions"].size(), 4u);
  EXPECT_EQ(json["eviction_summary"][0]["share_reached_seconds"], 11.0);
}

// Four quarter-GPU pods on a node of 2 GPUs: one shared GPU holds them all (bin-pack), behind
// one reservation pod the driver creates as the reservation manager would. The queue is charged
// 4 x 0.25 = 1 GPU, the node one whole GPU; once they finish the reservation pod goes.
constexpr const char* kSharing = R"(
name: sharing
nodes: [{namePrefix: n-, allocatable: {cpu: 16, memory: 64Gi, nvidia.com/gpu: 2}}]
queues: [{name: q, resources: {nvidia.com/gpu: {quota: 2}}}]
jobs:
  - {name: infer, queue: q, at: 0, count: 4, durationSeconds: 10, gpuFraction: 0.25, requests: {cpu: 1}}
)";

TEST(SimDriver, FractionalPodsShareOneGpu) {
  SimDriver driver(must_parse(kSharing));
  const SimResult result = driver.run();
  EXPECT_EQ(result.stop, StopReason::kAllJobsDone);
  for (const JobOutcome& job : result.jobs) {
    EXPECT_EQ(job.gpu_group, "n-0-gpu0") << job.name;
    EXPECT_EQ(job.gpus, 250) << job.name;
    EXPECT_EQ(job.started_ms, 0) << job.name;
    EXPECT_TRUE(job.completed()) << job.name;
  }
  ASSERT_FALSE(result.samples.empty());
  const Sample& first = result.samples.front();
  size_t q = 0;
  while (q < result.queues.size() && result.queues[q].name != "q") ++q;
  ASSERT_LT(q, result.queues.size());
  EXPECT_DOUBLE_EQ(first.queues[q].allocated_gpu, 1.0);  // the queue: four quarters
  EXPECT_DOUBLE_EQ(first.allocated_gpu, 1.0);            // the node: one whole shared GPU
  // All done: the shared GPU went back with its reservation pod.
  EXPECT_EQ(driver.state().find_pod("fairway-reservation/n-0-gpu0"), nullptr);
  EXPECT_DOUBLE_EQ(result.samples.back().allocated_gpu, 0);
  std::ostringstream text;
  write_summary(text, result, {});
  EXPECT_THAT(text.str(), HasSubstr("n-0-gpu0         infer-1 (0.25 GPU), infer-2 (0.25 GPU), "
                                    "infer-3 (0.25 GPU), infer-4 (0.25 GPU)"));
}

TEST(SimDriver, DemoSharesAGpuBetweenItsQuarterPods) {
  const SimResult result = simulate(must_parse(demo_scenario_yaml()));
  std::string group;
  for (int i = 1; i <= 4; ++i) {
    const JobOutcome& job = job_named(result, "infer-" + std::to_string(i));
    EXPECT_TRUE(job.completed());
    ASSERT_FALSE(job.gpu_group.empty());
    if (group.empty()) group = job.gpu_group;
    EXPECT_EQ(job.gpu_group, group);
  }
}

TEST(DemoScenario, MatchesExamplesFile) {
  const std::string root = FAIRWAY_SOURCE_DIR;
  std::ifstream in(root + "/examples/sim/demo.yaml");
  ASSERT_TRUE(in.good()) << root;
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), demo_scenario_yaml());
}

TEST(Percentile, NearestRank) {
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  // 1..10: p50 = 5th, p90 = 9th, p99 = 10th.
  const std::vector<double> values = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_DOUBLE_EQ(percentile(values, 50), 5);
  EXPECT_DOUBLE_EQ(percentile(values, 90), 9);
  EXPECT_DOUBLE_EQ(percentile(values, 99), 10);
}

TEST(Report, DefaultIntervalGivesAboutTenTables) {
  SimResult result;
  result.end_ms = 220'000;
  EXPECT_EQ(report_interval(result, {}), 25'000);
  result.report_every_ms = 40'000;
  EXPECT_EQ(report_interval(result, {}), 40'000);
  ReportOptions options;
  options.every_ms = 5'000;
  EXPECT_EQ(report_interval(result, options), 5'000);
  EXPECT_EQ(format_clock(65'000), "1:05");
  EXPECT_EQ(format_clock(3'725'000), "1:02:05");
}

}  // namespace
}  // namespace fairway::sim
