#include "scheduler/state/job_gate.h"

#include <fmt/format.h>

#include <algorithm>

#include "queues/queue_access.h"
#include "scheduler/state/subgroups.h"

namespace fairway {

std::optional<QueueIndex> resolve_leaf_queue(const ClusterState& state, const QueueTree& tree,
                                             std::string_view queue, std::string* why) {
  const auto index = tree.find(queue);
  if (!index) {
    if (const QueueProblem* problem = tree.problem_of(queue)) {
      *why = fmt::format("queue \"{}\" is invalid: {}", queue, problem->message);
    } else {
      *why = fmt::format("queue \"{}\" does not exist", queue);
    }
    if (const auto usage = state.queue_usage().find(std::string(queue));
        usage != state.queue_usage().end()) {
      ResourceVector charged = usage->second.allocated;
      charged.set(kPods, 0);  // a node limit, not something queues are charged
      if (!charged.is_zero()) {
        *why += "; its running pods stay charged outside the queue tree until they finish";
      }
    }
    return std::nullopt;
  }
  if (!tree.node(*index).is_leaf()) {
    *why = fmt::format("queue \"{}\" has child queues; pods must name a leaf queue", queue);
    return std::nullopt;
  }
  return index;
}

std::optional<JobRefusal> job_refusal(const ClusterState& state, const JobRecord& job,
                                      const std::vector<PodId>& pods) {
  std::string invalid;
  for (PodId pod : pods) {
    const PodRecord& record = state.pods()[pod];
    for (const std::string& error : record.intent.errors) {
      invalid += (invalid.empty() ? "" : "; ") + fmt::format("pod {}: {}", record.pod.name, error);
    }
  }
  if (const PodGroup* group = job.group.empty() ? nullptr : state.find_pod_group(job.key)) {
    for (const std::string& problem : group->problems) {
      invalid += (invalid.empty() ? "" : "; ") + fmt::format("PodGroup {}: {}", job.key, problem);
    }
  }
  if (std::string stray = undefined_subgroup(state, job, pods); !stray.empty()) {
    invalid += (invalid.empty() ? "" : "; ") + stray;
  }
  if (!invalid.empty()) return JobRefusal{JobRefusalKind::kInvalidPod, std::move(invalid)};
  if (auto denial = queue_access_denial(state.queue_specs(), job.queue, job.namespace_,
                                        state.namespace_labels(job.namespace_))) {
    return JobRefusal{JobRefusalKind::kQueueNotAllowed, std::move(*denial)};
  }
  return std::nullopt;
}

std::optional<JobRefusal> waiting_job_refusal(const ClusterState& state, const QueueTree& tree,
                                              const JobRecord& job) {
  if (std::string why; !resolve_leaf_queue(state, tree, job.queue, &why)) {
    return JobRefusal{JobRefusalKind::kQueueInvalid, std::move(why)};
  }
  // The pods the cycle would try to place (gated pods wait for their gates), in its order, so
  // that both name the same pods in the same message.
  std::vector<PodId> pending;
  for (PodId pod : job.pending) {
    if (state.pods()[pod].pod.scheduling_gates.empty()) pending.push_back(pod);
  }
  std::sort(pending.begin(), pending.end(), [&state](PodId a, PodId b) {
    return state.pods()[a].pod.name < state.pods()[b].pod.name;
  });
  return job_refusal(state, job, pending);
}

}  // namespace fairway
