#pragma once
// A Queue custom resource (scheduling.fairway.dev/v1alpha1), decoded.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fairway {

struct QueueResourceSpec {
  int64_t quota = 0;             // deserved, guaranteed; canonical units
  std::optional<int64_t> limit;  // hard cap; absent = unlimited
  double over_quota_weight = 1;  // share of what is left after quotas, among unsatisfied siblings
};

struct QueueSpec {
  std::string name;
  std::string parent;  // empty: a root-level queue
  int32_t priority = 0;
  std::map<std::string, QueueResourceSpec, std::less<>> resources;  // by resource name
  std::optional<int64_t> preempt_min_runtime_seconds;
  std::optional<int64_t> reclaim_min_runtime_seconds;
};

}  // namespace fairway
