#pragma once
// A Queue custom resource (scheduling.fairway.dev/v1alpha1), decoded.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "queues/label_selector.h"

namespace fairway {

struct QueueResourceSpec {
  int64_t quota = 0;             // deserved, guaranteed; canonical units
  std::optional<int64_t> limit;  // hard cap; absent = unlimited
  double over_quota_weight = 1;  // share of what is left after quotas, among unsatisfied siblings
};

// Queue.status.usage as fairway last wrote it: each resource's share of the cluster used over
// time and when it was computed. Fair share over time starts from it after a restart.
struct PastUsage {
  std::map<std::string, double, std::less<>> shares;  // by resource name
  int64_t at_ms = 0;                                  // wall clock, ms since the epoch
};

struct QueueSpec {
  std::string name;
  std::string parent;  // empty: a root-level queue
  int32_t priority = 0;
  std::map<std::string, QueueResourceSpec, std::less<>> resources;  // by resource name
  std::optional<int64_t> preempt_min_runtime_seconds;
  std::optional<int64_t> reclaim_min_runtime_seconds;
  // Namespaces that may submit to this queue (and its subtree); absent: every namespace.
  std::optional<LabelSelector> namespace_selector;
  // Parts of the object the decoder could not read (a quota that is not a quantity, ...), one
  // message each naming the field. A queue with problems is not usable (reason InvalidSpec in
  // its Valid condition; its pods stay pending with that message).
  std::vector<std::string> problems;
  std::optional<PastUsage> past_usage;  // from status; absent or unreadable: no history
};

}  // namespace fairway
