// What owner inference (issue 18, docs/gangs.md) costs. Bar: no extra API request per pod per
// cycle (asserted by tests/integration/owner_gangs.sh) and ≤ 5% of a 10,000-node cycle.
//
// Inference runs when a pod's watch event is applied to the state (ClusterState::upsert_pod
// resolves its gang), never inside the cycle; the cycle reads the job the pod was filed under.
// So it is measured twice, on the same 10,000-node cluster as BM_FullCycle:
//   - BM_FullCycleGangs: the full cycle whose pending gangs are inferred from their workloads,
//     against the same pods naming hand-written PodGroups of the same sizes and subgroups;
//   - BM_PendingPodEvent and BM_ResolveGang: applying one pod's event with and without
//     inference, and the inference alone, per pod; docs/benchmarks.md turns them into a fraction
//     of the cycle for a cycle in which every pending pod's event arrives.
// Run: build/benchmarks/owner_gangs_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "benchmarks/synthetic_cluster.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/state/gangs.h"

namespace fairway::bench {
namespace {

// How the pending pods name their gang.
enum Naming : int64_t {
  kPodGroups = 0,  // annotation fairway.dev/pod-group and a fairway PodGroup per job
  kInferred = 1,   // nothing but their ownerReferences
};
// Which workload a pod of the event benchmarks belongs to; indexes kSamples.
enum Shape : int64_t { kPyTorchJob = 0, kJobSet = 1, kPlainJob = 2 };

constexpr std::string_view kNamespace = "team";
constexpr int kGangSize = 8;

Workload workload(std::string api_version, std::string kind, std::string name) {
  Workload w;
  w.api_version = std::move(api_version);
  w.kind = std::move(kind);
  w.namespace_ = kNamespace;
  w.name = std::move(name);
  w.uid = w.kind + "/" + w.name;
  return w;
}

OwnerRef ref_to(const Workload& w) {
  return {w.api_version, w.kind, w.name, w.uid};
}

// Files the pods under their gang: by naming a PodGroup fairway has (kPodGroups), or by their
// owners alone (kInferred). The PodGroup has the size and subgroups inference would derive, so
// both namings place the same jobs.
// A pending pod of each shape in the 10,000-node cluster (early jobs of their kind).
constexpr std::string_view kSamples[] = {"llama-9-worker-3", "bert-19-left-0-2", "etl-0-0"};
bool is_sample(std::string_view name) {
  return std::find(std::begin(kSamples), std::end(kSamples), name) != std::end(kSamples);
}

class Builder {
 public:
  Builder(ClusterState& state, Naming naming) : state_(state), naming_(naming) {}
  // The pods of the event benchmarks, as the watch delivers them (the state drops containers).
  std::unordered_map<std::string, Pod> kept;

  void add(Pod pod, const Workload& owner, const PodGroup& group, std::string_view subgroup) {
    pod.owner = ref_to(owner);
    pod.labels.erase("fairway.dev/queue");  // the queue is the workload's (or the PodGroup's)
    if (naming_ == kPodGroups) {
      pod.annotations.emplace(kAnnotationPodGroup, group.name);
      pod.subgroup = subgroup;
    } else if (!subgroup.empty()) {
      pod.labels.emplace(kJobSetReplicatedJobLabel, subgroup);
    }
    if (kept.size() < 3 && is_sample(pod.name)) kept.emplace(pod.name, pod);
    state_.upsert_pod(std::move(pod));
  }
  void add_group(PodGroup group) {
    if (naming_ == kPodGroups) state_.upsert_pod_group(std::move(group));
  }

 private:
  ClusterState& state_;
  Naming naming_;
};

PodGroup group_of(const std::string& name, const std::string& queue, int32_t min_member, int job) {
  PodGroup group;
  group.creation_ms = 1'000'000 + job;  // as its pods: the same order in the queue
  group.namespace_ = kNamespace;
  group.name = name;
  group.queue = queue;
  group.min_member = min_member;
  return group;
}

// A PyTorchJob of 1 master + 7 workers, all 1-GPU pods.
void add_pytorchjob(ClusterState& state, Builder& builder, int job, const std::string& queue) {
  Workload w = workload("kubeflow.org/v1", "PyTorchJob", "llama-" + std::to_string(job));
  w.labels.emplace("fairway.dev/queue", queue);
  w.parts = {{.name = "Master", .replicas = 1, .pods_each = 1, .min_replicas = 0},
             {.name = "Worker", .replicas = kGangSize - 1, .pods_each = 1, .min_replicas = 0}};
  const PodGroup group = group_of(inferred_gang_name(w.kind, w.name), queue, kGangSize, job);
  for (int p = 0; p < kGangSize; ++p) {
    const std::string role = p == 0 ? "master-0" : "worker-" + std::to_string(p - 1);
    builder.add(make_pod(w.name + "-" + role, queue, 1, 4000, int64_t{32} << 30, 1'000'000 + job),
                w, group, "");
  }
  builder.add_group(group);
  state.upsert_workload(std::move(w));
}

// A JobSet of two replicated jobs ("left", "right") of one child Job × 4 pods: a gang of 8 in
// two subgroups of 4, each pod two owners below the JobSet (Pod → Job → JobSet).
void add_jobset(ClusterState& state, Builder& builder, int job, const std::string& queue) {
  constexpr int kPerPart = kGangSize / 2;
  Workload set = workload("jobset.x-k8s.io/v1alpha2", "JobSet", "bert-" + std::to_string(job));
  set.labels.emplace("fairway.dev/queue", queue);
  PodGroup group = group_of(inferred_gang_name(set.kind, set.name), queue, kGangSize, job);
  for (const char* part : {"left", "right"}) {
    set.parts.push_back({.name = part, .replicas = 1, .pods_each = kPerPart, .min_replicas = 0});
    group.subgroups.push_back({.name = part, .min_member = kPerPart, .topology_constraint = {}});
    Workload child = workload("batch/v1", "Job", set.name + "-" + part + "-0");
    child.owner = ref_to(set);
    child.parallelism = kPerPart;
    child.completions = kPerPart;
    child.labels.emplace(kJobSetReplicatedJobLabel, part);
    for (int p = 0; p < kPerPart; ++p) {
      builder.add(make_pod(child.name + "-" + std::to_string(p), queue, 1, 4000, int64_t{32} << 30,
                           1'000'000 + job),
                  child, group, part);
    }
    state.upsert_workload(std::move(child));
  }
  builder.add_group(group);
  state.upsert_workload(std::move(set));
}

// A plain Job of one pod: pods of plain Jobs bind independently (a group of minMember 1).
void add_plain_job(ClusterState& state, Builder& builder, int job, const std::string& queue,
                   int64_t gpus) {
  Workload w = workload("batch/v1", "Job", "etl-" + std::to_string(job));
  w.labels.emplace("fairway.dev/queue", queue);
  w.parallelism = 1;
  const PodGroup group = group_of(inferred_gang_name(w.kind, w.name), queue, 1, job);
  builder.add(make_pod(w.name + "-0", queue, gpus, 4000 * gpus, int64_t{32} << 30, 1'000'000 + job),
              w, group, "");
  builder.add_group(group);
  state.upsert_workload(std::move(w));
}

// BM_FullCycle's cluster (synthetic_cluster.h, same seed) with its pending backlog made of
// workloads: one job in ten a gang of 8 (alternately a PyTorchJob and a JobSet), the others
// plain Jobs of one pod of 1, 2, 4 or 8 GPUs (drawn as BM_FullCycle draws its single pods).
struct WorkloadCluster {
  ClusterState state;
  std::unordered_map<std::string, Pod> samples;  // by name (kSamples)
};

WorkloadCluster make_workload_cluster(int64_t nodes, Naming naming) {
  ClusterShape shape;
  shape.nodes = static_cast<int>(nodes);
  shape.running_pods = static_cast<int>(nodes * 10);
  shape.pending_pods = static_cast<int>(nodes * 2);
  std::mt19937 rng(42);
  ClusterState state;
  for (const auto& [group, kind] :
       {std::pair{"batch", "Job"}, {"kubeflow.org", "PyTorchJob"}, {"jobset.x-k8s.io", "JobSet"}}) {
    state.set_workload_kind_watched(group, kind);
  }
  add_queues(state, shape);
  add_nodes(state, shape);
  add_running(state, shape, rng);
  Builder builder(state, naming);
  const int f = shape.queue_fanout;
  const int leaves = f * f * f;
  for (int made = 0, job = 0; made < shape.pending_pods; ++job) {
    const int leaf = job % leaves;
    const std::string queue = leaf_name(leaf / (f * f), leaf / f % f, leaf % f);
    if (job % 10 == 9) {
      if (job / 10 % 2 == 0) {
        add_pytorchjob(state, builder, job, queue);
      } else {
        add_jobset(state, builder, job, queue);
      }
      made += kGangSize;
    } else {
      static constexpr int64_t kSizes[] = {1, 1, 1, 2, 4, 8};
      add_plain_job(state, builder, job, queue, kSizes[rng() % 6]);
      ++made;
    }
  }
  state.queue_tree();
  return {std::move(state), std::move(builder.kept)};
}

// The 10,000-node cluster of each naming, built once per process: the cases and their
// repetitions share it (a cycle without assume leaves it as it was; a repeated pod event too).
WorkloadCluster& shared_cluster(Naming naming) {
  static std::unique_ptr<WorkloadCluster> clusters[2];
  std::unique_ptr<WorkloadCluster>& cluster = clusters[naming == kInferred ? 1 : 0];
  if (!cluster) cluster = std::make_unique<WorkloadCluster>(make_workload_cluster(10'000, naming));
  return *cluster;
}

void BM_FullCycleGangs(benchmark::State& bench) {
  ClusterState& cluster = shared_cluster(Naming(bench.range(1))).state;
  CycleResult last;
  for (auto _ : bench) {
    last = run_cycle(cluster);
    benchmark::DoNotOptimize(last.bindings.data());
  }
  bench.counters["pods_bound"] = last.stats.pods_bound;
  bench.counters["jobs_pending"] = static_cast<double>(last.pending.size());
  bench.counters["workloads"] = static_cast<double>(cluster.workloads().size());
}
BENCHMARK(BM_FullCycleGangs)
    ->ArgNames({"nodes", "inferred"})
    ->Args({10'000, kPodGroups})
    ->Args({10'000, kInferred})  // shared_cluster's size
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// One watch event for a pending pod (an update; the state re-files the pod whatever changed):
// with inference, the owner walk and gang sizing run inside upsert_pod.
void BM_PendingPodEvent(benchmark::State& bench) {
  WorkloadCluster& cluster = shared_cluster(Naming(bench.range(0)));
  const Pod& pod = cluster.samples.at(std::string(kSamples[bench.range(1)]));
  for (auto _ : bench) cluster.state.upsert_pod(pod);
  const PodRecord* record = cluster.state.find_pod(pod.key());
  if (record == nullptr || record->gang.name.empty()) bench.SkipWithError("the pod has no gang");
}
BENCHMARK(BM_PendingPodEvent)
    ->ArgNames({"inferred", "shape"})
    ->ArgsProduct({{kPodGroups, kInferred}, {kPyTorchJob, kJobSet, kPlainJob}});

// The inference alone: resolving a pod's gang from its owners (and, for a named PodGroup, from
// its annotation), as upsert_pod does once per event.
void BM_ResolveGang(benchmark::State& bench) {
  const WorkloadCluster& cluster = shared_cluster(Naming(bench.range(0)));
  const Pod& pod = cluster.samples.at(std::string(kSamples[bench.range(1)]));
  const PodIntentConfig config;
  for (auto _ : bench) {
    GangRef gang = resolve_gang(pod, cluster.state.workloads(), config);
    benchmark::DoNotOptimize(gang.name.data());
  }
}
BENCHMARK(BM_ResolveGang)
    ->ArgNames({"inferred", "shape"})
    ->ArgsProduct({{kPodGroups, kInferred}, {kPyTorchJob, kJobSet, kPlainJob}});

}  // namespace
}  // namespace fairway::bench
