// The cycle's order (cycle.h, steps 1-3): fair shares, queues served by hierarchical DRF in
// two phases, jobs inside a queue by priority and age, and the queue limit and fair-share check.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "queues/quantity.h"
#include "scheduler/cycle/cycle_runner.h"
#include "scheduler/state/job_gate.h"

namespace fairway::cycle_internal {

CycleResult CycleRunner::run() {
  const auto now = [this] { return options_.clock_ns ? options_.clock_ns() : 0; };
  const int64_t start = now();
  hold_nominations();
  compute_shares();
  const int64_t shares_done = now();
  result_.stats.fairshare_ns = shares_done - start;
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
      const bool held = release_nominated(job);
      const Attempt attempt = try_job(job, *leaf, within_fair_share);
      if (held && attempt != Attempt::kPlaced) hold_nominated(job);
      if (attempt == Attempt::kDeferred) deferred[*leaf].push_back(job);
    }
    queued = std::move(deferred);
  }
  result_.stats.allocate_ns = now() - shares_done;
  return std::move(result_);
}

void CycleRunner::compute_shares() {
  result_.shares = state_.fair_shares();
}

std::optional<QueueIndex> CycleRunner::resolve_queue(const JobRecord& job, std::string* why) const {
  return resolve_leaf_queue(state_, tree_, job.queue, why);
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
    for (PodId pod : job.pending)
      priority = std::max(priority, state_.priority_of(state_.pods()[pod]));
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
          *why = fmt::format(
              "queue \"{}\" would exceed its limit on {}: {} allocated + {} "
              "requested > limit {}",
              node.name, state_.registry().name(r), format_quantity(allocated[r], scale),
              format_quantity(charge[r], scale), format_quantity(node.limit_of(r), scale));
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

void CycleRunner::leave_pending(const JobRecord& job, std::vector<PodId> pods, PendingReason reason,
                                std::string message) {
  // Room the background pass bought for this job is on its way: say so rather than "no node
  // fits", which is true only until the victims have left.
  if (reason == PendingReason::kUnschedulable) {
    if (const auto held = held_.find(job.key); held != held_.end()) {
      reason = PendingReason::kReclaimInProgress;
      message = fmt::format(
          "reclaim in progress for it: room is held on {} node(s) while the pods evicted for it "
          "terminate ({})",
          held->second.size(), message);
    }
  }
  PendingJob pending{job.key, job.queue, {}, reason, std::move(message)};
  for (PodId pod : pods) pending.pods.push_back(state_.pods()[pod].pod.key());
  std::sort(pending.pods.begin(), pending.pods.end());
  result_.pending.push_back(std::move(pending));
}

}  // namespace fairway::cycle_internal
