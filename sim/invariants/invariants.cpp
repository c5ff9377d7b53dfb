#include "sim/invariants/invariants.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_set>

#include "queues/quantity.h"

namespace fairway::invariants {
namespace {

using Json = nlohmann::json;
using Resources = std::map<std::string, int64_t>;

// Tolerant accessors: the checker must survive any object the API server holds.
const Json& field(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}
std::string text(const Json& object, const char* key) {
  const Json& value = field(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}
std::string meta(const Json& object, const char* key) {
  return text(field(object, "metadata"), key);
}
std::string string_in(const Json& map, const std::string& key) {
  if (!map.is_object()) return {};
  auto it = map.find(key);
  return it != map.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::string label(const Json& object, const std::string& key) {
  return string_in(field(field(object, "metadata"), "labels"), key);
}
std::string annotation(const Json& object, const std::string& key) {
  return string_in(field(field(object, "metadata"), "annotations"), key);
}
std::string label_or_annotation(const Json& object, const std::string& key) {
  std::string value = label(object, key);
  return value.empty() ? annotation(object, key) : value;
}
std::string pod_key(const Json& pod) {
  return meta(pod, "namespace") + "/" + meta(pod, "name");
}

std::string quantity_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number()) return fmt::format("{}", value.get<double>());
  return {};
}

Resources resource_list(const Json& list) {
  Resources out;
  if (!list.is_object()) return out;
  for (auto it = list.begin(); it != list.end(); ++it) {
    auto parsed = parse_resource_quantity(it.key(), quantity_text(it.value()));
    if (parsed && *parsed != 0) out[it.key()] = *parsed;
  }
  return out;
}

void add_into(Resources& total, const Resources& addend) {
  for (const auto& [name, value] : addend) total[name] += value;
}
void max_into(Resources& total, const Resources& other) {
  for (const auto& [name, value] : other) total[name] = std::max(total[name], value);
}

Resources container_requests(const Json& container) {
  const Json& resources = field(container, "resources");
  Resources requests = resource_list(field(resources, "requests"));
  for (const auto& [name, limit] : resource_list(field(resources, "limits"))) {
    requests.try_emplace(name, limit);
  }
  return requests;
}

bool is_terminated(const Json& pod) {
  const std::string phase = text(field(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed";
}
bool is_deleting(const Json& pod) {
  return field(field(pod, "metadata"), "deletionTimestamp").is_string();
}
std::string node_of(const Json& pod) {
  return text(field(pod, "spec"), "nodeName");
}
// A pod that holds resources on a node: bound and not finished (a terminating pod still runs).
bool holds_resources(const Json& pod) {
  return !node_of(pod).empty() && !is_terminated(pod);
}

std::string format_resources(const std::string& name, int64_t canonical) {
  return format_quantity(canonical, canonical_scale(name));
}

struct QueueInfo {
  std::string parent;
  Resources limits;
};

std::unordered_map<std::string, QueueInfo> read_queues(const std::vector<Json>& queues) {
  std::unordered_map<std::string, QueueInfo> out;
  for (const Json& queue : queues) {
    QueueInfo info;
    const Json& spec = field(queue, "spec");
    info.parent = text(spec, "parent");
    const Json& resources = field(spec, "resources");
    if (resources.is_object()) {
      for (auto it = resources.begin(); it != resources.end(); ++it) {
        const Json& limit = field(it.value(), "limit");
        if (limit.is_null()) continue;
        if (auto parsed = parse_resource_quantity(it.key(), quantity_text(limit))) {
          info.limits[it.key()] = *parsed;
        }
      }
    }
    out[meta(queue, "name")] = std::move(info);
  }
  return out;
}

// The queue and its ancestors, nearest first; stops at cycles and unknown parents.
std::vector<std::string> queue_chain(const std::unordered_map<std::string, QueueInfo>& queues,
                                     const std::string& leaf) {
  std::vector<std::string> chain;
  std::string current = leaf;
  while (!current.empty() && std::find(chain.begin(), chain.end(), current) == chain.end()) {
    chain.push_back(current);
    auto it = queues.find(current);
    if (it == queues.end()) break;
    current = it->second.parent;
  }
  return chain;
}

struct GangInfo {
  int64_t min_member = 0;  // 0: unknown, not checked
  std::string queue;
};

class Reader {
 public:
  Reader(const CheckerOptions& options, const Snapshot& snapshot) : options_(options) {
    for (const Json& group : snapshot.pod_groups) {
      GangInfo info;
      const Json& spec = field(group, "spec");
      const Json& min = field(spec, "minMember");
      if (min.is_number_integer()) info.min_member = min.get<int64_t>();
      info.queue = text(spec, "queue");
      groups_[meta(group, "namespace") + "/" + meta(group, "name")] = std::move(info);
    }
  }

  // "ns/group" or empty. Pod group lookup is namespace-scoped, as in the scheduler.
  std::string gang_of(const Json& pod) const {
    std::string group = annotation(pod, "fairway.dev/pod-group");
    if (group.empty()) group = label_or_annotation(pod, "pod-group-name");
    return group.empty() ? std::string() : meta(pod, "namespace") + "/" + group;
  }

  GangInfo gang_info(const std::string& gang, const Json& any_pod) const {
    GangInfo info;
    if (auto it = groups_.find(gang); it != groups_.end()) info = it->second;
    if (info.min_member == 0) {
      const std::string min = annotation(any_pod, "fairway.dev/min-member");
      int64_t value = 0;
      if (std::from_chars(min.data(), min.data() + min.size(), value).ec == std::errc()) {
        info.min_member = value;
      }
    }
    return info;
  }

  std::string queue_of(const Json& pod) const {
    const std::string gang = gang_of(pod);
    if (!gang.empty()) {
      if (auto it = groups_.find(gang); it != groups_.end() && !it->second.queue.empty()) {
        return it->second.queue;
      }
    }
    for (const std::string& key : options_.queue_label_keys) {
      if (std::string queue = label(pod, key); !queue.empty()) return queue;
    }
    for (const std::string& key : options_.queue_label_keys) {
      if (std::string queue = annotation(pod, key); !queue.empty()) return queue;
    }
    return options_.default_queue;
  }

  bool ours(const Json& pod) const {
    return text(field(pod, "spec"), "schedulerName") == options_.scheduler_name;
  }

 private:
  const CheckerOptions& options_;
  std::unordered_map<std::string, GangInfo> groups_;
};

double parse_double(const std::string& text) {
  double value = 0;
  auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() ? value : 0;
}

struct NodeInfo {
  Resources allocatable;
  Resources used;
  bool usable = false;  // ready, schedulable, untainted (for liveness only)
  const Json* labels = nullptr;
};

std::unordered_map<std::string, NodeInfo> read_nodes(const std::vector<Json>& nodes) {
  std::unordered_map<std::string, NodeInfo> out;
  for (const Json& node : nodes) {
    NodeInfo info;
    info.allocatable = resource_list(field(field(node, "status"), "allocatable"));
    bool ready = false;
    const Json& conditions = field(field(node, "status"), "conditions");
    if (conditions.is_array()) {
      for (const Json& condition : conditions) {
        if (text(condition, "type") == "Ready") ready = text(condition, "status") == "True";
      }
    }
    const Json& spec = field(node, "spec");
    const bool cordoned =
        field(spec, "unschedulable").is_boolean() && field(spec, "unschedulable").get<bool>();
    const Json& taints = field(spec, "taints");
    const bool tainted = taints.is_array() && !taints.empty();
    info.usable = ready && !cordoned && !tainted;
    info.labels = &field(field(node, "metadata"), "labels");
    out[meta(node, "name")] = std::move(info);
  }
  return out;
}

// What a pod counts against its queue: its requests, plus for a bound pod on a shared GPU its
// share of the GPU (fraction, or its GPU memory over the node's, per device), in milli-GPUs.
Resources queue_charge(const Json& pod, const std::unordered_map<std::string, NodeInfo>& nodes) {
  Resources charge = pod_requests(pod);
  double share = parse_double(annotation(pod, kGpuFractionKey));
  if (share <= 0) {
    const double memory_mib = parse_double(annotation(pod, kGpuMemoryKey));
    auto node = nodes.find(node_of(pod));
    const double gpu_mib = node == nodes.end() || node->second.labels == nullptr
                               ? 0
                               : parse_double(string_in(*node->second.labels, kNodeGpuMemoryLabel));
    if (memory_mib > 0 && gpu_mib > 0) share = memory_mib / gpu_mib;
  }
  if (share > 0) {
    const double devices = std::max(1.0, parse_double(annotation(pod, kGpuNumDevicesKey)));
    charge["nvidia.com/gpu"] +=
        static_cast<int64_t>(std::ceil(share * 1000 - 1e-9)) * static_cast<int64_t>(devices);
  }
  return charge;
}

}  // namespace

std::map<std::string, int64_t> pod_requests(const Json& pod) {
  const Json& spec = field(pod, "spec");
  Resources total;
  const Json& containers = field(spec, "containers");
  if (containers.is_array()) {
    for (const Json& container : containers) add_into(total, container_requests(container));
  }
  Resources sidecars;
  Resources init_peak;
  const Json& inits = field(spec, "initContainers");
  if (inits.is_array()) {
    for (const Json& container : inits) {
      Resources requests = container_requests(container);
      if (text(container, "restartPolicy") == "Always") {
        add_into(total, requests);
        add_into(sidecars, requests);
        max_into(init_peak, sidecars);
      } else {
        add_into(requests, sidecars);
        max_into(init_peak, requests);
      }
    }
  }
  max_into(total, init_peak);
  add_into(total, resource_list(field(spec, "overhead")));
  total["pods"] += 1000;  // one pod, in milli-units
  std::erase_if(total, [](const auto& entry) { return entry.second == 0; });
  return total;
}

Checker::Checker(CheckerOptions options) : options_(std::move(options)) {}

std::vector<Violation> Checker::check(const Snapshot& snapshot) {
  std::vector<Violation> out;
  const Reader reader(options_, snapshot);
  ++snapshots_checked_;
  pods_checked_ += snapshot.pods.size();

  // node-overcommit
  auto nodes = read_nodes(snapshot.nodes);
  for (const Json& pod : snapshot.pods) {
    if (!holds_resources(pod)) continue;
    auto it = nodes.find(node_of(pod));
    if (it == nodes.end()) continue;  // a deleted node: nothing to over-commit
    add_into(it->second.used, pod_requests(pod));
  }
  for (const auto& [name, node] : nodes) {
    for (const auto& [resource, used] : node.used) {
      auto alloc = node.allocatable.find(resource);
      const int64_t allocatable = alloc == node.allocatable.end() ? 0 : alloc->second;
      // A node that does not declare "pods" has no pod limit we can check.
      if (resource == "pods" && alloc == node.allocatable.end()) continue;
      if (used > allocatable) {
        out.push_back({"node-overcommit", "node/" + name,
                       fmt::format("{} requested {} > allocatable {}", resource,
                                   format_resources(resource, used),
                                   format_resources(resource, allocatable))});
      }
    }
  }

  // double-bind: the first node a pod uid was seen on never changes.
  std::unordered_set<std::string> seen_uids;
  for (const Json& pod : snapshot.pods) {
    const std::string uid = meta(pod, "uid");
    const std::string node = node_of(pod);
    if (uid.empty()) continue;
    seen_uids.insert(uid);
    if (node.empty()) continue;
    auto [it, inserted] = first_node_.try_emplace(uid, node);
    if (!inserted && it->second != node) {
      out.push_back({"double-bind", pod_key(pod),
                     fmt::format("bound to {} and later to {}", it->second, node)});
    }
  }
  std::erase_if(first_node_, [&](const auto& entry) { return !seen_uids.contains(entry.first); });

  // gang-partial
  std::unordered_map<std::string, std::pair<int64_t, const Json*>> gangs;  // bound count, a pod
  for (const Json& pod : snapshot.pods) {
    const std::string gang = reader.gang_of(pod);
    if (gang.empty() || !reader.ours(pod)) continue;
    auto& [bound, any] = gangs[gang];
    if (any == nullptr) any = &pod;
    if (!node_of(pod).empty() && !is_deleting(pod)) ++bound;
  }
  std::unordered_set<std::string> partial_now;
  for (const auto& [gang, entry] : gangs) {
    const GangInfo info = reader.gang_info(gang, *entry.second);
    if (entry.first == 0 || info.min_member <= 0 || entry.first >= info.min_member) continue;
    partial_now.insert(gang);
    auto [it, inserted] = gang_partial_since_.try_emplace(gang, snapshot.taken_ms);
    if (snapshot.taken_ms - it->second > options_.gang_grace_ms) {
      out.push_back({"gang-partial", "gang/" + gang,
                     fmt::format("{} of minMember {} pods bound for {} ms", entry.first,
                                 info.min_member, snapshot.taken_ms - it->second)});
    }
  }
  std::erase_if(gang_partial_since_,
                [&](const auto& entry) { return !partial_now.contains(entry.first); });

  // queue-limit: the requests of each queue subtree's bound pods against its limits.
  const auto queues = read_queues(snapshot.queues);
  std::unordered_map<std::string, Resources> queue_used;
  for (const Json& pod : snapshot.pods) {
    if (!reader.ours(pod) || !holds_resources(pod)) continue;
    const Resources charge = queue_charge(pod, nodes);
    for (const std::string& queue : queue_chain(queues, reader.queue_of(pod))) {
      add_into(queue_used[queue], charge);
    }
  }
  for (const auto& [name, queue] : queues) {
    auto used = queue_used.find(name);
    if (used == queue_used.end()) continue;
    for (const auto& [resource, limit] : queue.limits) {
      auto it = used->second.find(resource);
      if (it != used->second.end() && it->second > limit) {
        out.push_back({"queue-limit", "queue/" + name,
                       fmt::format("{} allocated {} > limit {}", resource,
                                   format_resources(resource, it->second),
                                   format_resources(resource, limit))});
      }
    }
  }

  // Shared GPUs: reservation pods and their sharers, by GPU group.
  struct Group {
    std::vector<const Json*> reservations;  // live reservation pods of the group
    std::vector<const Json*> sharers;       // bound, live sharers
  };
  std::map<std::string, Group> groups;
  for (const Json& pod : snapshot.pods) {
    const std::string group = label_or_annotation(pod, kGpuGroupKey);
    if (group.empty() || is_terminated(pod)) continue;
    if (meta(pod, "namespace") == options_.reservation_namespace) {
      groups[group].reservations.push_back(&pod);
    } else if (!node_of(pod).empty()) {
      groups[group].sharers.push_back(&pod);
    }
  }
  std::unordered_set<std::string> incomplete_now;
  auto incomplete = [&](const std::string& key, const char* invariant, const std::string& object,
                        const std::string& message) {
    incomplete_now.insert(key);
    auto [it, inserted] = reservation_incomplete_since_.try_emplace(key, snapshot.taken_ms);
    if (snapshot.taken_ms - it->second > options_.reservation_grace_ms) {
      out.push_back({invariant, object, message});
    }
  };
  for (const auto& [name, group] : groups) {
    if (group.sharers.empty()) {
      incomplete(
          "orphan/" + name, "reservation-orphan", "gpu-group/" + name,
          fmt::format("reservation pod {} has no sharer", pod_key(*group.reservations.front())));
    }
    if (group.reservations.size() > 1) {
      out.push_back(
          {"reservation-orphan", "gpu-group/" + name,
           fmt::format("{} reservation pods for one GPU group", group.reservations.size())});
    }
    double fraction = 0;
    int64_t memory_mib = 0;
    for (const Json* sharer : group.sharers) {
      const bool served =
          std::any_of(group.reservations.begin(), group.reservations.end(),
                      [&](const Json* r) { return node_of(*r) == node_of(*sharer); });
      if (!served) {
        incomplete("sharer/" + pod_key(*sharer), "sharer-orphan", pod_key(*sharer),
                   fmt::format("shares GPU group {} on {} without its reservation pod there", name,
                               node_of(*sharer)));
      }
      fraction += parse_double(annotation(*sharer, kGpuFractionKey));
      memory_mib += static_cast<int64_t>(parse_double(annotation(*sharer, kGpuMemoryKey)));
    }
    if (fraction > 1.0 + 1e-9) {
      out.push_back({"gpu-share-overcommit", "gpu-group/" + name,
                     fmt::format("sharers' fractions add up to {:.3f} of one GPU", fraction)});
    }
    if (memory_mib > 0 && !group.sharers.empty()) {
      auto node = nodes.find(node_of(*group.sharers.front()));
      const double gpu_mib =
          node == nodes.end() ? 0
                              : parse_double(string_in(*node->second.labels, kNodeGpuMemoryLabel));
      // Fraction sharers use fraction × GPU memory; both kinds may share one GPU.
      const double total_mib = static_cast<double>(memory_mib) + fraction * gpu_mib;
      if (gpu_mib > 0 && total_mib > gpu_mib + 1e-6) {
        out.push_back(
            {"gpu-share-overcommit", "gpu-group/" + name,
             fmt::format("sharers use {:.0f} MiB of a {:.0f} MiB GPU", total_mib, gpu_mib)});
      }
    }
  }
  std::erase_if(reservation_incomplete_since_,
                [&](const auto& entry) { return !incomplete_now.contains(entry.first); });
  return out;
}

std::vector<std::string> Checker::pending_feasible(const Snapshot& snapshot) const {
  const Reader reader(options_, snapshot);
  auto nodes = read_nodes(snapshot.nodes);
  const auto queues = read_queues(snapshot.queues);
  std::unordered_map<std::string, Resources> queue_used;
  for (const Json& pod : snapshot.pods) {
    if (!holds_resources(pod)) continue;
    const Resources requests = pod_requests(pod);
    if (auto it = nodes.find(node_of(pod)); it != nodes.end()) add_into(it->second.used, requests);
    if (!reader.ours(pod)) continue;
    const Resources charge = queue_charge(pod, nodes);
    for (const std::string& queue : queue_chain(queues, reader.queue_of(pod))) {
      add_into(queue_used[queue], charge);
    }
  }
  auto fits = [](const Resources& request, const Resources& used, const Resources& capacity) {
    for (const auto& [name, value] : request) {
      auto cap = capacity.find(name);
      if (cap == capacity.end()) {
        if (name == "pods") continue;
        return false;
      }
      auto u = used.find(name);
      if ((u == used.end() ? 0 : u->second) + value > cap->second) return false;
    }
    return true;
  };

  std::vector<std::string> out;
  for (const Json& pod : snapshot.pods) {
    if (!reader.ours(pod) || !node_of(pod).empty() || is_deleting(pod) || is_terminated(pod))
      continue;
    if (!reader.gang_of(pod).empty() || !label_or_annotation(pod, kGpuGroupKey).empty() ||
        !annotation(pod, kGpuFractionKey).empty() || !annotation(pod, kGpuMemoryKey).empty()) {
      continue;
    }
    const Json& spec = field(pod, "spec");
    if (!field(spec, "affinity").is_null()) continue;
    const Resources requests = pod_requests(pod);
    // The queue chain must exist and have room: a pod naming an unknown queue is not feasible.
    const std::string queue = reader.queue_of(pod);
    if (queue != options_.default_queue && !queues.contains(queue)) continue;
    bool queue_room = true;
    for (const std::string& q : queue_chain(queues, queue)) {
      auto info = queues.find(q);
      if (info == queues.end()) continue;
      const Resources& used = queue_used[q];
      for (const auto& [resource, limit] : info->second.limits) {
        auto r = requests.find(resource);
        auto u = used.find(resource);
        if (r != requests.end() && (u == used.end() ? 0 : u->second) + r->second > limit)
          queue_room = false;
      }
    }
    if (!queue_room) continue;
    const Json& selector = field(spec, "nodeSelector");
    for (const auto& [name, node] : nodes) {
      if (!node.usable || !fits(requests, node.used, node.allocatable)) continue;
      bool matches = true;
      if (selector.is_object()) {
        for (auto it = selector.begin(); it != selector.end(); ++it) {
          if (!it->is_string() || string_in(*node.labels, it.key()) != it->get<std::string>())
            matches = false;
        }
      }
      if (matches) {
        out.push_back(pod_key(pod));
        break;
      }
    }
  }
  return out;
}

}  // namespace fairway::invariants
