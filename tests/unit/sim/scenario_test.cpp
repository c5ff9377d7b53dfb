// Scenario parsing: a full valid scenario decodes field by field with the documented defaults,
// and every kind of mistake gives one message naming the field, never a crash.
#include "sim/scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scheduler/state/pod_intent.h"

namespace fairway::sim {
namespace {

using ::testing::HasSubstr;

constexpr const char* kValid = R"(
name: small
description: two nodes, one gang
cyclePeriodSeconds: 2
durationSeconds: 300
reportEverySeconds: 15
nodes:
  - namePrefix: gpu-
    count: 2
    labels: {zone: a}
    taints: [{key: dedicated, value: ml, effect: NoSchedule}]
    allocatable: {cpu: 64, memory: 512Gi, nvidia.com/gpu: 8}
queues:
  - name: research
    priority: 5
    resources:
      nvidia.com/gpu: {quota: 8, limit: 12, overQuotaWeight: 2}
  - name: vision
    parent: research
    preemptMinRuntime: 5m
jobs:
  - name: train
    queue: vision
    at: 1.5
    every: 10
    count: 3
    pods: 4
    minMember: 2
    priority: 7
    durationSeconds: 30
    requests: {cpu: 500m, memory: 1Gi, nvidia.com/gpu: 2}
    nodeSelector: {zone: a}
    tolerations: [{key: dedicated, operator: Exists}]
  - name: single
    requests: {nvidia.com/gpu: 1}
)";

TEST(ParseScenario, DecodesEveryField) {
  const auto parsed = parse_scenario(kValid);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const Scenario& s = *parsed;
  EXPECT_EQ(s.name, "small");
  EXPECT_EQ(s.description, "two nodes, one gang");
  EXPECT_EQ(s.cycle_period_ms, 2000);
  EXPECT_EQ(s.duration_ms, 300'000);
  EXPECT_EQ(s.report_every_ms, 15'000);

  ASSERT_EQ(s.node_groups.size(), 1u);
  const NodeGroupSpec& group = s.node_groups[0];
  EXPECT_EQ(group.name_prefix, "gpu-");
  EXPECT_EQ(group.count, 2);
  EXPECT_EQ(group.labels.at("zone"), "a");
  ASSERT_EQ(group.taints.size(), 1u);
  EXPECT_EQ(group.taints[0].key, "dedicated");
  EXPECT_EQ(group.taints[0].effect, TaintEffect::kNoSchedule);
  EXPECT_EQ(group.allocatable.at("cpu"), 64'000);
  EXPECT_EQ(group.allocatable.at("memory"), 512LL << 30);
  EXPECT_EQ(group.allocatable.at("nvidia.com/gpu"), 8'000);
  EXPECT_EQ(group.allocatable.at("pods"), 110'000) << "pods defaults to a kubelet's 110";

  ASSERT_EQ(s.queues.size(), 2u);
  EXPECT_EQ(s.queues[0].priority, 5);
  const QueueResourceSpec& gpu = s.queues[0].resources.at("nvidia.com/gpu");
  EXPECT_EQ(gpu.quota, 8'000);
  EXPECT_EQ(gpu.limit, 12'000);
  EXPECT_DOUBLE_EQ(gpu.over_quota_weight, 2);
  EXPECT_EQ(s.queues[1].parent, "research");
  EXPECT_EQ(s.queues[1].preempt_min_runtime_seconds, 300);

  ASSERT_EQ(s.jobs.size(), 2u);
  const JobStreamSpec& train = s.jobs[0];
  EXPECT_EQ(train.queue, "vision");
  EXPECT_EQ(train.at_ms, 1500);
  EXPECT_EQ(train.every_ms, 10'000);
  EXPECT_EQ(train.count, 3);
  EXPECT_EQ(train.pods, 4);
  EXPECT_EQ(train.min_member, 2);
  EXPECT_EQ(train.priority, 7);
  EXPECT_EQ(train.duration_ms, 30'000);
  EXPECT_EQ(train.requests.at("cpu"), 500);
  EXPECT_EQ(train.node_selector.at("zone"), "a");
  ASSERT_EQ(train.tolerations.size(), 1u);
  EXPECT_EQ(train.tolerations[0].op, Toleration::Operator::kExists);

  const JobStreamSpec& single = s.jobs[1];
  EXPECT_EQ(single.queue, "");
  EXPECT_EQ(single.count, 1);
  EXPECT_EQ(single.pods, 1);
  EXPECT_EQ(single.min_member, 1) << "minMember defaults to pods";
  EXPECT_EQ(single.duration_ms, 60'000);
}

TEST(ParseScenario, Defaults) {
  const auto parsed = parse_scenario(R"(
nodes: [{allocatable: {nvidia.com/gpu: 8}}]
jobs: [{name: j, pods: 3}]
)");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  EXPECT_EQ(parsed->cycle_period_ms, 1000);
  EXPECT_FALSE(parsed->duration_ms.has_value());
  EXPECT_EQ(parsed->node_groups[0].name_prefix, "node-0-");
  EXPECT_EQ(parsed->jobs[0].min_member, 3);
}

struct BadCase {
  const char* what;
  const char* yaml;
  const char* message;
};

class ParseScenarioErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseScenarioErrors, NamesTheField) {
  const auto parsed = parse_scenario(GetParam().yaml);
  ASSERT_FALSE(parsed.has_value()) << GetParam().what;
  EXPECT_THAT(parsed.error(), HasSubstr(GetParam().message)) << GetParam().what;
}

#define NODES "nodes: [{allocatable: {nvidia.com/gpu: 8}}]\n"
#define JOBS "jobs: [{name: j}]\n"

INSTANTIATE_TEST_SUITE_P(
    Kinds, ParseScenarioErrors,
    ::testing::Values(
        BadCase{"malformed YAML", "nodes: [\n", "invalid YAML at line"},
        BadCase{"not a map", "- a\n- b\n", "expected a map at the top, got a list"},
        BadCase{"empty document", "", "expected a map at the top, got null"},
        BadCase{"unknown top-level field", NODES JOBS "jbos: []\n", "jbos: unknown field"},
        BadCase{"unknown job field", NODES "jobs: [{name: j, duration: 5}]\n",
                "jobs[0].duration: unknown field"},
        BadCase{"bad quantity",
                NODES "jobs: [{name: a}, {name: b}, {name: c, requests: {cpu: abc}}]\n",
                "jobs[2].requests.cpu: quantity \"abc\""},
        BadCase{"negative quantity", NODES "jobs: [{name: j, requests: {cpu: -1}}]\n",
                "jobs[0].requests.cpu: quantity \"-1\": must not be negative"},
        BadCase{"quantity not a scalar", NODES "jobs: [{name: j, requests: {cpu: [1]}}]\n",
                "jobs[0].requests.cpu: expected a string, got a list"},
        BadCase{"integer expected", NODES "jobs: [{name: j, count: 2.5}]\n",
                "jobs[0].count: expected an integer, got \"2.5\""},
        BadCase{"count out of range", NODES "jobs: [{name: j, count: 0}]\n",
                "jobs[0].count: 0 is out of range"},
        BadCase{"negative seconds", NODES "jobs: [{name: j, at: -3}]\n",
                "jobs[0].at: -3 seconds: must be >= 0"},
        BadCase{"zero duration", NODES "jobs: [{name: j, durationSeconds: 0}]\n",
                "jobs[0].durationSeconds: 0 seconds: must be > 0"},
        BadCase{"seconds not a number", NODES JOBS "cyclePeriodSeconds: soon\n",
                "cyclePeriodSeconds: expected a number, got \"soon\""},
        BadCase{"minMember above pods", NODES "jobs: [{name: j, pods: 2, minMember: 3}]\n",
                "jobs[0].minMember: 3 is more than the job's 2 pods"},
        BadCase{"job without name", NODES "jobs: [{pods: 2}]\n", "jobs[0].name: required"},
        BadCase{"unknown workload", NODES "jobs: [{name: j, workload: TFJob}]\n",
                "jobs[0].workload: \"TFJob\" is not a workload the simulator makes"},
        BadCase{"minMember with a workload",
                NODES "jobs: [{name: j, pods: 2, minMember: 2, workload: PyTorchJob}]\n",
                "jobs[0].minMember: not with workload PyTorchJob"},
        BadCase{"duplicate stream", NODES "jobs: [{name: j}, {name: j}]\n",
                "jobs[1].name: job stream \"j\" is defined twice"},
        BadCase{"undefined queue", NODES "jobs: [{name: j, queue: nope}]\n",
                "jobs[0].queue: queue \"nope\" is not defined under queues"},
        BadCase{"no nodes", JOBS, "nodes: at least one node group is required"},
        BadCase{"no jobs", NODES, "jobs: at least one job stream is required"},
        BadCase{"node group without allocatable", "nodes: [{count: 2}]\n" JOBS,
                "nodes[0].allocatable: required"},
        BadCase{"bad taint effect",
                "nodes: [{allocatable: {cpu: 1}, taints: [{key: k, effect: Never}]}]\n" JOBS,
                "nodes[0].taints[0].effect: \"Never\": expected NoSchedule"},
        BadCase{"bad toleration operator",
                NODES "jobs: [{name: j, tolerations: [{key: k, operator: Maybe}]}]\n",
                "jobs[0].tolerations[0].operator: \"Maybe\": expected Equal or Exists"},
        BadCase{"duplicate node prefix",
                "nodes: [{namePrefix: n-, allocatable: {cpu: 1}}, {namePrefix: n-, "
                "allocatable: {cpu: 1}}]\n" JOBS,
                "nodes[1].namePrefix: \"n-\" is used by another node group"},
        BadCase{"duplicate queue", NODES JOBS "queues: [{name: q}, {name: q}]\n",
                "queues[1].name: queue \"q\" is defined twice"},
        BadCase{"bad queue quota",
                NODES JOBS "queues: [{name: q, resources: {nvidia.com/gpu: {quota: lots}}}]\n",
                "queues[0].resources.nvidia.com/gpu.quota: quantity \"lots\""},
        BadCase{"labels not a map", "nodes: [{allocatable: {cpu: 1}, labels: [a]}]\n" JOBS,
                "nodes[0].labels: expected a map, got a list"},
        BadCase{"gpu fraction of one", NODES "jobs: [{name: j, gpuFraction: 1}]\n",
                "jobs[0].gpuFraction: 1: must be a number greater than 0 and less than 1"},
        BadCase{"gpu fraction zero", NODES "jobs: [{name: j, gpuFraction: 0}]\n",
                "jobs[0].gpuFraction: 0: must be a number greater than 0 and less than 1"},
        BadCase{"gpu fraction not a number", NODES "jobs: [{name: j, gpuFraction: half}]\n",
                "jobs[0].gpuFraction: expected a number, got \"half\""},
        BadCase{"preemptible not a boolean", NODES "jobs: [{name: j, preemptible: maybe}]\n",
                "jobs[0].preemptible: expected true or false, got \"maybe\""},
        BadCase{
            "past usage above 1",
            NODES JOBS "queues: [{name: q, pastUsage: {nvidia.com/gpu: 1.5}}]\n",
            "queues[0].pastUsage.nvidia.com/gpu: a share of the cluster's capacity, from 0 to 1"},
        BadCase{"past usage not a map", NODES JOBS "queues: [{name: q, pastUsage: 0.5}]\n",
                "queues[0].pastUsage: expected a map, got a scalar"},
        BadCase{"negative usage strength", NODES JOBS "usage: {strength: -1}\n",
                "usage.strength: must not be negative"},
        BadCase{"unknown usage field", NODES JOBS "usage: {halflife: 1h}\n",
                "usage.halflife: unknown field"},
        BadCase{"topology without levels", NODES JOBS "topologies: [{name: t}]\n",
                "topologies[0].levels: at least one level is required"},
        BadCase{"topology level without label",
                NODES JOBS "topologies: [{name: t, levels: [{}]}]\n",
                "topologies[0].levels[0].nodeLabel: required"},
        BadCase{"unknown job topology field",
                NODES "jobs: [{name: j, topology: {requiredLevel: rack}}]\n",
                "jobs[0].topology.requiredLevel: unknown field"},
        BadCase{"pods not the subgroups' sum",
                NODES "jobs: [{name: j, pods: 3, subgroups: [{name: a, pods: 2}]}]\n",
                "jobs[0].pods: 3 is not the 2 pods of its subgroups"},
        BadCase{"duplicate subgroup",
                NODES "jobs: [{name: j, subgroups: [{name: a}, {name: a}]}]\n",
                "jobs[0].subgroups[1].name: subgroup \"a\" is defined twice"},
        BadCase{"subgroup minMember above its pods",
                NODES "jobs: [{name: j, subgroups: [{name: a, pods: 1, minMember: 2}]}]\n",
                "jobs[0].subgroups[0].minMember: 2 is more than the subgroup's 1 pods"},
        BadCase{"gpu fraction and whole GPUs",
                NODES "jobs: [{name: j, gpuFraction: 0.5, requests: {nvidia.com/gpu: 1}}]\n",
                "jobs[0].gpuFraction: not with requests nvidia.com/gpu"}));

#undef NODES
#undef JOBS

TEST(ExpandArrivals, OrdersByTimeThenStream) {
  const auto parsed = parse_scenario(R"(
nodes: [{allocatable: {cpu: 8}}]
jobs:
  - {name: late, at: 5}
  - {name: stream, at: 0, every: 5, count: 3}
)");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto arrivals = expand_arrivals(*parsed);
  ASSERT_EQ(arrivals.size(), 4u);
  EXPECT_EQ(arrivals[0].name, "stream-1");
  EXPECT_EQ(arrivals[1].name, "late");  // same time as stream-2, earlier stream first
  EXPECT_EQ(arrivals[2].name, "stream-2");
  EXPECT_EQ(arrivals[3].name, "stream-3");
  EXPECT_EQ(arrivals[3].arrival_ms, 10'000);
}

TEST(BuildPods, GangsCarryPodGroupAnnotations) {
  const auto parsed = parse_scenario(R"(
nodes: [{allocatable: {cpu: 8}}]
queues: [{name: q}]
jobs:
  - {name: gang, queue: q, at: 2, pods: 3, minMember: 2, priority: 4, requests: {cpu: 1}}
  - {name: solo, requests: {cpu: 1}}
)");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto arrivals = expand_arrivals(*parsed);
  const auto gang = build_pods(arrivals[1], parsed->jobs[0]);
  ASSERT_EQ(gang.size(), 3u);
  EXPECT_EQ(gang[1].key(), "sim/gang-1");
  EXPECT_EQ(gang[1].scheduler_name, "fairway");
  EXPECT_EQ(gang[1].labels.at("fairway.dev/queue"), "q");
  EXPECT_EQ(gang[1].annotations.at("fairway.dev/pod-group"), "gang");
  EXPECT_EQ(gang[1].annotations.at("fairway.dev/min-member"), "2");
  EXPECT_EQ(gang[1].creation_ms, 2000);
  EXPECT_EQ(gang[1].priority, 4);
  EXPECT_EQ(gang[1].containers.at(0).requests.at("cpu"), 1000);

  const auto solo = build_pods(arrivals[0], parsed->jobs[1]);
  ASSERT_EQ(solo.size(), 1u);
  EXPECT_EQ(solo[0].key(), "sim/solo");
  EXPECT_FALSE(solo[0].labels.contains("fairway.dev/queue"));
  EXPECT_FALSE(solo[0].annotations.contains("fairway.dev/pod-group"));
}

// preemptible: true / false is the annotation fairway.dev/preemptible on each pod; without it,
// none (the priority decides).
TEST(BuildPods, PreemptibleIsTheAnnotation) {
  const auto parsed = parse_scenario(R"(
nodes: [{allocatable: {cpu: 8}}]
jobs:
  - {name: batch, pods: 2, preemptible: true, requests: {cpu: 1}}
  - {name: serving, preemptible: false, requests: {cpu: 1}}
  - {name: plain, requests: {cpu: 1}}
)");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto arrivals = expand_arrivals(*parsed);
  for (const Pod& pod : build_pods(arrivals[0], parsed->jobs[0])) {
    EXPECT_EQ(pod.annotations.at("fairway.dev/preemptible"), "true") << pod.name;
  }
  EXPECT_EQ(build_pods(arrivals[1], parsed->jobs[1])[0].annotations.at("fairway.dev/preemptible"),
            "false");
  EXPECT_FALSE(
      build_pods(arrivals[2], parsed->jobs[2])[0].annotations.contains("fairway.dev/preemptible"));
  // The scheduler reads it as a pod's own.
  EXPECT_EQ(read_pod_intent(build_pods(arrivals[1], parsed->jobs[1])[0]).preemptible, false);
}

// A workload's pods carry only their owner: no PodGroup, no gang annotation, no queue label
// (the queue is the workload's); they are named as their operator names them.
TEST(BuildPods, GpuFractionIsTheAnnotation) {
  const auto parsed = parse_scenario(R"(
nodes: [{allocatable: {cpu: 8, nvidia.com/gpu: 1}}]
jobs: [{name: infer, gpuFraction: 0.25, requests: {cpu: 1}}]
)");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto pods = build_pods(expand_arrivals(*parsed)[0], parsed->jobs[0]);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0].annotations.at("fairway.dev/gpu-fraction"), "0.25");
  EXPECT_FALSE(pods[0].containers[0].requests.contains("nvidia.com/gpu"));
}

TEST(BuildPods, WorkloadPodsAreOwnedByTheirWorkload) {
  const auto parsed = parse_scenario(R"(
nodes: [{allocatable: {nvidia.com/gpu: 8}}]
queues: [{name: q}]
jobs:
  - {name: llama, queue: q, pods: 3, workload: PyTorchJob}
  - {name: etl, queue: q, pods: 2, workload: Job}
)");
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  const auto arrivals = expand_arrivals(*parsed);
  const auto workload = build_workload(arrivals[0], parsed->jobs[0]);
  ASSERT_TRUE(workload.has_value());
  EXPECT_EQ(workload->api_version, "kubeflow.org/v1");
  EXPECT_EQ(workload->kind, "PyTorchJob");
  EXPECT_EQ(workload->key(), "sim/llama");
  EXPECT_EQ(workload->labels.at("fairway.dev/queue"), "q");
  ASSERT_EQ(workload->parts.size(), 2u);
  EXPECT_EQ(workload->parts[0].name, "Master");
  EXPECT_EQ(workload->parts[1].replicas, 2);
  const auto pods = build_pods(arrivals[0], parsed->jobs[0]);
  ASSERT_EQ(pods.size(), 3u);
  EXPECT_EQ(pods[0].name, "llama-master-0");
  EXPECT_EQ(pods[2].name, "llama-worker-1");
  EXPECT_EQ(pods[2].owner.kind, "PyTorchJob");
  EXPECT_EQ(pods[2].owner.uid, workload->uid);
  EXPECT_FALSE(pods[2].labels.contains("fairway.dev/queue"));
  EXPECT_FALSE(pods[2].annotations.contains("fairway.dev/pod-group"));
  EXPECT_EQ(cycle_job_key(arrivals[0], parsed->jobs[0]), "sim/pytorchjob-llama");

  const auto job = build_workload(arrivals[1], parsed->jobs[1]);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->api_version, "batch/v1");
  EXPECT_EQ(job->parallelism, 2);
  EXPECT_EQ(job->completions, 2);
  EXPECT_EQ(build_pods(arrivals[1], parsed->jobs[1])[1].name, "etl-1");
  EXPECT_FALSE(build_workload(arrivals[0], JobStreamSpec{}).has_value());
}

}  // namespace
}  // namespace fairway::sim
