#pragma once
// Private to scheduler/cycle: the CycleRunner that run_cycle, place_on_ledger and diagnose_pod
// (cycle.h, defined in cycle.cpp) drive, and the small helpers its phases share. One file per
// phase defines its members:
//   job_order.cpp    queues by DRF, jobs by priority, queue limits and fair share;
//   nominations.cpp  capacity held for jobs the preemption pass made room for;
//   place_job.cpp    one job, step by step: checks, the gang's minimum, the rest, bindings;
//   node_fit.cpp     filter and score nodes for one pod (bin-pack or spread, NVLink islands);
//   ledger_changes.cpp  placements taken and given back on the scratch ledger, GPU sets;
//   place_gang.cpp   a gang in the fabric (Topology levels), place_subgroups.cpp its parts;
//   shared_gpus.cpp  fractional pods on shared GPUs;
//   diagnose.cpp     why no node fits, in kube-scheduler's words.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "queues/drf_order.h"
#include "scheduler/cycle/cycle.h"
#include "scheduler/cycle/device_ledger.h"
#include "scheduler/cycle/node_ledger.h"
#include "scheduler/cycle/pod_constraints.h"
#include "scheduler/cycle/shared_gpu_ledger.h"
#include "scheduler/state/subgroups.h"
#include "topology/fabric_tree.h"

namespace fairway::cycle_internal {

// Relative slack when comparing allocations against fair shares, which are doubles.
inline constexpr double kShareSlack = 1e-9;

enum class QueueCheck { kOk, kOverFairShare, kOverLimit };

enum class Attempt { kPlaced, kDeferred, kFailed };

// Fabric domains tried per level for one gang before relaxing (each failed trial is rolled back).
inline constexpr int kMaxDomainTrials = 8;
// Domains with at most this many nodes are scanned node by node; bigger ones are searched
// through the ledger's free-GPU buckets, filtered by membership.
inline constexpr uint32_t kDirectScanNodes = 64;
inline constexpr std::string_view kHostnameLevel = "kubernetes.io/hostname";

inline int64_t whole_gpus(const ResourceVector& amount) {
  return std::max<int64_t>(amount[kGpu], 0) / 1000;
}

// What a pod costs its node: a fractional pod's GPU share is paid by its shared GPU's group.
inline ResourceVector node_charge(const PodRecord& record) {
  ResourceVector charge = record.requests;
  if (record.shared_gpu_milli != 0) charge.add(kGpu, -record.shared_gpu_milli);
  return charge;  // one named return (NRVO): no small_vector move for GCC to misread
}

inline bool is_sharer(const PodRecord& record) {
  return record.intent.gpu_fraction.has_value();
}

class CycleRunner {
 public:
  // `external`: a planner's scratch ledger to place on (place_on_ledger); null: the cycle's own.
  CycleRunner(ClusterState& state, const CycleOptions& options, NodeLedger* external = nullptr)
      : state_(state),
        options_(options),
        tree_(state.queue_tree()),
        ledger_(external != nullptr ? *external : own_ledger_.emplace(state)),
        shared_(state) {
    bool known = false;
    bool unknown = false;
    for (const NodeRecord& record : state.nodes()) {
      if (!record.schedulable() || record.allocatable[kGpu] < 2000) continue;
      if (record.gpu_graph == nullptr) {
        unknown = true;
      } else {
        known = true;
        if (!record.gpu_graph->one_island()) islands_matter_ = true;
      }
    }
    if (known && unknown) islands_matter_ = true;
  }

  CycleResult run();
  std::optional<std::vector<Binding>> place_only(JobId id, const std::vector<PodId>& pods,
                                                 std::string* why);
  // diagnose_pod (cycle.h): every present node's verdict on `pod`, nothing placed yet.
  std::vector<NodeDiagnosis> diagnose_nodes(PodId pod);

 private:
  struct Placed {
    PodId pod;
    NodeId node;
    uint64_t gpus = 0;  // GPU indices chosen on the node's link graph
    // Fractional pods: the shared GPUs joined, and the units taken on each.
    std::vector<SharedGpuLedger::SlotId> shared;
    int64_t share_units = 0;
    std::vector<VolumeBinding> volumes;        // claims bound with the pod
    std::vector<dra::ClaimAllocation> claims;  // ResourceClaims allocated or reserved for it
  };
  // Where a pod may go: one domain of a fabric tree; no tree means every node.
  struct Scope {
    const FabricTree* tree = nullptr;
    int level = -1;
    DomainId domain = kNoDomain;
  };
  // The Topology that applies to one job, and its constraint as level indices.
  struct GangTopology {
    const TopologySpec* spec = nullptr;
    const FabricTree* tree = nullptr;
    FabricCapacity* capacity = nullptr;
    std::optional<size_t> required;
    std::optional<size_t> preferred;
    bool constrained() const { return required || preferred; }
  };

  void compute_shares();
  // Nominations (scheduler/planner): the capacity held for each job is taken off the ledger at
  // the start, given back just before that job is tried, and taken again if it did not place.
  void hold_nominations();
  bool release_nominated(JobId job);
  void hold_nominated(JobId job);
  void adjust_free(NodeId node, const ResourceVector& amount, bool take);
  std::optional<QueueIndex> resolve_queue(const JobRecord& job, std::string* why) const;
  std::vector<JobId> ordered_jobs(const std::unordered_set<JobId>& jobs) const;
  // Non-empty when the gang's minimum asks more of some resource than every schedulable node
  // together has: "gang needs 24 nvidia.com/gpu, the cluster has 16".
  std::string beyond_cluster(const JobRecord& job, const std::vector<PodId>& pending) const;
  QueueCheck check_queue(QueueIndex leaf, const ResourceVector& charge, std::string* why) const;
  std::optional<NodeId> choose_node(const PodRecord& pod, const Scope& scope) {
    return choose_node(pod, scope, pod.requests);
  }
  std::optional<NodeId> choose_node(const PodRecord& pod, const Scope& scope,
                                    const ResourceVector& requests);
  std::optional<double> fit_score(const PodRecord& pod, const ResourceVector& requests,
                                  NodeId node);
  std::string diagnose(const PodRecord& pod, const Scope& scope);
  // The key under which a pod's failure is cached for the cycle; 0: not cached. Only failures
  // that no inter-pod or volume check took part in are cached (last_diagnosis_constrained_):
  // those hold for every pod of the same shape, whatever its labels and constraints, since
  // capacity only shrinks during a cycle and constraints only remove nodes.
  uint64_t failure_shape(const PodRecord& record) const;
  // The inter-pod and volume checks of a pod against what is placed now (pod_constraints.h),
  // made again only when a placement changed since; null when nothing can constrain the pod
  // (it carries no such terms and no placed pod has affinity terms), the common case.
  PodConstraints* constraints_for(PodId pod);
  PodId id_of(const PodRecord& record) const {
    return static_cast<PodId>(&record - state_.pods().data());
  }
  // Fractional pods (gpu_sharing.h): a place on shared GPUs, and why there is none.
  std::optional<Placed> choose_shared(PodId id, const Scope& scope);
  std::string diagnose_shared(const PodRecord& pod, const Scope& scope);
  // The walk both share: every node of the scope counts once, as the filter that rejects it or,
  // when it passes the filters, as what `shortfalls(id, record, reasons)` adds.
  template <typename Shortfalls>
  std::string count_reasons(const PodRecord& pod, const Scope& scope, Shortfalls&& shortfalls);
  // One node's verdict in kube-scheduler's filter order (diagnose.cpp): what count_reasons counts
  // and diagnose_nodes lists; the two shortfall checks below are its resource step.
  template <typename Shortfalls, typename Add>
  bool node_verdict(const PodRecord& pod, NodeId id, PodConstraints* constraints,
                    Shortfalls&& shortfalls, Add&& add);
  template <typename Add>
  bool resource_shortfalls(const PodRecord& pod, NodeId id, Add&& add);
  template <typename Add>
  bool shared_shortfalls(const PodRecord& pod, const ResourceVector& base, NodeId id,
                         const NodeRecord& record, Add&& add);

  // Ledger changes go through these, so fabric capacities and GPU sets follow.
  void take(Placed& placed);
  void give(const Placed& placed);
  void roll_back(std::vector<Placed>& placed, size_t keep);
  uint64_t& free_gpu_mask(NodeId node);
  int island_class(NodeId node, int64_t gpus);

  bool resolve_topology(const JobRecord& job, GangTopology* topo, std::string* error);
  bool resolve_topology(const TopologyConstraint& wanted, GangTopology* topo, std::string* error);
  FabricCapacity* capacity_for(const std::string& name, const FabricTree& tree);
  int64_t gpu_demand(const std::vector<PodId>& pods) const;
  bool place_gang(const GangTopology& topo, const std::vector<PodId>& gang,
                  std::vector<Placed>& placed, std::string* why);
  // `who` names the gang in the failure: "gang", or `subgroup "x"` for a part of one.
  bool place_within(const GangTopology& topo, int level, DomainId domain, int prefer,
                    const std::vector<PodId>& gang, std::vector<Placed>& placed, std::string* why,
                    std::string_view who = "gang");
  std::vector<DomainId> fitting_domains(const GangTopology& topo, int level, DomainId domain,
                                        int target, int64_t demand) const;
  std::vector<PodId> fill(const GangTopology& topo, int level, DomainId domain,
                          std::vector<PodId> pods, std::vector<Placed>& placed);
  // `who`: "gang" or `subgroup "x"`; (level, domain): where it was looked for (-1: anywhere).
  std::string required_failure(const GangTopology& topo, int64_t demand, size_t pods,
                               const std::vector<DomainId>& tried, const std::string& trial_failure,
                               std::string_view who = "gang", int level = -1,
                               DomainId domain = kNoDomain) const;

  // Gangs with subgroups (scheduler/state/subgroups.h): each part's minimum is placed with its
  // own constraint, inside the gang's domain, all parts or none.
  struct PartPlan {
    const GangPart* part = nullptr;
    GangTopology topo;  // the part's own constraint, on the gang's fabric tree
    int64_t demand = 0;
    std::optional<NodeId> anchor;  // a bound pod of the subgroup: its required domain is fixed
  };
  bool resolve_parts(const JobRecord& job, GangTopology& gang, const std::vector<GangPart>& parts,
                     const std::vector<PodId>& moving, std::vector<PartPlan>* plans,
                     std::string* error);
  std::optional<NodeId> anchor_of(const JobRecord& job, const SubGroup* subgroup,
                                  const std::vector<PodId>& moving) const;
  bool place_parts(const GangTopology& gang, const std::vector<PartPlan>& plans,
                   std::optional<NodeId> anchor, std::vector<Placed>& placed, std::string* why);
  bool place_parts_within(int level, DomainId domain, const std::vector<PartPlan>& plans,
                          std::vector<Placed>& placed, std::string* why);
  bool place_part(int level, DomainId domain, const PartPlan& plan, std::vector<Placed>& placed,
                  std::string* why);
  // Where each pod beyond the minimum may go: its subgroup's required domain, else `gang`.
  std::vector<Scope> extra_scopes(const std::vector<PartPlan>& plans,
                                  const std::vector<Placed>& placed,
                                  const std::vector<PodId>& pending, const Scope& gang) const;
  // One job's try (place_job.cpp): its pods, its gang's minimum, and what is placed so far.
  struct JobTry {
    JobTry(const JobRecord& of, QueueIndex in, bool within)
        : job(of), leaf(in), within_fair_share(within) {}
    const JobRecord& job;
    QueueIndex leaf;
    bool within_fair_share;
    std::vector<PodId> pending;   // by name, without gated pods; the minimum first
    std::vector<GangPart> parts;  // a gang of subgroups: each part's minimum (plans point here)
    size_t need = 0;              // pods the gang's minimum still needs
    GangTopology topo;
    std::vector<PartPlan> plans;
    std::vector<Placed> placed;
    ResourceVector charged;  // what the placed pods charge their queue
    std::string failure;     // why the last pod tried did not fit
    size_t stopped_at = 0;   // first pending pod not placed
    size_t first = 0;        // first pending pod placed one by one
    Scope scope;             // where pods beyond the gang's minimum may go
  };
  Attempt try_job(JobId id, QueueIndex leaf, bool within_fair_share);
  std::vector<PodId> schedulable_pods(const JobRecord& job, bool within_fair_share);
  bool passes_job_checks(JobTry& t);
  std::optional<Attempt> admit_minimum(JobTry& t);
  bool place_minimum(JobTry& t);
  void place_rest(JobTry& t);
  bool place_sharer(JobTry& t, PodId pod, const Scope& scope);
  bool place_pod(JobTry& t, PodId pod, const Scope& scope);
  void commit(JobTry& t);
  Binding binding_for(const JobRecord& job, const Placed& p) const;
  void record_quality(const JobRecord& job, const std::vector<Placed>& placed,
                      const GangTopology& topo);
  void leave_pending(const JobRecord& job, std::vector<PodId> pods, PendingReason reason,
                     std::string message);

  ClusterState& state_;
  const CycleOptions& options_;
  const QueueTree& tree_;
  std::optional<NodeLedger> own_ledger_;
  NodeLedger& ledger_;
  SharedGpuLedger shared_;
  std::optional<DrfOrder> order_;
  CycleResult result_;
  std::unordered_map<uint64_t, std::string> failed_shapes_;
  size_t cpu_cursor_ = 0;
  // Per-cycle free GPUs per fabric domain, by Topology name; made on first use.
  std::map<std::string, std::unique_ptr<FabricCapacity>, std::less<>> capacities_;
  std::vector<FabricCapacity*> active_capacities_;
  // Free GPU sets of nodes with a known link graph, made on first use per node.
  std::vector<uint64_t> free_masks_;
  std::vector<uint8_t> mask_ready_;
  // Capacity held per nominated job key: the node and what was taken off the ledger there.
  std::unordered_map<std::string, std::vector<std::pair<NodeId, ResourceVector>>> held_;
  // The same, summed per node (empty until something is held): explains "Insufficient" that is
  // only so because the room is kept for another job.
  std::vector<ResourceVector> held_on_node_;
  // Placements of this cycle, for the inter-pod checks of later pods; bumped on every change.
  TentativePods tentative_{state_};
  uint64_t tentative_version_ = 0;
  std::unordered_set<std::string> taken_volumes_;
  DeviceLedger devices_{state_, &ledger_.evicted()};
  SpreadNodeCache spread_nodes_;
  std::optional<PodConstraints> constraints_;
  PodId constraints_pod_ = 0;
  uint64_t constraints_version_ = 0;
  // Whether the last diagnosis counted a reason of the inter-pod or volume checks.
  bool last_diagnosis_constrained_ = false;
  // Nodes where GPUs are nominated to a waiting job: fractional pods join no shared GPU there
  // (they may still open one on a GPU that is free and not held).
  std::unordered_set<NodeId> gpu_nominated_;
  // Whether NVLink islands can tell nodes apart at all: some node splits its GPUs into several
  // islands, or known and unknown layouts are mixed. When not, multi-GPU pods skip the check.
  bool islands_matter_ = false;
};

}  // namespace fairway::cycle_internal
