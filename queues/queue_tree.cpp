#include "queues/queue_tree.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "queues/quantity.h"

namespace fairway {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);
__extension__ typedef __int128 Int128;  // GCC/Clang extension; keeps -Wpedantic quiet

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? kUnlimited : -kUnlimited;
  return sum;
}

// floor(value * numerator / denominator) without overflow; all arguments are >= 0.
int64_t scale_down(int64_t value, int64_t numerator, int64_t denominator) {
  if (denominator <= 0) return 0;
  const auto scaled = static_cast<Int128>(value) * numerator / denominator;
  return static_cast<int64_t>(scaled);
}

std::string show(int64_t canonical, const ResourceRegistry& registry, ResourceId id) {
  return format_quantity(canonical, registry.scale(id));
}

// What the builder knows about one spec while validating.
struct Candidate {
  const QueueSpec* spec = nullptr;
  size_t parent = kNone;          // index into the candidate list
  std::vector<QueueProblem> own;  // problems of the spec itself (blocking)
  bool blocked = false;
  size_t blocked_by = kNone;  // the candidate whose own problem blocks this one (maybe itself)
};

// Checks the numbers of one spec. Every bad resource is reported, not only the first.
std::vector<QueueProblem> check_resources(const QueueSpec& spec) {
  std::vector<QueueProblem> problems;
  auto add = [&](std::string reason, std::string message) {
    problems.push_back({spec.name, std::move(reason), std::move(message), true});
  };
  for (const std::string& problem : spec.problems) add("InvalidSpec", problem);
  for (const auto& [resource, values] : spec.resources) {
    const int64_t scale = canonical_scale(resource);
    if (values.quota < 0) {
      add("NegativeQuota", fmt::format("quota of {} is negative ({})", resource,
                                       format_quantity(values.quota, scale)));
    }
    if (values.limit && *values.limit < 0) {
      add("NegativeLimit", fmt::format("limit of {} is negative ({})", resource,
                                       format_quantity(*values.limit, scale)));
    }
    if (values.limit && *values.limit >= 0 && values.quota > *values.limit) {
      add("QuotaAboveLimit",
          fmt::format("quota of {} ({}) is above its limit ({})", resource,
                      format_quantity(values.quota, scale), format_quantity(*values.limit, scale)));
    }
    if (std::isnan(values.over_quota_weight) || std::isinf(values.over_quota_weight)) {
      add("InvalidWeight", fmt::format("overQuotaWeight of {} is not a finite number", resource));
    } else if (values.over_quota_weight < 0) {
      add("NegativeWeight", fmt::format("overQuotaWeight of {} is negative ({})", resource,
                                        values.over_quota_weight));
    }
  }
  return problems;
}

}  // namespace

// Reasons reported: InvalidSpec (the object could not be read), InvalidName, DuplicateName,
// UnknownParent, Cycle, NegativeQuota, NegativeLimit, QuotaAboveLimit, NegativeWeight,
// InvalidWeight, ParentInvalid (blocking); and the warnings ChildrenQuotaExceedParent,
// DefaultQueueNotLeaf.
QueueTree QueueTree::build(std::span<const QueueSpec> specs, ResourceRegistry& registry) {
  QueueTree tree;
  for (const auto& spec : specs) {
    for (const auto& entry : spec.resources) registry.intern(entry.first);
  }

  // 1. Names. A name used twice is ambiguous (which spec is meant, which one do children hang
  // under?), so every spec carrying it is left out rather than silently picking one.
  std::vector<Candidate> candidates(specs.size());
  std::map<std::string_view, std::vector<size_t>> by_name;
  for (size_t i = 0; i < specs.size(); ++i) {
    candidates[i].spec = &specs[i];
    by_name[specs[i].name].push_back(i);
  }
  for (const auto& [name, indices] : by_name) {
    if (name.empty()) {
      for (size_t i : indices) {
        candidates[i].own.push_back({"", "InvalidName", "a Queue needs a non-empty name", true});
      }
    } else if (indices.size() > 1) {
      for (size_t i : indices) {
        candidates[i].own.push_back(
            {std::string(name), "DuplicateName",
             fmt::format("{} Queues are named \"{}\"; none of them is used", indices.size(), name),
             true});
      }
    }
  }

  // 2. Own numbers and parent links.
  for (size_t i = 0; i < specs.size(); ++i) {
    Candidate& candidate = candidates[i];
    const QueueSpec& spec = specs[i];
    for (auto& problem : check_resources(spec)) candidate.own.push_back(std::move(problem));
    if (spec.parent.empty()) continue;
    if (spec.parent == spec.name) {
      candidate.own.push_back(
          {spec.name, "Cycle", fmt::format("queue \"{}\" is its own parent", spec.name), true});
      continue;
    }
    const auto found = by_name.find(spec.parent);
    if (found == by_name.end()) {
      candidate.own.push_back({spec.name, "UnknownParent",
                               fmt::format("parent queue \"{}\" does not exist", spec.parent),
                               true});
    } else {
      // A duplicated parent name points at the first spec, which is blocked, so the child ends up
      // ParentInvalid below.
      candidate.parent = found->second.front();
    }
  }

  // 3. Cycles: walk each parent chain with three colours; every queue on a loop gets "Cycle".
  {
    enum class Mark : uint8_t { kUnseen, kOnPath, kDone };
    std::vector<Mark> marks(candidates.size(), Mark::kUnseen);
    std::vector<size_t> path;
    for (size_t start = 0; start < candidates.size(); ++start) {
      path.clear();
      size_t at = start;
      while (at != kNone && marks[at] == Mark::kUnseen) {
        marks[at] = Mark::kOnPath;
        path.push_back(at);
        at = candidates[at].parent;
      }
      if (at != kNone && marks[at] == Mark::kOnPath) {
        const auto loop_start = std::find(path.begin(), path.end(), at);
        std::string loop;
        for (auto it = loop_start; it != path.end(); ++it) {
          loop += fmt::format("{} -> ", candidates[*it].spec->name);
        }
        loop += candidates[at].spec->name;
        for (auto it = loop_start; it != path.end(); ++it) {
          Candidate& member = candidates[*it];
          member.own.push_back({member.spec->name, "Cycle",
                                fmt::format("queue is on a parent cycle: {}", loop), true});
        }
      }
      for (size_t i : path) marks[i] = Mark::kDone;
    }
  }

  // 4. Blocking spreads down: a queue is blocked by its own problem or by its nearest blocked
  // ancestor. Parent chains are acyclic outside the queues marked Cycle, which block themselves,
  // so the memoised walk terminates.
  {
    std::vector<uint8_t> resolved(candidates.size(), 0);
    std::vector<size_t> path;
    for (size_t start = 0; start < candidates.size(); ++start) {
      path.clear();
      size_t at = start;
      while (at != kNone && !resolved[at] && candidates[at].own.empty()) {
        path.push_back(at);
        at = candidates[at].parent;
      }
      size_t cause = kNone;
      if (at != kNone) {
        if (!resolved[at]) {
          resolved[at] = 1;
          candidates[at].blocked = true;
          candidates[at].blocked_by = at;
        }
        cause = candidates[at].blocked_by;
      }
      for (size_t i : path) {
        resolved[i] = 1;
        candidates[i].blocked = cause != kNone;
        candidates[i].blocked_by = cause;
      }
    }
  }

  // Problems are reported per queue name, the queue's own first, so the output does not depend on
  // the order the specs arrived in (informers list in any order).
  std::vector<size_t> report_order(candidates.size());
  for (size_t i = 0; i < report_order.size(); ++i) report_order[i] = i;
  std::stable_sort(report_order.begin(), report_order.end(), [&](size_t a, size_t b) {
    return candidates[a].spec->name < candidates[b].spec->name;
  });
  for (size_t i : report_order) {
    const Candidate& candidate = candidates[i];
    tree.problems_.insert(tree.problems_.end(), candidate.own.begin(), candidate.own.end());
    if (candidate.blocked && candidate.blocked_by != i) {
      const Candidate& cause = candidates[candidate.blocked_by];
      tree.problems_.push_back({candidate.spec->name, "ParentInvalid",
                                fmt::format("ancestor queue \"{}\" is not usable ({})",
                                            cause.spec->name, cause.own.front().reason),
                                true});
    }
  }

  // 5. Lay the valid queues out in depth-first pre-order, siblings by name: parents come before
  // children and every subtree is a contiguous range of indices.
  std::vector<std::vector<size_t>> children_of(candidates.size());
  std::vector<size_t> valid_roots;
  for (size_t i : report_order) {  // by name, so the child lists come out sorted
    if (candidates[i].blocked) continue;
    if (candidates[i].parent == kNone) {
      valid_roots.push_back(i);
    } else {
      children_of[candidates[i].parent].push_back(i);
    }
  }

  const size_t resource_count = registry.size();
  auto make_node = [&](const QueueSpec& spec, QueueIndex parent, uint32_t depth) {
    QueueNode node;
    node.name = spec.name;
    node.parent = parent;
    node.priority = spec.priority;
    node.depth = depth;
    node.over_quota_weight.assign(resource_count, 1.0);
    for (size_t r = 0; r < resource_count; ++r) {
      node.limit.set(static_cast<ResourceId>(r), kUnlimited);
    }
    for (const auto& [resource, values] : spec.resources) {
      const ResourceId id = *registry.find(resource);
      node.quota.set(id, values.quota);
      if (values.limit) node.limit.set(id, *values.limit);
      node.over_quota_weight[id] = values.over_quota_weight;
    }
    return node;
  };

  // Roots and the implicit default are siblings sorted by name.
  struct Pending {
    size_t candidate;  // kNone: the implicit default queue
    std::string_view name;
  };
  std::vector<Pending> roots;
  bool default_is_valid = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].blocked && candidates[i].spec->name == kDefaultQueueName) {
      default_is_valid = true;
    }
  }
  roots.reserve(valid_roots.size() + 1);
  for (size_t i : valid_roots) roots.push_back({i, candidates[i].spec->name});
  if (!default_is_valid) {
    roots.push_back({kNone, kDefaultQueueName});
    std::stable_sort(roots.begin(), roots.end(),
                     [](const Pending& a, const Pending& b) { return a.name < b.name; });
  }

  QueueSpec implicit_default;
  implicit_default.name = std::string(kDefaultQueueName);
  std::vector<std::pair<size_t, QueueIndex>> stack;  // (candidate, parent node)
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) {
    stack.emplace_back(it->candidate, kNoQueue);
  }
  while (!stack.empty()) {
    const auto [candidate, parent] = stack.back();
    stack.pop_back();
    const QueueSpec& spec = candidate == kNone ? implicit_default : *candidates[candidate].spec;
    const uint32_t depth = parent == kNoQueue ? 0 : tree.nodes_[parent].depth + 1;
    const auto index = static_cast<QueueIndex>(tree.nodes_.size());
    tree.nodes_.push_back(make_node(spec, parent, depth));
    tree.nodes_.back().implicit = candidate == kNone;
    if (parent == kNoQueue) {
      tree.roots_.push_back(index);
    } else {
      tree.nodes_[parent].children.push_back(index);
    }
    if (candidate == kNone) continue;
    const auto& kids = children_of[candidate];
    for (auto kid = kids.rbegin(); kid != kids.rend(); ++kid) stack.emplace_back(*kid, index);
  }
  tree.top_down_.resize(tree.nodes_.size());
  for (QueueIndex i = 0; i < tree.nodes_.size(); ++i) {
    tree.top_down_[i] = i;
    tree.by_name_.emplace(tree.nodes_[i].name, i);
  }
  tree.default_queue_ = *tree.find(kDefaultQueueName);

  // 6. Children's quotas against the parent's.
  //  - A parent with no quota for a resource (absent, or 0: a spec cannot tell them apart, and
  //    "research: {gpu: {limit: 80}}" must not wipe out its children's guarantees) is a grouping
  //    for it: its effective quota is the sum of its children's, capped at its own limit, so the
  //    children's guarantees hold through it.
  //  - A parent with a non-zero quota is a promise about the whole subtree: when the children's
  //    quotas sum above it, that is reported as ChildrenQuotaExceedParent (a warning; the queues
  //    keep working) and the children are scaled down in proportion, so the guarantees handed
  //    out below never exceed what the parent itself is guaranteed.
  // Bottom-up roll-up first (children have larger indices than parents), then top-down scaling.
  std::vector<uint8_t> own_quota(tree.nodes_.size() * resource_count, 0);
  for (size_t q = 0; q < tree.nodes_.size(); ++q) {
    for (size_t r = 0; r < resource_count; ++r) {
      own_quota[q * resource_count + r] = tree.nodes_[q].quota[static_cast<ResourceId>(r)] > 0;
    }
  }
  const auto sets = [&](QueueIndex q, size_t r) { return own_quota[q * resource_count + r] != 0; };
  const auto children_quota = [&](const QueueNode& node, ResourceId id) {
    int64_t sum = 0;
    for (QueueIndex child : node.children) sum = saturating_add(sum, tree.nodes_[child].quota[id]);
    return sum;
  };
  std::vector<std::vector<std::string>> exceeded(tree.nodes_.size());
  for (size_t q = tree.nodes_.size(); q-- > 0;) {
    QueueNode& node = tree.nodes_[q];
    if (node.is_leaf()) continue;
    for (size_t r = 0; r < resource_count; ++r) {
      if (sets(static_cast<QueueIndex>(q), r)) continue;
      const auto id = static_cast<ResourceId>(r);
      const int64_t sum = children_quota(node, id);
      const int64_t limit = node.limit_of(id);
      if (sum > limit) {
        exceeded[q].push_back(
            fmt::format("children's {} quotas sum to {}, above the parent's limit {}",
                        registry.name(id), show(sum, registry, id), show(limit, registry, id)));
      }
      node.quota.set(id, std::min(sum, limit));
    }
  }
  for (size_t q = 0; q < tree.nodes_.size(); ++q) {
    const QueueNode& node = tree.nodes_[q];
    for (size_t r = 0; r < resource_count; ++r) {
      const auto id = static_cast<ResourceId>(r);
      const int64_t sum = children_quota(node, id);
      const int64_t available = node.quota[id];
      if (sum <= available) continue;
      if (sets(static_cast<QueueIndex>(q), r)) {
        exceeded[q].push_back(fmt::format("children's {} quotas sum to {}, above the parent's {}",
                                          registry.name(id), show(sum, registry, id),
                                          show(available, registry, id)));
      }
      for (QueueIndex child : node.children) {
        QueueNode& kid = tree.nodes_[child];
        kid.quota.set(id, scale_down(kid.quota[id], available, sum));
      }
    }
  }
  std::vector<QueueProblem> warnings;
  for (size_t q = 0; q < tree.nodes_.size(); ++q) {
    if (exceeded[q].empty()) continue;
    std::string message;
    for (const auto& part : exceeded[q]) message += (message.empty() ? "" : "; ") + part;
    message += "; children's quotas are scaled down in proportion";
    warnings.push_back({tree.nodes_[q].name, "ChildrenQuotaExceedParent", message, false});
  }

  // The default queue receives pods directly, so it has to be a leaf.
  const QueueNode& default_node = tree.nodes_[tree.default_queue_];
  if (!default_node.is_leaf()) {
    warnings.push_back({default_node.name, "DefaultQueueNotLeaf",
                        "queue \"default\" has children; pods without a queue label cannot be "
                        "scheduled until it is a leaf",
                        false});
    tree.default_queue_ = kNoQueue;
  }

  // Merge the warnings into the per-name order.
  for (auto& warning : warnings) tree.problems_.push_back(std::move(warning));
  std::stable_sort(tree.problems_.begin(), tree.problems_.end(),
                   [](const QueueProblem& a, const QueueProblem& b) { return a.queue < b.queue; });
  return tree;
}

std::optional<QueueIndex> QueueTree::find(std::string_view name) const {
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end()) return it->second;
  return std::nullopt;
}

const QueueProblem* QueueTree::problem_of(std::string_view name) const {
  for (const auto& problem : problems_) {
    if (problem.blocking && problem.queue == name) return &problem;
  }
  return nullptr;
}

}  // namespace fairway
