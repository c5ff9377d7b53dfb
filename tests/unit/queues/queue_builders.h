#pragma once
// Small builders so the queue tests read like the tables they check.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queues/fair_share.h"
#include "queues/queue_spec.h"
#include "queues/queue_tree.h"

namespace fairway::testing {

// Whole GPUs (or cores) in canonical milli-units.
constexpr int64_t units(double whole) {
  return static_cast<int64_t>(whole * 1000);
}

class QueueBuilder {
 public:
  explicit QueueBuilder(std::string name, std::string parent = "") {
    spec_.name = std::move(name);
    spec_.parent = std::move(parent);
  }
  QueueBuilder& priority(int32_t value) {
    spec_.priority = value;
    return *this;
  }
  // Quota/limit in whole units of `resource` (GPUs, cores); memory-like resources take bytes.
  QueueBuilder& resource(const std::string& resource, double quota,
                         std::optional<double> limit = std::nullopt, double weight = 1) {
    const bool bytes = resource == "memory";
    auto canonical = [bytes](double v) { return bytes ? static_cast<int64_t>(v) : units(v); };
    QueueResourceSpec& entry = spec_.resources[resource];
    entry.quota = canonical(quota);
    if (limit) entry.limit = canonical(*limit);
    entry.over_quota_weight = weight;
    return *this;
  }
  QueueBuilder& gpu(double quota, std::optional<double> limit = std::nullopt, double weight = 1) {
    return resource("nvidia.com/gpu", quota, limit, weight);
  }
  operator QueueSpec() const { return spec_; }  // NOLINT(google-explicit-constructor)

 private:
  QueueSpec spec_;
};

inline ResourceVector gpus(double whole) {
  ResourceVector vector;
  vector.set(kGpu, units(whole));
  return vector;
}

inline ResourceVector gpus_cpus(double gpu, double cpu) {
  ResourceVector vector;
  vector.set(kGpu, units(gpu));
  vector.set(kCpu, units(cpu));
  return vector;
}

// Usage per queue name, turned into the index-addressed span compute_fair_shares takes.
struct NamedUsage {
  std::string queue;
  ResourceVector allocated;
  ResourceVector pending;
};

inline std::vector<QueueUsage> usage_for(const QueueTree& tree,
                                         const std::vector<NamedUsage>& named) {
  std::vector<QueueUsage> usage(tree.size());
  for (const auto& entry : named) {
    const auto index = tree.find(entry.queue);
    if (!index) continue;
    usage[*index].allocated = entry.allocated;
    usage[*index].pending = entry.pending;
  }
  return usage;
}

}  // namespace fairway::testing
