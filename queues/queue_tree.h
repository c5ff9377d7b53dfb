#pragma once
// The Queue hierarchy, validated. Built from QueueSpecs whenever a Queue changes; never fails:
// a queue that cannot be used (cycle, unknown parent, negative quota, ...) is reported in
// errors() with a reason and left out together with its subtree, and every valid queue keeps
// working. Problems that have a safe interpretation (children's quotas summing above the
// parent's) are reported as warnings and the queue stays usable.
//
// Quotas between levels: a parent with no (zero) quota for a resource guarantees the sum of its
// children's quotas (capped at its limit); a parent with a non-zero quota caps its children's sum
// (ChildrenQuotaExceedParent, non-blocking), and their effective quotas are scaled down in
// proportion. A duplicated name blocks every Queue carrying it. Nodes are laid out in depth-first
// pre-order with siblings sorted by name, so top_down() is 0, 1, 2, ...

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queues/queue_spec.h"
#include "queues/resources.h"

namespace fairway {

using QueueIndex = uint32_t;
inline constexpr QueueIndex kNoQueue = std::numeric_limits<QueueIndex>::max();
inline constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();
inline constexpr std::string_view kDefaultQueueName = "default";

// Every reason of a Queue's conditions: the problems' (Valid=False: blocking; Warning: the
// last three, QuotaAboveCapacity from capacity_problems in fair_share.h) and Valid=True's own.
inline constexpr std::array<std::string_view, 15> kQueueConditionReasons = {
    "InvalidSpec",
    "InvalidName",
    "DuplicateName",
    "UnknownParent",
    "Cycle",
    "NegativeQuota",
    "NegativeLimit",
    "QuotaAboveLimit",
    "NegativeWeight",
    "InvalidWeight",
    "ParentInvalid",
    "ChildrenQuotaExceedParent",
    "DefaultQueueNotLeaf",
    "QuotaAboveCapacity",
    "Valid"};

struct QueueProblem {
  std::string queue;
  std::string reason;    // CamelCase, for conditions: "Cycle", "UnknownParent", "NegativeQuota",
                         // "ParentInvalid", "ChildrenQuotaExceedParent", "DuplicateName", ...
                         // (full list in queue_tree.cpp)
  std::string message;   // one line for people
  bool blocking = true;  // true: the queue (and its subtree) is not scheduled
};

struct QueueNode {
  std::string name;
  QueueIndex parent = kNoQueue;
  std::vector<QueueIndex> children;
  int32_t priority = 0;
  uint32_t depth = 0;     // 0 for root-level queues
  bool implicit = false;  // the built-in "default" queue when no Queue named default exists
  ResourceVector quota;   // effective deserved quota (scaled down if children overcommit)
  ResourceVector limit;   // kUnlimited where absent
  std::vector<double> over_quota_weight;  // per ResourceId, 1 where absent
  bool is_leaf() const { return children.empty(); }
  int64_t limit_of(ResourceId id) const { return id < limit.size() ? limit[id] : kUnlimited; }
  double weight_of(ResourceId id) const {
    return id < over_quota_weight.size() ? over_quota_weight[id] : 1.0;
  }
};

class QueueTree {
 public:
  QueueTree() = default;
  // Interns every resource named in the specs into `registry`.
  static QueueTree build(std::span<const QueueSpec> specs, ResourceRegistry& registry);

  size_t size() const { return nodes_.size(); }
  const QueueNode& node(QueueIndex index) const { return nodes_[index]; }
  const std::vector<QueueIndex>& roots() const { return roots_; }
  std::optional<QueueIndex> find(std::string_view name) const;
  // The queue pods without a queue label go to: the Queue named "default", else an implicit one.
  // kNoQueue when the declared "default" has children (reported as DefaultQueueNotLeaf).
  QueueIndex default_queue() const { return default_queue_; }
  // Every problem found, blocking or not, in a deterministic order.
  const std::vector<QueueProblem>& problems() const { return problems_; }
  // Blocking problem of a queue that was left out (or of its ancestor), if any.
  const QueueProblem* problem_of(std::string_view name) const;
  // Nodes in an order where every parent comes before its children.
  const std::vector<QueueIndex>& top_down() const { return top_down_; }

 private:
  std::vector<QueueNode> nodes_;
  std::vector<QueueIndex> roots_;
  std::vector<QueueIndex> top_down_;
  std::unordered_map<std::string, QueueIndex> by_name_;
  std::vector<QueueProblem> problems_;
  QueueIndex default_queue_ = kNoQueue;
};

}  // namespace fairway
