#include "queues/fair_share.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "queues/quantity.h"

namespace fairway {
namespace {

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kUnlimited : -kUnlimited;
  return sum;
}

// One claimant in a water-filling round.
struct Claim {
  double cap = 0;     // the most it may still receive
  double weight = 0;  // its share of the amount, relative to the others
  double level = 0;   // cap / weight: the water level at which it is satisfied
  uint32_t slot = 0;  // where its result goes
};

// Weighted max-min split of `amount` among `claims` (weights > 0), each capped at its cap.
// Claims sorted by the level at which they saturate: once one does not saturate at the current
// level, none of the later ones do, so the rest share what is left in proportion to weight.
// Adds each claim's portion to out[slot] and returns what was handed out.
double water_fill(std::vector<Claim>& claims, double amount, std::vector<double>& out) {
  if (claims.empty() || amount <= 0) return 0;
  double total_weight = 0;
  for (Claim& claim : claims) {
    claim.level = claim.cap / claim.weight;
    total_weight += claim.weight;
  }
  std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
    return a.level < b.level || (a.level == b.level && a.slot < b.slot);
  });
  double left = amount;
  size_t i = 0;
  for (; i < claims.size(); ++i) {
    const Claim& claim = claims[i];
    if (claim.cap > left * claim.weight / total_weight) break;
    out[claim.slot] += claim.cap;
    left -= claim.cap;
    total_weight -= claim.weight;
  }
  if (i < claims.size()) {
    const double level = left / total_weight;
    for (; i < claims.size(); ++i) out[claims[i].slot] += claims[i].weight * level;
    left = 0;
  }
  return amount - std::max(left, 0.0);
}

// Scratch buffers reused across every sibling group and resource of one computation.
struct Scratch {
  std::vector<double> want;   // per sibling: min(demand, limit)
  std::vector<double> share;  // per sibling: what it has been given so far
  std::vector<Claim> claims;
  std::vector<Claim> idle;  // weight-0 claimants of a bucket
  std::vector<QueueIndex> by_priority;
};

// Step (2)'s weights adjusted by past use: w' = w · max(0, 1 - k · (u/U - w/W)) over the
// bucket's claimants. Claims whose weight falls to 0 move to `idle` (they get only what no one
// else wants, as a weight-0 queue does). Nothing changes when none of them has any history.
void adjust_by_history(std::vector<Claim>& claims, std::vector<Claim>& idle,
                       std::span<const QueueIndex> siblings, ResourceId r, size_t resources,
                       std::span<const double> history, double strength) {
  double total_weight = 0;
  double total_used = 0;
  for (const Claim& claim : claims) {
    total_weight += claim.weight;
    total_used += history[siblings[claim.slot] * resources + r];
  }
  if (strength <= 0 || total_used <= 0) return;
  for (Claim& claim : claims) {
    const double used = history[siblings[claim.slot] * resources + r] / total_used;
    claim.weight *= std::max(0.0, 1 - strength * (used - claim.weight / total_weight));
  }
  for (const Claim& claim : claims) {
    if (claim.weight <= 0) idle.push_back({claim.cap, 1.0, 0, claim.slot});
  }
  std::erase_if(claims, [](const Claim& claim) { return claim.weight <= 0; });
}

struct Split {
  std::span<const int64_t> want_of;  // min(demand, limit) per queue × resource
  std::span<const double> history;   // past use per queue × resource
  size_t resources = 0;
  double usage_strength = 0;
};

// Splits `available` of resource `r` among `siblings` and writes their fair shares.
void split(const QueueTree& tree, std::span<const QueueIndex> siblings, ResourceId r,
           double available, const Split& in, std::vector<double>& fair_share, Scratch& scratch) {
  const size_t resources = in.resources;
  const size_t n = siblings.size();
  scratch.want.assign(n, 0.0);
  scratch.share.assign(n, 0.0);
  const double epsilon = 1e-9 * std::max(1.0, available);
  if (available <= 0) {
    for (QueueIndex q : siblings) fair_share[q * resources + r] = 0;
    return;
  }

  // (1) Quotas: min(quota, demand, limit) each; scaled in proportion to quota when they do not
  // all fit (weighted water-filling with quota as the weight, so a queue that needs less than its
  // proportional part keeps all of it and the rest goes to the others).
  double base_total = 0;
  scratch.claims.clear();
  for (uint32_t i = 0; i < n; ++i) {
    const QueueIndex q = siblings[i];
    scratch.want[i] = static_cast<double>(in.want_of[q * resources + r]);
    const auto quota = static_cast<double>(std::max<int64_t>(tree.node(q).quota[r], 0));
    const double base = std::min(quota, scratch.want[i]);
    if (base > 0) {
      scratch.claims.push_back({base, quota, 0, i});
      base_total += base;
    }
  }
  double left = available;
  if (base_total <= available) {
    for (const Claim& claim : scratch.claims) scratch.share[claim.slot] = claim.cap;
    left -= base_total;
  } else {
    water_fill(scratch.claims, available, scratch.share);
    left = 0;
  }

  // (2) Over quota: priority buckets, highest first; inside a bucket by overQuotaWeight. Queues
  // with weight 0 get nothing over quota while a positive-weight sibling of the same bucket still
  // wants more; when only weight-0 queues are left wanting, they split the rest equally (an
  // idle resource is worth more to them than to nobody).
  const auto& order = scratch.by_priority;
  for (size_t begin = 0; begin < n && left > epsilon;) {
    const int32_t priority = tree.node(siblings[order[begin]]).priority;
    size_t end = begin;
    scratch.claims.clear();
    scratch.idle.clear();
    for (; end < n && tree.node(siblings[order[end]]).priority == priority; ++end) {
      const uint32_t i = order[end];
      const double missing = scratch.want[i] - scratch.share[i];
      if (missing <= epsilon) continue;
      const double weight = tree.node(siblings[i]).weight_of(r);
      if (weight > 0) {
        scratch.claims.push_back({missing, weight, 0, i});
      } else {
        scratch.idle.push_back({missing, 1.0, 0, i});
      }
    }
    adjust_by_history(scratch.claims, scratch.idle, siblings, r, resources, in.history,
                      in.usage_strength);
    left -= water_fill(scratch.claims, left, scratch.share);
    if (left > epsilon) left -= water_fill(scratch.idle, left, scratch.share);
    begin = end;
  }

  for (size_t i = 0; i < n; ++i) fair_share[siblings[i] * resources + r] = scratch.share[i];
}

}  // namespace

FairShares compute_fair_shares(const QueueTree& tree, const ResourceVector& capacity,
                               std::span<const QueueUsage> usage, size_t resource_count,
                               double usage_strength) {
  const size_t n = tree.size();
  const size_t stride = resource_count;
  FairShares out;
  out.resources = stride;
  out.fair_share.assign(n * stride, 0.0);
  out.deserved.resize(n);
  out.allocated.resize(n);
  out.demand.resize(n);
  out.history.assign(n * stride, 0.0);
  const auto& order = tree.top_down();

  // Demand and allocation, bottom-up. A queue passes up at most its own limit of demand: what it
  // can never be given must not pull share into its parent.
  std::vector<int64_t> want(n * stride, 0);  // min(demand, limit) per queue × resource
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const QueueIndex q = *it;
    const QueueNode& node = tree.node(q);
    out.deserved[q] = node.quota;
    if (node.is_leaf() && q < usage.size()) {
      out.allocated[q] = usage[q].allocated;
      out.demand[q] = usage[q].allocated;
      out.demand[q] += usage[q].pending;
      const std::vector<double>& past = usage[q].history;
      for (size_t r = 0; r < std::min(past.size(), stride); ++r)
        out.history[q * stride + r] = past[r];
    }
    for (size_t r = 0; r < stride; ++r) {
      const auto id = static_cast<ResourceId>(r);
      want[q * stride + r] = std::clamp<int64_t>(out.demand[q][id], 0, node.limit_of(id));
    }
    if (node.parent == kNoQueue) continue;
    ResourceVector& parent_demand = out.demand[node.parent];
    out.allocated[node.parent] += out.allocated[q];
    for (size_t r = 0; r < stride; ++r) {
      out.history[node.parent * stride + r] += out.history[q * stride + r];
    }
    const size_t width = std::max<size_t>(out.demand[q].size(), stride);
    for (size_t r = 0; r < width; ++r) {
      const auto id = static_cast<ResourceId>(r);
      const int64_t passed =
          r < stride ? want[q * stride + r] : std::min(out.demand[q][id], node.limit_of(id));
      if (passed != 0) parent_demand.set(id, saturating_add(parent_demand[id], passed));
    }
  }

  // Shares, top-down: the roots split the capacity, every other group its parent's share.
  Scratch scratch;
  const Split in{want, out.history, stride, usage_strength};
  auto split_group = [&](std::span<const QueueIndex> siblings, auto&& available_of) {
    // Priority order is the same for every resource: highest first, then by position (siblings
    // are sorted by name), so buckets are contiguous runs.
    scratch.by_priority.resize(siblings.size());
    for (uint32_t i = 0; i < siblings.size(); ++i) scratch.by_priority[i] = i;
    std::stable_sort(scratch.by_priority.begin(), scratch.by_priority.end(),
                     [&](QueueIndex a, QueueIndex b) {
                       return tree.node(siblings[a]).priority > tree.node(siblings[b]).priority;
                     });
    for (size_t r = 0; r < stride; ++r) {
      split(tree, siblings, static_cast<ResourceId>(r), available_of(r), in, out.fair_share,
            scratch);
    }
  };
  split_group(tree.roots(), [&](size_t r) {
    return static_cast<double>(std::max<int64_t>(capacity[static_cast<ResourceId>(r)], 0));
  });
  for (QueueIndex q : order) {
    const QueueNode& node = tree.node(q);
    if (node.is_leaf()) continue;
    split_group(node.children, [&](size_t r) { return out.fair_share[q * stride + r]; });
  }
  return out;
}

std::vector<QueueProblem> capacity_problems(const QueueTree& tree, const ResourceVector& capacity,
                                            const ResourceRegistry& registry) {
  std::vector<QueueProblem> out;
  for (size_t i = 0; i < registry.size(); ++i) {
    const auto r = static_cast<ResourceId>(i);
    if (r == kPods) continue;
    int64_t promised = 0;
    for (QueueIndex root : tree.roots()) {
      promised = saturating_add(promised, tree.node(root).quota[r]);
    }
    const int64_t has = r < capacity.size() ? capacity[r] : 0;
    if (promised <= has) continue;
    const int64_t scale = registry.scale(r);
    const std::string message = fmt::format(
        "the top-level queues' quotas of {} add up to {}, more than the cluster's {}: when every "
        "queue claims its quota, each gets a part in proportion to quota",
        registry.name(r), format_quantity(promised, scale), format_quantity(has, scale));
    for (QueueIndex root : tree.roots()) {
      const QueueNode& node = tree.node(root);
      if (node.implicit || node.quota[r] <= 0) continue;
      out.push_back({node.name, "QuotaAboveCapacity", message, false});
    }
  }
  return out;
}

}  // namespace fairway
