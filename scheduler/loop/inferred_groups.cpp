#include "scheduler/loop/inferred_groups.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace fairway {

std::string inferred_pod_group_body(const JobRecord& job) {
  const auto [ns, name] = split_key(job.key);
  nlohmann::json owner = {{"apiVersion", job.owner.api_version},
                          {"kind", job.owner.kind},
                          {"name", job.owner.name},
                          {"uid", job.owner.uid},
                          {"blockOwnerDeletion", false}};
  nlohmann::json body = {
      {"apiVersion", "scheduling.fairway.dev/v1alpha1"},
      {"kind", "PodGroup"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels", {{"fairway.dev/inferred", "true"}}},
        {"annotations", {{kInferredFromAnnotation, "inferred from " + job.inferred_from}}},
        {"ownerReferences", nlohmann::json::array({std::move(owner)})}}},
      {"spec", {{"minMember", job.min_member}, {"queue", job.queue}}},
  };
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void publish_inferred_groups(const ClusterState& state, InferredGroupWrites& writes,
                             Clock::time_point now, std::vector<ObjectWrite>& out) {
  constexpr auto kAskAgainAfter = std::chrono::seconds(10);
  std::unordered_map<std::string, InferredGroupWrites::Asked> still;
  for (const JobRecord& job : state.jobs()) {
    if (!job.present || !job.inferred() || job.owner.uid.empty()) continue;
    const PodGroup* seen = state.pod_group_object(job.key);
    auto previous = writes.asked.find(job.key);
    const bool current =
        seen != nullptr && seen->min_member == job.min_member && seen->queue == job.queue;
    if (current) {
      if (previous != writes.asked.end()) still.emplace(job.key, std::move(previous->second));
      continue;
    }
    std::string body = inferred_pod_group_body(job);
    if (previous != writes.asked.end() && previous->second.body == body &&
        now - previous->second.at < kAskAgainAfter) {
      still.emplace(job.key, std::move(previous->second));
      continue;
    }
    const auto [ns, name] = split_key(job.key);
    out.push_back(
        {fmt::format("/apis/scheduling.fairway.dev/v1alpha1/namespaces/{}/podgroups/{}", ns, name),
         body});
    still.emplace(job.key, InferredGroupWrites::Asked{std::move(body), now});
  }
  writes.asked = std::move(still);  // gangs that are gone are forgotten
}

}  // namespace fairway
