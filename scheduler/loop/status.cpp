#include "scheduler/loop/status.h"

#include <fmt/format.h>

#include <cmath>

#include "k8s-client/objects.h"
#include "queues/quantity.h"
#include "scheduler/cycle/reasons.h"

namespace fairway {

std::string share_quantity(double canonical, int64_t scale) {
  const double rounded = std::round(canonical);
  if (std::fabs(canonical - rounded) < 1e-6)
    return format_quantity(static_cast<int64_t>(rounded), scale);
  // Fractions of a canonical unit (a third of a millicore) are shown to three decimals.
  return fmt::format("{:.3f}", canonical / static_cast<double>(scale));
}

std::string gpus_text(double canonical, int64_t scale) {
  return fmt::format("{:.2f}", canonical / static_cast<double>(scale));
}
std::string gpus_text(int64_t canonical, int64_t scale) {
  return gpus_text(static_cast<double>(canonical), scale);
}

nlohmann::json warning_condition(std::span<const QueueProblem* const> problems) {
  // One problem: its message. Several: each named by its reason, the first also the condition's.
  std::string message;
  for (const QueueProblem* problem : problems) {
    if (!message.empty()) message += "; ";
    message += problems.size() == 1 ? problem->message : problem->reason + ": " + problem->message;
  }
  return {{"type", "Warning"},
          {"status", "True"},
          {"reason", problems.front()->reason},
          {"message", std::move(message)}};
}

namespace {

// Pending pods per queue, a parent's summed over its subtree; pods of queues outside the tree
// (unknown or invalid) by name.
struct PendingPods {
  std::vector<int64_t> in_tree;
  std::unordered_map<std::string, int64_t> by_name;
};

PendingPods pending_pods(const QueueTree& tree, const ResourceRegistry& registry,
                         const std::unordered_map<std::string, QueueUsage>& usage) {
  PendingPods out;
  out.in_tree.assign(tree.size(), 0);
  for (const auto& [name, totals] : usage) {
    const int64_t pods = totals.pending[kPods] / registry.scale(kPods);
    out.by_name[name] += pods;
    const auto index = tree.find(name);
    for (QueueIndex q = index.value_or(kNoQueue); q != kNoQueue; q = tree.node(q).parent) {
      out.in_tree[q] += pods;
    }
  }
  return out;
}

// Past use per queue as published (rounded; usage_history.h): a leaf's own, a parent's summed
// over its subtree, stamped with the latest of their times.
std::vector<UsageHistory::Published> published_usage(const QueueTree& tree,
                                                     const UsageHistory& history) {
  std::vector<UsageHistory::Published> out(tree.size());
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    const UsageHistory::Published* own = history.published(tree.node(q).name);
    if (!tree.node(q).is_leaf() || own == nullptr) continue;
    for (QueueIndex up = q; up != kNoQueue; up = tree.node(up).parent) {
      UsageHistory::Published& sum = out[up];
      sum.shares.resize(std::max(sum.shares.size(), own->shares.size()), 0.0);
      for (size_t r = 0; r < own->shares.size(); ++r) sum.shares[r] += own->shares[r];
      sum.at = std::max(sum.at, own->at);
    }
  }
  return out;
}

// status.usage: null without history (a merge patch then removes an old one).
nlohmann::json usage_status(const UsageHistory::Published& past, const ResourceRegistry& registry) {
  if (past.at == 0) return nullptr;
  nlohmann::json shares = nlohmann::json::object();
  for (size_t i = 0; i < registry.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (r != kPods)
      shares[registry.name(r)] = usage_share_text(i < past.shares.size() ? past.shares[i] : 0);
  }
  return {{"time", k8s::format_rfc3339(past.at)}, {"shares", std::move(shares)}};
}

}  // namespace

std::string usage_percent_text(double share) {
  return fmt::format("{:.1f}%", share * 100);
}

std::unordered_map<std::string, nlohmann::json> queue_statuses(
    const QueueTree& tree, const FairShares& shares, const ResourceRegistry& registry,
    const std::unordered_map<std::string, QueueUsage>& usage, const UsageHistory& history,
    std::span<const QueueProblem> warnings) {
  std::unordered_map<std::string, std::vector<const QueueProblem*>> warned;
  for (const QueueProblem& problem : tree.problems()) {
    if (!problem.blocking) warned[problem.queue].push_back(&problem);
  }
  for (const QueueProblem& problem : warnings) warned[problem.queue].push_back(&problem);
  const PendingPods pending = pending_pods(tree, registry, usage);
  const int64_t gpu_scale = registry.scale(kGpu);
  const std::vector<UsageHistory::Published> past = published_usage(tree, history);

  std::unordered_map<std::string, nlohmann::json> out;
  for (QueueIndex q = 0; q < tree.size(); ++q) {
    const QueueNode& node = tree.node(q);
    if (node.implicit) continue;
    nlohmann::json status;
    status["allocated"] = nlohmann::json::object();
    status["fairShare"] = nlohmann::json::object();
    status["deserved"] = nlohmann::json::object();
    status["pending"] = nlohmann::json::object();
    for (size_t i = 0; i < registry.size(); ++i) {
      const auto r = static_cast<ResourceId>(i);
      if (r == kPods) continue;  // a node limit, not something queues share
      const int64_t scale = registry.scale(r);
      const int64_t allocated = q < shares.allocated.size() ? shares.allocated[q][r] : 0;
      const int64_t demand = q < shares.demand.size() ? shares.demand[q][r] : 0;
      const int64_t deserved = q < shares.deserved.size() ? shares.deserved[q][r] : 0;
      const double fair = shares.share(q, r);
      // Every known resource is written, zeros included: status is sent as a JSON merge patch,
      // which keeps keys it does not mention, so a resource left out would show a stale value.
      const std::string& name = registry.name(r);
      status["allocated"][name] = format_quantity(allocated, scale);
      status["fairShare"][name] = share_quantity(fair, scale);
      status["deserved"][name] = format_quantity(deserved, scale);
      status["pending"][name] = format_quantity(std::max<int64_t>(demand - allocated, 0), scale);
    }
    // Child queues by name (a merge patch replaces the whole list, so removed children go).
    nlohmann::json children = nlohmann::json::array();
    for (QueueIndex child : node.children) children.push_back(tree.node(child).name);
    status["children"] = std::move(children);
    // What `kubectl get queues` prints: GPUs in one unit, and the pods waiting.
    status["gpus"] = {
        {"quota", gpus_text(node.quota[kGpu], gpu_scale)},
        {"allocated",
         gpus_text(q < shares.allocated.size() ? shares.allocated[q][kGpu] : 0, gpu_scale)},
        {"fairShare", gpus_text(shares.share(q, kGpu), gpu_scale)},
        {"usage", usage_percent_text(kGpu < past[q].shares.size() ? past[q].shares[kGpu] : 0)}};
    status["usage"] = usage_status(past[q], registry);
    status["pendingPods"] = pending.in_tree[q];
    status["conditions"] = nlohmann::json::array(
        {{{"type", "Valid"}, {"status", "True"}, {"reason", "Valid"}, {"message", ""}}});
    if (auto it = warned.find(node.name); it != warned.end()) {
      status["conditions"].push_back(warning_condition(it->second));
    }
    out.emplace(node.name, std::move(status));
  }
  for (const QueueProblem& problem : tree.problems()) {
    if (!problem.blocking) continue;
    // An unusable queue shows no GPU figures (none are computed for it), but its waiting pods.
    nlohmann::json status;
    status["gpus"] = nullptr;
    const auto waiting = pending.by_name.find(problem.queue);
    status["pendingPods"] = waiting == pending.by_name.end() ? 0 : waiting->second;
    status["conditions"] = nlohmann::json::array({{{"type", "Valid"},
                                                   {"status", "False"},
                                                   {"reason", problem.reason},
                                                   {"message", problem.message}}});
    out.insert_or_assign(problem.queue, std::move(status));
  }
  return out;
}

std::unordered_map<std::string, nlohmann::json> pod_group_statuses(
    const ClusterState& state, const CycleResult& result,
    const std::unordered_map<std::string, PlacementQuality>& placements) {
  std::unordered_map<std::string, const PendingJob*> waiting;
  for (const PendingJob& job : result.pending) waiting.emplace(job.job, &job);
  std::unordered_map<std::string, nlohmann::json> out;
  for (const JobRecord& job : state.jobs()) {
    if (!job.present || job.group.empty() || state.find_pod_group(job.key) == nullptr) continue;
    // An inferred gang's PodGroup is written by fairway: its status waits for the object.
    if (job.inferred() && state.pod_group_object(job.key) == nullptr) continue;
    // bound counts assumed pods too: the cycle's bindings are in flight.
    const bool running = job.bound >= static_cast<uint32_t>(job.min_member);
    nlohmann::json condition = {{"type", "Scheduled"}, {"status", running ? "True" : "False"}};
    if (auto it = waiting.find(job.key); it != waiting.end() && !running) {
      condition["reason"] = reason_name(it->second->reason);
      condition["message"] = it->second->message;
    } else {
      condition["reason"] = running ? reasons::kGroupScheduled : reasons::kGroupPending;
      condition["message"] =
          running ? fmt::format("{} of minMember {} pods bound", job.bound, job.min_member)
                  : "waiting for the next scheduling cycle";
    }
    nlohmann::json status = {{"phase", running ? "Running" : "Pending"},
                             {"scheduled", job.bound},
                             {"conditions", nlohmann::json::array({std::move(condition)})}};
    if (auto it = placements.find(job.key); it != placements.end()) {
      const PlacementQuality& quality = it->second;
      nlohmann::json placement = {{"commonLevel", quality.common_level},
                                  {"commonDomain", quality.common_domain},
                                  {"pods", quality.pods},
                                  {"nodes", quality.nodes}};
      if (!quality.topology.empty()) placement["topology"] = quality.topology;
      if (quality.bottleneck_gbps) placement["bottleneckGBps"] = *quality.bottleneck_gbps;
      status["placement"] = std::move(placement);
    }
    out.emplace(job.key, std::move(status));
  }
  return out;
}

}  // namespace fairway
