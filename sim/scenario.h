#pragma once
// A simulation scenario: the cluster (node groups), the Queue tree and the workload (job streams
// arriving over simulated time). Plain data, decoded once from YAML at the edge, and the pure
// functions that turn it into the cluster model's objects (Node, Pod).
//
// The scenario says nothing about how the objects reach the scheduler: today the in-process
// driver (sim/driver.h) feeds them straight into ClusterState; an embedded API server can
// create the same objects over HTTP later.
//
// YAML shape (every field but the lists is optional; unknown fields are errors, so typos show):
//
//   name: demo
//   description: ...
//   cyclePeriodSeconds: 1          # how often the scheduler runs
//   durationSeconds: 600           # stop time; default: when every job finished (capped)
//   reportEverySeconds: 30         # live table interval; default: about ten tables
//   usage: {halfLife: 24h, strength: 1}   # fair share over time (--usage-half-life/-strength)
//   topologies:                    # Topology CRs
//     - {name: fabric, levels: [{nodeLabel: example.com/rack}, {nodeLabel: ...}]}
//   nodes:
//     - {namePrefix: a100-, count: 8, labels: {...}, taints: [{key, value, effect}],
//        allocatable: {cpu: 64, memory: 512Gi, nvidia.com/gpu: 8, pods: 110}}
//   queues:                        # the Queue CR spec, flattened
//     - {name: research, parent: "", priority: 0,
//        resources: {nvidia.com/gpu: {quota: 64, limit: 96, overQuotaWeight: 2}},
//        pastUsage: {nvidia.com/gpu: 0.5}}   # share of the cluster used before time 0
//   jobs:                          # job streams
//     - {name: train, queue: vision, at: 0, every: 30, count: 4, pods: 2, minMember: 2,
//        priority: 0, durationSeconds: 120, requests: {cpu: 8, memory: 64Gi, nvidia.com/gpu: 4},
//        nodeSelector: {...}, tolerations: [{key, operator, value, effect}],
//        workload: PyTorchJob,     # optional, see below
//        gpuFraction: 0.5,         # a share of one GPU (fairway.dev/gpu-fraction), instead of
//                                  # nvidia.com/gpu requests
//        preemptible: true,        # fairway.dev/preemptible on each pod (default: by priority)
//        topology: {name: fabric, required: example.com/rack, preferred: ...},
//        subgroups: [{name: prefill, pods: 2, minMember: 2, topology: {...}}, ...]}
//                                  # a PodGroup with subGroups; pods = their sum
//
// `workload` makes each job of the stream what an operator would create, with no PodGroup and
// no gang annotation: the workload object first, then its pods owned by it (ownerReferences,
// controller), the queue label on the workload only. fairway groups them by owner inference
// (docs/gangs.md):
//   - PyTorchJob: a kubeflow.org/v1 PyTorchJob of 1 Master + (pods - 1) Workers, pods named
//     <job>-master-0, <job>-worker-N: one gang of all its pods;
//   - Job: a batch/v1 Job of parallelism = completions = pods, pods <job>-N: its pods bind
//     independently.
// minMember is not allowed with a workload (the workload decides its gang).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "queues/queue_spec.h"
#include "queues/resources.h"
#include "scheduler/state/cluster_state.h"
#include "scheduler/state/model.h"

namespace fairway::sim {

// Nodes that differ only by name: `count` nodes named namePrefix + 0 .. count-1.
struct NodeGroupSpec {
  std::string name_prefix;
  int32_t count = 1;
  Labels labels;
  std::vector<Taint> taints;
  ResourceList allocatable;  // canonical units; "pods" defaults to 110 like a kubelet
};

// The operator-made object a job's pods belong to (the scenario's `workload`).
enum class SimWorkload : uint8_t { kNone, kPyTorchJob, kJob };

// `count` jobs of the same shape, the first at `at_ms`, then one every `every_ms` (0: a burst of
// `count` jobs at once). Each job is `pods` pods; with more than one pod it is a gang that needs
// `min_member` of them bound together.
struct JobStreamSpec {
  std::string name;
  std::string queue;  // empty: no queue label, so the default queue
  TimeMs at_ms = 0;
  TimeMs every_ms = 0;
  int32_t count = 1;
  int32_t pods = 1;
  int32_t min_member = 1;  // defaults to `pods`
  int32_t priority = 0;
  TimeMs duration_ms = 60'000;  // run time, counted from when the job's last pod is bound
  ResourceList requests;        // per pod, canonical units
  Labels node_selector;
  std::vector<Toleration> tolerations;
  SimWorkload workload = SimWorkload::kNone;
  // 0 < x < 1: each pod asks for that share of one GPU (annotation fairway.dev/gpu-fraction) and
  // shares a GPU with others (docs/gpu-sharing.md); 0: none.
  double gpu_fraction = 0;
  // The annotation fairway.dev/preemptible on each pod (docs/preemption.md); unset: none, so the
  // priority decides.
  std::optional<bool> preemptible;
  // `topology: {name: fabric, required: rack, preferred: kubernetes.io/hostname}`: the gang's
  // topology constraint, as the pods' fairway.dev/topology* annotations (docs/topology.md).
  TopologyConstraint topology;
  // `subgroups: [{name, pods, minMember, topology}]`: the gang's parts, as a PodGroup's subGroups
  // (the simulator creates the PodGroup, its pods carry fairway.dev/subgroup); `pods` is their sum.
  struct Part {
    SubGroup group;
    int32_t pods = 1;
  };
  std::vector<Part> subgroups;
};

struct Scenario {
  std::string name = "scenario";
  std::string description;
  TimeMs cycle_period_ms = 1000;
  std::optional<TimeMs> duration_ms;
  std::optional<TimeMs> report_every_ms;
  std::vector<NodeGroupSpec> node_groups;
  std::vector<QueueSpec> queues;  // pastUsage: QueueSpec::past_usage, at the scenario's start
  std::vector<JobStreamSpec> jobs;
  // Fair share over time (docs/scheduling.md): `usage: {halfLife: 24h, strength: 1}`; queues'
  // `pastUsage: {nvidia.com/gpu: 0.5}` is what each used before the scenario starts.
  UsageConfig usage;
  // Topology CRs (`topologies: [{name, levels: [{nodeLabel}]}]`, top to bottom); node groups
  // carry the level labels (one group per rack, say).
  std::vector<TopologySpec> topologies;
};

// Parses and validates a scenario. Errors name the field, e.g.
// `jobs[2].requests.cpu: quantity "abc": ...`; malformed YAML gives the line and column.
tl::expected<Scenario, std::string> parse_scenario(std::string_view yaml_text);

// One job of a stream, as it arrives.
struct JobArrival {
  std::string name;   // the stream's name, or name-N when the stream has several jobs
  size_t stream = 0;  // index into Scenario::jobs
  TimeMs arrival_ms = 0;
};

// Every job of the scenario, ordered by arrival time, then stream order (deterministic).
std::vector<JobArrival> expand_arrivals(const Scenario& scenario);

// The nodes of the scenario, in group order.
std::vector<Node> build_nodes(const Scenario& scenario);

// The namespace every simulated pod lives in.
inline constexpr std::string_view kSimNamespace = "sim";

// The workload object of one job of a stream with a `workload` (nullopt without one), as its
// user creates it: named after the job, the stream's queue label, uid "uid-<kind>-<job>" (the
// live driver replaces it with the API server's).
std::optional<Workload> build_workload(const JobArrival& job, const JobStreamSpec& stream);

// The pods of one job: schedulerName fairway, created at the arrival time. Without a workload:
// the queue label, and for jobs of several pods the fairway.dev/pod-group and
// fairway.dev/min-member annotations. With one: owned by build_workload's object, nothing else.
std::vector<Pod> build_pods(const JobArrival& job, const JobStreamSpec& stream);
// The PodGroup of a job with subgroups (nullopt otherwise): created before its pods.
std::optional<PodGroup> build_pod_group(const JobArrival& job, const JobStreamSpec& stream);

// The key the cycle files a job's pods under: "sim/<job>" for the pod-group annotation and
// single pods, "sim/<kind>-<job>" for a gang inferred from its workload.
std::string cycle_job_key(const JobArrival& job, const JobStreamSpec& stream);

}  // namespace fairway::sim
