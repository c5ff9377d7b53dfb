// PreemptionMemory (planner.h): nominations, cool-downs, blocked pods and resting jobs kept
// between passes, and since when each gang has been bound below its minMember.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/planner/planner.h"
#include "scheduler/state/job_gate.h"

namespace fairway {

void PreemptionMemory::record(const PreemptionPlan& plan, TimeMs now,
                              const PlannerOptions& options) {
  if (plan.action == PreemptionAction::kStaleGang) {
    partial_since_.erase(plan.preemptor);  // it makes room for nobody: nothing to nominate
    return;
  }
  for (const Nomination& nomination : plan.nominations) nominations_.push_back(nomination);
  nomination_expiry_[plan.preemptor] = now + options.nomination_ms;
  auto& victims = victims_[plan.preemptor];
  for (const Victim& victim : plan.victims) {
    cool_downs_[victim.job][plan.preemptor] = now + options.cool_down_ms;
    victims.emplace_back(victim.pod, victim.uid);
  }
  victims_gone_since_.erase(plan.preemptor);
}

void PreemptionMemory::drop_nomination(const std::string& job) {
  std::erase_if(nominations_, [&job](const Nomination& n) { return n.job == job; });
  nomination_expiry_.erase(job);
  victims_.erase(job);
  victims_gone_since_.erase(job);
}

void PreemptionMemory::blocked(const std::string& preemptor, const std::string& pod, TimeMs now,
                               TimeMs for_ms) {
  drop_nomination(preemptor);
  blocked_pods_[pod] = now + for_ms;
}

void PreemptionMemory::prune(ClusterState& state, TimeMs now, const PlannerOptions& options) {
  std::unordered_map<std::string_view, JobId> waiting;
  for (const auto& [queue, jobs] : state.pending_jobs()) {
    for (JobId id : jobs) waiting.emplace(state.jobs()[id].key, id);
  }
  const QueueTree& tree = state.queue_tree();
  // A victim is gone once its pod no longer holds a node (deleted, finished, or created again).
  auto victim_gone = [&state](const std::pair<std::string, std::string>& victim) {
    const PodRecord* pod = state.find_pod(victim.first);
    return pod == nullptr || pod->pod.uid != victim.second || !pod->counted_bound;
  };
  std::vector<std::string> expired;
  for (const auto& [job, expiry] : nomination_expiry_) {
    const auto it = waiting.find(job);
    // A job that may no longer be scheduled at all (its namespace lost access to its queue, the
    // queue became invalid, a pod or its PodGroup cannot be read) keeps no room either.
    if (expiry <= now || it == waiting.end() ||
        waiting_job_refusal(state, tree, state.jobs()[it->second])) {
      expired.push_back(job);
      continue;
    }
    const auto& victims = victims_[job];
    if (!std::all_of(victims.begin(), victims.end(), victim_gone)) continue;
    const TimeMs since = victims_gone_since_.try_emplace(job, now).first->second;
    if (now - since >= options.nomination_after_victims_ms) {
      // The room was made and the cycle still could not use it: let others have it, and do not
      // evict for this job again soon.
      expired.push_back(job);
      resting_[job] = now + options.nomination_ms;
    }
  }
  for (const std::string& job : expired) drop_nomination(job);
  std::unordered_set<std::string> partial;
  for (const JobRecord& job : state.jobs()) {
    if (!job.present || job.min_member <= 1) continue;
    if (job.bound == 0 || job.bound >= static_cast<uint32_t>(job.min_member)) continue;
    partial.insert(job.key);
    partial_since_.try_emplace(job.key, now);
  }
  std::erase_if(partial_since_, [&](const auto& entry) { return !partial.contains(entry.first); });
  for (auto& [job, evictors] : cool_downs_) {
    std::erase_if(evictors, [now](const auto& entry) { return entry.second <= now; });
  }
  std::erase_if(cool_downs_, [](const auto& entry) { return entry.second.empty(); });
  std::erase_if(blocked_pods_, [now](const auto& entry) { return entry.second <= now; });
  std::erase_if(resting_, [now](const auto& entry) { return entry.second <= now; });
}

std::optional<TimeMs> PreemptionMemory::partial_since(const std::string& job) const {
  const auto it = partial_since_.find(job);
  if (it == partial_since_.end()) return std::nullopt;
  return it->second;
}

bool PreemptionMemory::nominated(const std::string& job) const {
  return nomination_expiry_.contains(job);
}

bool PreemptionMemory::cooling_down(const std::string& job, const std::string& victim_job,
                                    TimeMs now) const {
  const auto evicted = cool_downs_.find(job);
  if (evicted == cool_downs_.end()) return false;
  const auto it = evicted->second.find(victim_job);
  return it != evicted->second.end() && it->second > now;
}

bool PreemptionMemory::resting(const std::string& job, TimeMs now) const {
  const auto it = resting_.find(job);
  return it != resting_.end() && it->second > now;
}

bool PreemptionMemory::pod_blocked(const std::string& pod, TimeMs now) const {
  const auto it = blocked_pods_.find(pod);
  return it != blocked_pods_.end() && it->second > now;
}

}  // namespace fairway
