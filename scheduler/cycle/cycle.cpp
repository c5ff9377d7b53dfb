#include "scheduler/cycle/cycle.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "queues/drf_order.h"
#include "queues/quantity.h"
#include "scheduler/cycle/node_ledger.h"
#include "scheduler/state/node_filters.h"

namespace fairway {

const char* reason_name(PendingReason reason) {
  switch (reason) {
    case PendingReason::kUnschedulable: return "Unschedulable";
    case PendingReason::kGangIncomplete: return "GangIncomplete";
    case PendingReason::kQueueLimit: return "QueueLimit";
    case PendingReason::kQueueInvalid: return "QueueInvalid";
    case PendingReason::kInvalidPod: return "InvalidPod";
  }
  return "Unknown";
}

namespace {

// Relative slack when comparing allocations against fair shares, which are doubles.
constexpr double kShareSlack = 1e-9;

// What a queue is charged for a pod: its requests, without the "pods" count, which is a node
// limit and not something queues share.
ResourceVector queue_charge(const ResourceVector& requests) {
  ResourceVector charge = requests;
  charge.set(kPods, 0);
  return charge;
}

// Hash of everything that decides where a pod can go, so that within a cycle (where free
// capacity only shrinks) a pod shaped like one that already found no node is not searched again.
uint64_t placement_signature(const PodRecord& record) {
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](uint64_t value) { hash = (hash ^ value) * 1099511628211ULL; };
  auto mix_text = [&mix](const std::string& text) { mix(std::hash<std::string>{}(text)); };
  for (size_t i = 0; i < record.requests.size(); ++i) {
    mix(static_cast<uint64_t>(record.requests[static_cast<ResourceId>(i)]));
  }
  const Pod& pod = record.pod;
  for (const auto& [key, value] : pod.node_selector) {
    mix_text(key);
    mix_text(value);
  }
  for (const auto& term : pod.required_node_affinity) {
    mix(0xA5);
    for (const auto* list : {&term.match_expressions, &term.match_fields}) {
      mix(0x5A);
      for (const auto& requirement : *list) {
        mix_text(requirement.key);
        mix(static_cast<uint64_t>(requirement.op));
        for (const auto& value : requirement.values) mix_text(value);
      }
    }
  }
  for (const auto& toleration : pod.tolerations) {
    mix_text(toleration.key);
    mix_text(toleration.value);
    mix(static_cast<uint64_t>(toleration.op));
    mix(toleration.effect ? static_cast<uint64_t>(*toleration.effect) + 1 : 0);
  }
  return hash;
}

enum class QueueCheck { kOk, kOverFairShare, kOverLimit };

enum class Attempt { kPlaced, kDeferred, kFailed };

class CycleRunner {
 public:
  CycleRunner(ClusterState& state, const CycleOptions& options)
      : state_(state),
        options_(options),
        tree_(state.queue_tree()),
        ledger_(state) {}

  CycleResult run();

 private:
  struct Placed {
    PodId pod;
    NodeId node;
  };

  void compute_shares();
  std::optional<QueueIndex> resolve_queue(const JobRecord& job, std::string* why) const;
  std::vector<JobId> ordered_jobs(const std::unordered_set<JobId>& jobs) const;
  Attempt try_job(JobId id, QueueIndex leaf, bool within_fair_share);
  QueueCheck check_queue(QueueIndex leaf, const ResourceVector& charge, std::string* why) const;
  std::optional<NodeId> choose_node(const PodRecord& pod);
  std::optional<double> fit_score(const PodRecord& pod, NodeId node);
  std::string diagnose(const PodRecord& pod) const;
  void leave_pending(const JobRecord& job, std::vector<PodId> pods, PendingReason reason,
                     std::string message);

  ClusterState& state_;
  const CycleOptions& options_;
  const QueueTree& tree_;
  NodeLedger ledger_;
  std::optional<DrfOrder> order_;
  CycleResult result_;
  std::unordered_map<uint64_t, std::string> failed_shapes_;
  size_t cpu_cursor_ = 0;
};

CycleResult CycleRunner::run() {
  compute_shares();
  order_.emplace(tree_, result_.shares);

  // Jobs per leaf queue, in queue order; jobs whose queue cannot be used are reported now.
  std::vector<std::vector<JobId>> queued(tree_.size());
  std::vector<std::string> queue_names;
  for (const auto& [name, jobs] : state_.pending_jobs()) queue_names.push_back(name);
  std::sort(queue_names.begin(), queue_names.end());
  for (const std::string& name : queue_names) {
    const auto& jobs = state_.pending_jobs().at(name);
    std::string why;
    const auto leaf = resolve_queue(state_.jobs()[*jobs.begin()], &why);
    for (JobId id : ordered_jobs(jobs)) {
      const JobRecord& job = state_.jobs()[id];
      if (!leaf) {
        leave_pending(job, {job.pending.begin(), job.pending.end()}, PendingReason::kQueueInvalid,
                      why);
        continue;
      }
      queued[*leaf].push_back(id);
    }
  }

  // Phase 1 serves only jobs that keep their queues within fair share; phase 2 the deferred.
  for (bool within_fair_share : {true, false}) {
    std::vector<std::vector<JobId>> deferred(tree_.size());
    std::vector<size_t> cursor(tree_.size(), 0);
    for (QueueIndex leaf = 0; leaf < tree_.size(); ++leaf) {
      order_->set_active(leaf, !queued[leaf].empty());
    }
    while (const auto leaf = order_->pick()) {
      if (cursor[*leaf] >= queued[*leaf].size()) {
        order_->set_active(*leaf, false);
        continue;
      }
      const JobId job = queued[*leaf][cursor[*leaf]++];
      if (within_fair_share) ++result_.stats.jobs_considered;
      if (try_job(job, *leaf, within_fair_share) == Attempt::kDeferred) {
        deferred[*leaf].push_back(job);
      }
    }
    queued = std::move(deferred);
  }
  return std::move(result_);
}

void CycleRunner::compute_shares() {
  std::vector<QueueUsage> usage(tree_.size());
  for (const auto& [name, totals] : state_.queue_usage()) {
    const auto index = tree_.find(name);
    if (!index || !tree_.node(*index).is_leaf()) continue;
    usage[*index].allocated = queue_charge(totals.allocated);
    usage[*index].pending = queue_charge(totals.pending);
  }
  result_.shares = compute_fair_shares(tree_, queue_charge(state_.capacity()), usage,
                                       state_.registry().size());
}

std::optional<QueueIndex> CycleRunner::resolve_queue(const JobRecord& job, std::string* why) const {
  const auto index = tree_.find(job.queue);
  if (!index) {
    if (const QueueProblem* problem = tree_.problem_of(job.queue)) {
      *why = fmt::format("queue \"{}\" is invalid: {}", job.queue, problem->message);
    } else {
      *why = fmt::format("queue \"{}\" does not exist", job.queue);
    }
    return std::nullopt;
  }
  if (!tree_.node(*index).is_leaf()) {
    *why = fmt::format("queue \"{}\" has child queues; pods must name a leaf queue", job.queue);
    return std::nullopt;
  }
  return index;
}

// Inside a queue: higher priority first, then older, then by key for determinism.
std::vector<JobId> CycleRunner::ordered_jobs(const std::unordered_set<JobId>& jobs) const {
  struct Key {
    int32_t priority;
    TimeMs creation;
    const std::string* key;
    JobId id;
  };
  std::vector<Key> keys;
  keys.reserve(jobs.size());
  for (JobId id : jobs) {
    const JobRecord& job = state_.jobs()[id];
    int32_t priority = std::numeric_limits<int32_t>::min();
    for (PodId pod : job.pending) priority = std::max(priority, state_.pods()[pod].pod.priority);
    keys.push_back({priority, job.creation_ms, &job.key, id});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.creation != b.creation) return a.creation < b.creation;
    return *a.key < *b.key;
  });
  std::vector<JobId> ordered;
  ordered.reserve(keys.size());
  for (const Key& key : keys) ordered.push_back(key.id);
  return ordered;
}

QueueCheck CycleRunner::check_queue(QueueIndex leaf, const ResourceVector& charge,
                                    std::string* why) const {
  QueueCheck verdict = QueueCheck::kOk;
  for (QueueIndex q = leaf; q != kNoQueue; q = tree_.node(q).parent) {
    const QueueNode& node = tree_.node(q);
    const ResourceVector& allocated = order_->allocated(q);
    for (size_t i = 0; i < charge.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (charge[r] <= 0) continue;
      const int64_t after = allocated[r] + charge[r];
      if (after > node.limit_of(r)) {
        const int64_t scale = state_.registry().scale(r);
        if (why != nullptr) {
          *why = fmt::format("queue \"{}\" would exceed its limit on {}: {} allocated + {} "
                             "requested > limit {}",
                             node.name, state_.registry().name(r),
                             format_quantity(allocated[r], scale), format_quantity(charge[r], scale),
                             format_quantity(node.limit_of(r), scale));
        }
        return QueueCheck::kOverLimit;
      }
      const double share = result_.shares.share(q, r);
      if (static_cast<double>(after) > share + kShareSlack * std::max(1.0, share)) {
        verdict = QueueCheck::kOverFairShare;
      }
    }
  }
  return verdict;
}

Attempt CycleRunner::try_job(JobId id, QueueIndex leaf, bool within_fair_share) {
  const JobRecord& job = state_.jobs()[id];
  const auto& pods = state_.pods();
  std::vector<PodId> pending(job.pending.begin(), job.pending.end());
  std::sort(pending.begin(), pending.end(),
            [&pods](PodId a, PodId b) { return pods[a].pod.name < pods[b].pod.name; });

  if (within_fair_share) {
    // Problems that no capacity can fix are reported once, in the first phase.
    std::string invalid;
    for (PodId pod : pending) {
      const PodRecord& record = pods[pod];
      for (const std::string& error : record.intent.errors) {
        invalid += (invalid.empty() ? "" : "; ") + fmt::format("pod {}: {}", record.pod.name, error);
      }
      if (record.intent.gpu_fraction && invalid.empty()) {
        invalid = fmt::format("pod {} asks for a GPU fraction; fractional GPUs need reservation "
                              "pods, which this version does not create yet",
                              record.pod.name);
      }
    }
    if (!invalid.empty()) {
      leave_pending(job, pending, PendingReason::kInvalidPod, invalid);
      return Attempt::kFailed;
    }
    const uint32_t exist = job.bound + static_cast<uint32_t>(pending.size());
    if (exist < static_cast<uint32_t>(job.min_member)) {
      leave_pending(job, pending, PendingReason::kGangIncomplete,
                    fmt::format("waiting for gang: {} of minMember {} pods exist", exist,
                                job.min_member));
      return Attempt::kFailed;
    }
  }

  const size_t need = job.bound >= static_cast<uint32_t>(job.min_member)
                          ? 0
                          : static_cast<size_t>(job.min_member) - job.bound;
  ResourceVector minimum;
  for (size_t i = 0; i < std::max<size_t>(need, 1) && i < pending.size(); ++i) {
    minimum += queue_charge(pods[pending[i]].requests);
  }
  std::string why;
  switch (check_queue(leaf, minimum, &why)) {
    case QueueCheck::kOverLimit:
      leave_pending(job, pending, PendingReason::kQueueLimit, why);
      return Attempt::kFailed;
    case QueueCheck::kOverFairShare:
      if (within_fair_share) return Attempt::kDeferred;
      break;
    case QueueCheck::kOk: break;
  }

  // Place pods one by one on the ledger; keep them only if the gang's minimum is met.
  std::vector<Placed> placed;
  ResourceVector charged;
  std::string failure;
  size_t stopped_at = pending.size();
  for (size_t i = 0; i < pending.size(); ++i) {
    const PodRecord& record = pods[pending[i]];
    if (placed.size() >= need) {
      // Beyond the gang's minimum, each extra pod must keep the queue within bounds on its own.
      const QueueCheck check =
          check_queue(leaf, charged + queue_charge(record.requests), &failure);
      if (check == QueueCheck::kOverLimit ||
          (within_fair_share && check == QueueCheck::kOverFairShare)) {
        if (check == QueueCheck::kOverFairShare) failure = "queue is at its fair share";
        stopped_at = i;
        break;
      }
    }
    const auto node = choose_node(record);
    if (!node) {
      const uint64_t shape = placement_signature(record);
      if (auto cached = failed_shapes_.find(shape); cached != failed_shapes_.end()) {
        failure = cached->second;
      } else {
        failure = diagnose(record);
        ++result_.stats.diagnoses;
        // Cache only what was seen without tentative placements of this job on the ledger.
        if (placed.empty()) failed_shapes_.emplace(shape, failure);
      }
      stopped_at = i;
      break;
    }
    ledger_.take(*node, record.requests);
    placed.push_back({pending[i], *node});
    charged += queue_charge(record.requests);
  }

  if (placed.size() < need || placed.empty()) {
    for (const Placed& p : placed) ledger_.give(p.node, pods[p.pod].requests);
    std::string message = failure;
    if (job.min_member > 1) {
      message = fmt::format("gang needs {} more pods, {} fit: {}", need, placed.size(), failure);
    }
    leave_pending(job, pending, PendingReason::kUnschedulable, std::move(message));
    return Attempt::kFailed;
  }

  for (const Placed& p : placed) {
    const PodRecord& record = pods[p.pod];
    result_.bindings.push_back({record.pod.key(), record.pod.uid,
                                state_.nodes()[p.node].node.name, job.key, job.queue});
  }
  order_->charge(leaf, charged);
  ++result_.stats.jobs_scheduled;
  result_.stats.pods_bound += static_cast<uint32_t>(placed.size());
  if (stopped_at < pending.size()) {
    leave_pending(job, {pending.begin() + static_cast<std::ptrdiff_t>(stopped_at), pending.end()},
                  PendingReason::kUnschedulable, failure);
  }
  return Attempt::kPlaced;
}

// Lower is better. Bin-pack keeps nodes full (least free CPU and memory left after placing);
// spread does the opposite. GPU order is already decided by the bucket walk.
std::optional<double> CycleRunner::fit_score(const PodRecord& pod, NodeId node) {
  ++result_.stats.nodes_evaluated;
  const ResourceVector& free = ledger_.free(node);
  if (!pod.requests.fits_in(free)) return std::nullopt;
  const NodeRecord& record = state_.nodes()[node];
  if (!filter_node(pod.pod, record.node).fits()) return std::nullopt;
  double left = 0;
  for (ResourceId r : {kCpu, kMemory}) {
    const int64_t allocatable = record.allocatable[r];
    if (allocatable > 0) {
      left += static_cast<double>(free[r] - pod.requests[r]) / static_cast<double>(allocatable);
    }
  }
  return options_.strategy == ScoringStrategy::kBinPack ? left : -left;
}

std::optional<NodeId> CycleRunner::choose_node(const PodRecord& pod) {
  const uint32_t enough = std::max<uint32_t>(options_.feasible_nodes_to_score, 1);
  auto best_in = [&](const std::vector<NodeId>& group, size_t start) -> std::optional<NodeId> {
    std::optional<NodeId> best;
    double best_score = 0;
    uint32_t feasible = 0;
    const size_t n = group.size();
    for (size_t k = 0; k < n && feasible < enough; ++k) {
      const NodeId node = group[(start + k) % n];
      const auto score = fit_score(pod, node);
      if (!score) continue;
      ++feasible;
      if (!best || *score < best_score) {
        best = node;
        best_score = *score;
      }
    }
    return best;
  };

  const int64_t gpus = (pod.requests[kGpu] + 999) / 1000;
  const int top = ledger_.max_free_gpus();
  const bool spread = options_.strategy == ScoringStrategy::kSpread;
  if (gpus > 0) {
    if (gpus > top) return std::nullopt;
    // Bin-pack walks from the fullest node that can still hold the pod; spread from the emptiest.
    for (int k = 0; k <= top - gpus; ++k) {
      const int bucket = spread ? top - k : static_cast<int>(gpus) + k;
      if (auto best = best_in(ledger_.bucket(bucket), 0)) return best;
    }
    return std::nullopt;
  }
  // Pods without GPUs go to nodes without GPUs first, so GPU nodes keep their CPU for GPU pods;
  // the start rotates so full nodes at the front are not scanned by every pod.
  const auto& cpu_nodes = ledger_.cpu_nodes();
  if (!cpu_nodes.empty()) {
    if (auto best = best_in(cpu_nodes, cpu_cursor_ % cpu_nodes.size())) {
      cpu_cursor_ = (cpu_cursor_ + 1) % cpu_nodes.size();
      return best;
    }
  }
  for (int k = 0; k <= top; ++k) {
    if (auto best = best_in(ledger_.bucket(k), 0)) return best;
  }
  return std::nullopt;
}

// Why no node fits, counted over every node, in kube-scheduler's words.
std::string CycleRunner::diagnose(const PodRecord& pod) const {
  ReasonCounts reasons;
  int64_t total = 0;
  const auto& nodes = state_.nodes();
  for (NodeId id = 0; id < nodes.size(); ++id) {
    const NodeRecord& record = nodes[id];
    if (!record.present) continue;
    ++total;
    if (const NodeFilterResult filtered = filter_node(pod.pod, record.node); !filtered.fits()) {
      ++reasons[failure_reason(filtered)];
      continue;
    }
    const ResourceVector& free = ledger_.free(id);
    for (size_t i = 0; i < pod.requests.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (pod.requests[r] > 0 && pod.requests[r] > free[r]) {
        ++reasons[r == kPods ? std::string("Too many pods")
                             : "Insufficient " + state_.registry().name(r)];
      }
    }
  }
  return summarize_unschedulable(total, reasons);
}

void CycleRunner::leave_pending(const JobRecord& job, std::vector<PodId> pods,
                                PendingReason reason, std::string message) {
  PendingJob pending{job.key, job.queue, {}, reason, std::move(message)};
  for (PodId pod : pods) pending.pods.push_back(state_.pods()[pod].pod.key());
  std::sort(pending.pods.begin(), pending.pods.end());
  result_.pending.push_back(std::move(pending));
}

}  // namespace

CycleResult run_cycle(ClusterState& state, const CycleOptions& options) {
  return CycleRunner(state, options).run();
}

void assume_all(ClusterState& state, const CycleResult& result) {
  for (const Binding& binding : result.bindings) state.assume(binding.pod, binding.node);
}

}  // namespace fairway
