#pragma once
// What fairway writes into Queue.status: allocated, fairShare, deserved and pending per
// resource (Kubernetes quantity strings), and a Valid condition naming the problem when the
// queue is unusable. Pure: built from the last cycle's fair shares and the queue tree.

#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "queues/fair_share.h"
#include "queues/queue_tree.h"

namespace fairway {

// status objects by queue name, for every Queue that has a spec (the implicit default has none)
// and for every queue left out of the tree with a problem.
std::unordered_map<std::string, nlohmann::json> queue_statuses(const QueueTree& tree,
                                                               const FairShares& shares,
                                                               const ResourceRegistry& registry);

// A share (a double in canonical units) as a quantity string: "12", "2.5", "1500m", "16Gi".
std::string share_quantity(double canonical, int64_t scale);

}  // namespace fairway
