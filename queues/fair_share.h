#pragma once
// Hierarchical fair share, per resource, top-down (water-filling).
//
// At each level, with `available` = the cluster capacity (roots) or the parent's fair share:
//  (1) every child first gets min(quota, demand, limit); if those exceed `available`, they are
//      scaled down in proportion to quota;
//  (2) what is left goes to unsatisfied children (share < min(demand, limit)), highest priority
//      bucket first; inside a bucket in proportion to overQuotaWeight, capped at each child's
//      remaining want, repeating until the bucket is satisfied or nothing is left. With a usage
//      strength k > 0 each weight is first adjusted by the children's past use (fair share over
//      time): w' = w · max(0, 1 - k · (u / U - w / W)), u a child's share of the cluster used
//      over time (usage_history.h), U and W the sums over the bucket's unsatisfied children;
//      a child that used more than its weight's part of their past use gets less of the spare
//      pool, one that used less gets more. Step (1) is never adjusted: quota is deserved;
//  (3) recurse with each child's share as its `available`.
// demand(q) = allocated(q) + pending(q), summed up the tree. Shares are doubles in canonical units
// (fractions of GPUs exist). Pure and deterministic.
// Details: the scaling in (1) is weighted water-filling with quota as the weight (a queue needing
// less than its proportional part keeps all it needs). In (2), weight-0 queues get nothing while
// a positive-weight queue of the same bucket still wants more, then share the rest equally.
// A queue passes up min(demand, limit); demand[q] itself is reported uncapped. deserved[q] is the
// tree's effective quota (see queue_tree.h).

#include <span>
#include <vector>

#include "queues/queue_tree.h"
#include "queues/resources.h"

namespace fairway {

// What a leaf queue uses and waits for; indexed by QueueIndex (inner entries are ignored).
struct QueueUsage {
  ResourceVector allocated;
  ResourceVector pending;
  std::vector<double> history;  // per ResourceId: share of the cluster used over time
};

struct FairShares {
  size_t resources = 0;  // stride of the flat arrays
  // [queue * resources + resource]
  std::vector<double> fair_share;
  // Per queue, summed over the subtree.
  std::vector<ResourceVector> deserved;
  std::vector<ResourceVector> allocated;
  std::vector<ResourceVector> demand;
  // [queue * resources + resource]: share of the cluster used over time, summed over the subtree.
  std::vector<double> history;

  double share(QueueIndex queue, ResourceId resource) const {
    return resource < resources ? fair_share[queue * resources + resource] : 0.0;
  }
};

// usage_strength: k of step (2); 0 leaves weights as written.
FairShares compute_fair_shares(const QueueTree& tree, const ResourceVector& capacity,
                               std::span<const QueueUsage> usage, size_t resource_count,
                               double usage_strength = 0);

// The warning that depends on the cluster (non-blocking, reason QuotaAboveCapacity): the
// top-level queues' quotas of a resource add up to more than `capacity` has, so those
// guarantees cannot all be kept: when every queue claims its quota, each gets a part in
// proportion to quota (step 1 above). One problem per top-level queue that has a quota of such
// a resource; none for the pods count. The tree's own problems are in QueueTree::problems().
std::vector<QueueProblem> capacity_problems(const QueueTree& tree, const ResourceVector& capacity,
                                            const ResourceRegistry& registry);

}  // namespace fairway
