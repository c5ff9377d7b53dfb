#pragma once
// Which queue is served next: hierarchical dominant resource fairness.
//
// Among siblings, the next subtree is chosen by, in order:
//   1. starved first: allocated below deserved on a resource it has pending demand for;
//   2. lower dominant share: max over resources of allocated / fairShare (a resource with zero
//      fair share and non-zero allocation counts as infinite; zero over zero is ignored);
//   3. higher queue priority; 4. name (determinism).
// Resources with ids at or past FairShares::resources are not counted in the dominant share.
// pick() descends from the roots to the best active leaf. charge() moves allocation during a
// cycle so the order follows what the cycle has already given out.

#include <optional>
#include <vector>

#include "queues/fair_share.h"
#include "queues/queue_tree.h"

namespace fairway {

class DrfOrder {
 public:
  DrfOrder(const QueueTree& tree, const FairShares& shares);

  // A leaf is active while it has jobs the cycle still wants to try.
  void set_active(QueueIndex leaf, bool active);
  std::optional<QueueIndex> pick() const;
  // Adds `delta` to the leaf's allocation and all its ancestors'.
  void charge(QueueIndex leaf, const ResourceVector& delta);

  const ResourceVector& allocated(QueueIndex queue) const { return allocated_[queue]; }
  double dominant_share(QueueIndex queue) const;
  bool starved(QueueIndex queue) const;

 private:
  bool better(QueueIndex a, QueueIndex b) const;

  const QueueTree* tree_;
  const FairShares* shares_;
  std::vector<ResourceVector> allocated_;
  std::vector<uint32_t> active_leaves_;  // per queue: active leaves in its subtree
};

}  // namespace fairway
