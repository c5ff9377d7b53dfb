#include "scheduler/state/subgroups.h"

#include <fmt/format.h>

#include <algorithm>

namespace fairway {

namespace {

const SubGroup* find_subgroup(const JobRecord& job, const std::string& name) {
  for (const SubGroup& subgroup : job.subgroups) {
    if (subgroup.name == name) return &subgroup;
  }
  return nullptr;
}

}  // namespace

std::string undefined_subgroup(const ClusterState& state, const JobRecord& job,
                               const std::vector<PodId>& pods) {
  // A gang of one, or one whose PodGroup has not arrived, defines nothing yet to check against.
  if (job.group.empty() || job.awaiting_group) return {};
  for (PodId id : pods) {
    const Pod& pod = state.pods()[id].pod;
    if (pod.subgroup.empty() || find_subgroup(job, pod.subgroup) != nullptr) continue;
    if (job.subgroups.empty()) {
      return fmt::format("pod {} names subgroup \"{}\", but its gang {} defines no subgroups",
                         pod.name, pod.subgroup, job.key);
    }
    std::string defined;
    for (const SubGroup& subgroup : job.subgroups) {
      defined += (defined.empty() ? "" : ", ") + subgroup.name;
    }
    return fmt::format(
        "pod {} names subgroup \"{}\", which its gang {} does not define "
        "(subgroups: {})",
        pod.name, pod.subgroup, job.key, defined);
  }
  return {};
}

std::vector<GangPart> split_gang(const ClusterState& state, const JobRecord& job,
                                 const std::vector<PodId>& pending) {
  const auto& pods = state.pods();
  std::vector<GangPart> parts(job.subgroups.size() + 1);
  for (size_t i = 0; i < job.subgroups.size(); ++i) parts[i].subgroup = &job.subgroups[i];
  auto part_of = [&](PodId pod) -> GangPart& {
    const std::string& name = pods[pod].pod.subgroup;
    for (size_t i = 0; !name.empty() && i < job.subgroups.size(); ++i) {
      if (job.subgroups[i].name == name) return parts[i];
    }
    return parts.back();
  };
  for (PodId pod : job.all) {
    if (pods[pod].counted_bound) ++part_of(pod).bound;
  }
  // Each subgroup's missing minimum first.
  for (PodId pod : pending) {
    GangPart& part = part_of(pod);
    const auto min =
        part.subgroup != nullptr ? static_cast<uint32_t>(part.subgroup->min_member) : 0;
    if (part.bound + part.core.size() < min) {
      part.core.push_back(pod);
    } else {
      part.extra.push_back(pod);
    }
  }
  // Then the gang's own minimum, from the remaining pods in order.
  size_t core = job.bound;
  for (const GangPart& part : parts) core += part.core.size();
  const auto gang_min = static_cast<size_t>(std::max(job.min_member, 1));
  if (core < gang_min) {
    size_t missing = gang_min - core;
    for (PodId pod : pending) {
      if (missing == 0) break;
      GangPart& part = part_of(pod);
      auto it = std::find(part.extra.begin(), part.extra.end(), pod);
      if (it == part.extra.end()) continue;
      part.extra.erase(it);
      part.core.push_back(pod);
      --missing;
    }
  }
  if (parts.back().core.empty() && parts.back().extra.empty()) parts.pop_back();
  return parts;
}

std::string incomplete_subgroup(const std::vector<GangPart>& parts) {
  for (const GangPart& part : parts) {
    if (part.subgroup == nullptr) continue;
    const size_t exist = part.bound + part.core.size() + part.extra.size();
    if (exist < static_cast<size_t>(part.subgroup->min_member)) {
      return fmt::format("waiting for subgroup \"{}\": {} of minMember {} pods exist",
                         part.subgroup->name, exist, part.subgroup->min_member);
    }
  }
  return {};
}

}  // namespace fairway
