#include "scheduler/loop/explanations.h"

namespace fairway {

void Explanations::publish(const std::vector<PendingJob>& pending, const ClusterState& state,
                           std::vector<Unschedulable>& out) {
  for (const PendingJob& job : pending) {
    for (const std::string& pod : job.pods) {
      auto& last = by_pod_[pod];
      if (last == job.message) continue;
      last = job.message;
      const PodRecord* record = state.find_pod(pod);
      out.push_back(
          {pod, record != nullptr ? record->pod.uid : "", reason_name(job.reason), job.message});
    }
    // A gang's PodGroup gets the same explanation as an Event (event_recorder.h).
    if (state.find_pod_group(job.job) != nullptr) {
      auto& last = by_group_[job.job];
      if (last != job.message) {
        last = job.message;
        out.push_back({job.job, "", reason_name(job.reason), job.message, "PodGroup"});
      }
    }
  }
}

void Explanations::placed(const Binding& binding) {
  by_pod_.erase(binding.pod);
  by_group_.erase(binding.job);
}

void Explanations::forget_all() {
  by_pod_.clear();
  by_group_.clear();
}

void Explanations::prune(const ClusterState& state) {
  if (by_pod_.size() > 2 * state.pod_count() + 1024) {
    std::erase_if(by_pod_,
                  [&state](const auto& entry) { return state.find_pod(entry.first) == nullptr; });
  }
  if (by_group_.size() > 2 * state.jobs().size() + 1024) {
    std::erase_if(by_group_, [&state](const auto& entry) {
      return state.find_pod_group(entry.first) == nullptr;
    });
  }
}

}  // namespace fairway
