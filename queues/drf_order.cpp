#include "queues/drf_order.h"

#include <algorithm>
#include <limits>

namespace fairway {

DrfOrder::DrfOrder(const QueueTree& tree, const FairShares& shares)
    : tree_(&tree), shares_(&shares), allocated_(shares.allocated), active_leaves_(tree.size(), 0) {
  allocated_.resize(tree.size());
}

void DrfOrder::set_active(QueueIndex leaf, bool active) {
  // For a leaf, active_leaves_ is its own 0/1 flag, so setting the same state twice is a no-op.
  const QueueNode& node = tree_->node(leaf);
  if (!node.is_leaf() || (active_leaves_[leaf] != 0) == active) return;
  for (QueueIndex q = leaf; q != kNoQueue; q = tree_->node(q).parent) {
    active_leaves_[q] = active ? active_leaves_[q] + 1 : active_leaves_[q] - 1;
  }
}

std::optional<QueueIndex> DrfOrder::pick() const {
  const std::vector<QueueIndex>* level = &tree_->roots();
  QueueIndex chosen = kNoQueue;
  while (true) {
    QueueIndex best = kNoQueue;
    for (QueueIndex candidate : *level) {
      if (active_leaves_[candidate] == 0) continue;
      if (best == kNoQueue || better(candidate, best)) best = candidate;
    }
    if (best == kNoQueue) return chosen == kNoQueue ? std::nullopt : std::optional(chosen);
    chosen = best;
    const QueueNode& node = tree_->node(best);
    if (node.is_leaf()) return best;
    level = &node.children;
  }
}

void DrfOrder::charge(QueueIndex leaf, const ResourceVector& delta) {
  for (QueueIndex q = leaf; q != kNoQueue; q = tree_->node(q).parent) allocated_[q] += delta;
}

double DrfOrder::dominant_share(QueueIndex queue) const {
  const ResourceVector& allocated = allocated_[queue];
  double dominant = 0;
  // Resources the fair shares were not computed for have no fair share to measure against; they
  // are left out rather than making every queue that uses them infinitely dominant.
  const size_t counted = std::min(allocated.size(), shares_->resources);
  for (size_t r = 0; r < counted; ++r) {
    const auto id = static_cast<ResourceId>(r);
    const int64_t used = allocated[id];
    if (used <= 0) continue;  // zero over anything (zero included) does not count
    const double fair = shares_->share(queue, id);
    if (fair <= 0) return std::numeric_limits<double>::infinity();
    dominant = std::max(dominant, static_cast<double>(used) / fair);
  }
  return dominant;
}

bool DrfOrder::starved(QueueIndex queue) const {
  const ResourceVector& allocated = allocated_[queue];
  const ResourceVector& deserved = shares_->deserved[queue];
  const ResourceVector& demand = shares_->demand[queue];
  for (size_t r = 0; r < deserved.size(); ++r) {
    const auto id = static_cast<ResourceId>(r);
    if (allocated[id] < deserved[id] && demand[id] > allocated[id]) return true;
  }
  return false;
}

bool DrfOrder::better(QueueIndex a, QueueIndex b) const {
  const bool a_starved = starved(a);
  if (a_starved != starved(b)) return a_starved;
  const double a_share = dominant_share(a);
  const double b_share = dominant_share(b);
  if (a_share != b_share) return a_share < b_share;
  const QueueNode& node_a = tree_->node(a);
  const QueueNode& node_b = tree_->node(b);
  if (node_a.priority != node_b.priority) return node_a.priority > node_b.priority;
  return node_a.name < node_b.name;
}

}  // namespace fairway
