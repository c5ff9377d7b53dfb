#include "sim/scenario.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <initializer_list>
#include <limits>
#include <set>
#include <utility>

#include "queues/quantity.h"
#include "queues/queue_tree.h"
#include "scheduler/state/gangs.h"
#include "scheduler/state/pod_intent.h"

namespace fairway::sim {
namespace {

// Simulated times stay far from int64 overflow: a scenario longer than ~30 years is a typo.
constexpr double kMaxSeconds = 1e9;
constexpr int64_t kDefaultPodsPerNode = 110;

// Error with the path of the field that caused it.
using Status = tl::expected<void, std::string>;

tl::unexpected<std::string> fail(const std::string& path, const std::string& message) {
  return tl::unexpected(fmt::format("{}: {}", path, message));
}

std::string join(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : fmt::format("{}.{}", path, field);
}

std::string item(const std::string& path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

const char* kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "undefined";
}

// Rejects keys outside `known`, so a misspelt field is an error instead of a silent default.
Status check_fields(const YAML::Node& map, const std::string& path,
                    std::initializer_list<std::string_view> known) {
  if (!map.IsMap()) return fail(path, fmt::format("expected a map, got {}", kind_name(map)));
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) return fail(path, "keys must be strings");
    const std::string key = entry.first.Scalar();
    bool found = false;
    for (std::string_view k : known) found = found || k == key;
    if (!found) {
      std::string list;
      for (std::string_view k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
      return fail(join(path, key), fmt::format("unknown field (known: {})", list));
    }
  }
  return {};
}

tl::expected<std::string, std::string> read_string(const YAML::Node& node,
                                                   const std::string& path) {
  if (!node.IsScalar())
    return fail(path, fmt::format("expected a string, got {}", kind_name(node)));
  return node.Scalar();
}

tl::expected<int64_t, std::string> read_int(const YAML::Node& node, const std::string& path,
                                            int64_t min, int64_t max) {
  long long value = 0;
  if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value)) {
    return fail(path, fmt::format("expected an integer, got {}",
                                  node.IsScalar() ? fmt::format("\"{}\"", node.Scalar())
                                                  : std::string(kind_name(node))));
  }
  if (value < min || value > max) {
    return fail(path, fmt::format("{} is out of range [{}, {}]", value, min, max));
  }
  return static_cast<int64_t>(value);
}

tl::expected<double, std::string> read_number(const YAML::Node& node, const std::string& path) {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
    return fail(path, fmt::format("expected a number, got {}",
                                  node.IsScalar() ? fmt::format("\"{}\"", node.Scalar())
                                                  : std::string(kind_name(node))));
  }
  return value;
}

// Seconds (a number, fractions allowed) to milliseconds.
tl::expected<TimeMs, std::string> read_seconds(const YAML::Node& node, const std::string& path,
                                               bool allow_zero) {
  auto value = read_number(node, path);
  if (!value) return tl::unexpected(value.error());
  if (*value < 0 || (!allow_zero && *value == 0) || *value > kMaxSeconds) {
    return fail(path, fmt::format("{} seconds: must be {} and at most {:g}", node.Scalar(),
                                  allow_zero ? ">= 0" : "> 0", kMaxSeconds));
  }
  return static_cast<TimeMs>(std::llround(*value * 1000.0));
}

tl::expected<Labels, std::string> read_string_map(const YAML::Node& node, const std::string& path) {
  Labels labels;
  if (node.IsNull()) return labels;
  if (!node.IsMap()) return fail(path, fmt::format("expected a map, got {}", kind_name(node)));
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    auto value = read_string(entry.second, join(path, key));
    if (!value) return tl::unexpected(value.error());
    labels[key] = *value;
  }
  return labels;
}

tl::expected<ResourceList, std::string> read_resources(const YAML::Node& node,
                                                       const std::string& path) {
  ResourceList resources;
  if (node.IsNull()) return resources;
  if (!node.IsMap()) return fail(path, fmt::format("expected a map, got {}", kind_name(node)));
  for (const auto& entry : node) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    const std::string field = join(path, name);
    auto text = read_string(entry.second, field);
    if (!text) return tl::unexpected(text.error());
    auto quantity = parse_resource_quantity(name, *text);
    if (!quantity) return fail(field, quantity.error());
    if (*quantity < 0)
      return fail(field, fmt::format("quantity \"{}\": must not be negative", *text));
    resources[name] = *quantity;
  }
  return resources;
}

tl::expected<TaintEffect, std::string> read_effect(const YAML::Node& node,
                                                   const std::string& path) {
  auto text = read_string(node, path);
  if (!text) return tl::unexpected(text.error());
  if (*text == "NoSchedule") return TaintEffect::kNoSchedule;
  if (*text == "PreferNoSchedule") return TaintEffect::kPreferNoSchedule;
  if (*text == "NoExecute") return TaintEffect::kNoExecute;
  return fail(path,
              fmt::format("\"{}\": expected NoSchedule, PreferNoSchedule or NoExecute", *text));
}

// Reads `field` of `map` with `reader` into `out` when present.
template <typename T, typename Reader>
Status optional_field(const YAML::Node& map, std::string_view field, const std::string& path,
                      T& out, Reader reader) {
  const YAML::Node node = map[std::string(field)];
  if (!node.IsDefined()) return {};
  auto value = reader(node, join(path, field));
  if (!value) return tl::unexpected(value.error());
  out = std::move(*value);
  return {};
}

template <typename Reader>
Status for_each_item(const YAML::Node& list, const std::string& path, Reader reader) {
  if (!list.IsDefined() || list.IsNull()) return {};
  if (!list.IsSequence())
    return fail(path, fmt::format("expected a list, got {}", kind_name(list)));
  for (size_t i = 0; i < list.size(); ++i) {
    if (auto ok = reader(list[i], item(path, i)); !ok) return ok;
  }
  return {};
}

#define FAIRWAY_TRY(expr)                                \
  do {                                                   \
    if (auto fairway_status_ = (expr); !fairway_status_) \
      return tl::unexpected(fairway_status_.error());    \
  } while (false)

auto int_in(int64_t min, int64_t max) {
  return [min, max](const YAML::Node& node, const std::string& path) {
    return read_int(node, path, min, max);
  };
}

auto seconds(bool allow_zero) {
  return [allow_zero](const YAML::Node& node, const std::string& path) {
    return read_seconds(node, path, allow_zero);
  };
}

tl::expected<Taint, std::string> read_taint(const YAML::Node& node, const std::string& path) {
  FAIRWAY_TRY(check_fields(node, path, {"key", "value", "effect"}));
  Taint taint;
  FAIRWAY_TRY(optional_field(node, "key", path, taint.key, read_string));
  FAIRWAY_TRY(optional_field(node, "value", path, taint.value, read_string));
  FAIRWAY_TRY(optional_field(node, "effect", path, taint.effect, read_effect));
  if (taint.key.empty()) return fail(join(path, "key"), "required");
  return taint;
}

tl::expected<Toleration, std::string> read_toleration(const YAML::Node& node,
                                                      const std::string& path) {
  FAIRWAY_TRY(check_fields(node, path, {"key", "operator", "value", "effect"}));
  Toleration toleration;
  std::string op = "Equal";
  std::optional<TaintEffect> effect;
  FAIRWAY_TRY(optional_field(node, "key", path, toleration.key, read_string));
  FAIRWAY_TRY(optional_field(node, "operator", path, op, read_string));
  FAIRWAY_TRY(optional_field(node, "value", path, toleration.value, read_string));
  FAIRWAY_TRY(optional_field(node, "effect", path, effect, read_effect));
  if (op == "Equal") {
    toleration.op = Toleration::Operator::kEqual;
    if (toleration.key.empty()) return fail(join(path, "key"), "required with operator Equal");
  } else if (op == "Exists") {
    toleration.op = Toleration::Operator::kExists;
  } else {
    return fail(join(path, "operator"), fmt::format("\"{}\": expected Equal or Exists", op));
  }
  toleration.effect = effect;
  return toleration;
}

Status read_node_group(const YAML::Node& node, const std::string& path, Scenario& scenario) {
  FAIRWAY_TRY(check_fields(node, path, {"namePrefix", "count", "labels", "taints", "allocatable"}));
  NodeGroupSpec group;
  group.name_prefix = fmt::format("node-{}-", scenario.node_groups.size());
  FAIRWAY_TRY(optional_field(node, "namePrefix", path, group.name_prefix, read_string));
  int64_t count = 1;
  FAIRWAY_TRY(optional_field(node, "count", path, count, int_in(1, 100'000)));
  group.count = static_cast<int32_t>(count);
  FAIRWAY_TRY(optional_field(node, "labels", path, group.labels, read_string_map));
  FAIRWAY_TRY(for_each_item(node["taints"], join(path, "taints"),
                            [&group](const YAML::Node& taint, const std::string& at) -> Status {
                              auto decoded = read_taint(taint, at);
                              if (!decoded) return tl::unexpected(decoded.error());
                              group.taints.push_back(std::move(*decoded));
                              return {};
                            }));
  FAIRWAY_TRY(optional_field(node, "allocatable", path, group.allocatable, read_resources));
  if (group.allocatable.empty()) return fail(join(path, "allocatable"), "required");
  if (!group.allocatable.contains("pods")) {
    group.allocatable["pods"] = kDefaultPodsPerNode * canonical_scale("pods");
  }
  for (const NodeGroupSpec& other : scenario.node_groups) {
    if (other.name_prefix == group.name_prefix) {
      return fail(join(path, "namePrefix"),
                  fmt::format("\"{}\" is used by another node group", group.name_prefix));
    }
  }
  scenario.node_groups.push_back(std::move(group));
  return {};
}

tl::expected<QueueResourceSpec, std::string> read_queue_resource(const std::string& resource,
                                                                 const YAML::Node& node,
                                                                 const std::string& path) {
  FAIRWAY_TRY(check_fields(node, path, {"quota", "limit", "overQuotaWeight"}));
  QueueResourceSpec spec;
  auto quantity = [&resource](const YAML::Node& value,
                              const std::string& at) -> tl::expected<int64_t, std::string> {
    auto text = read_string(value, at);
    if (!text) return tl::unexpected(text.error());
    auto parsed = parse_resource_quantity(resource, *text);
    if (!parsed) return fail(at, parsed.error());
    if (*parsed < 0) return fail(at, fmt::format("quantity \"{}\": must not be negative", *text));
    return *parsed;
  };
  FAIRWAY_TRY(optional_field(node, "quota", path, spec.quota, quantity));
  FAIRWAY_TRY(optional_field(node, "limit", path, spec.limit, quantity));
  FAIRWAY_TRY(optional_field(node, "overQuotaWeight", path, spec.over_quota_weight, read_number));
  if (spec.over_quota_weight < 0) {
    return fail(join(path, "overQuotaWeight"), "must not be negative");
  }
  return spec;
}

// Durations in Queue specs: seconds as a number, or "90s", "5m", "2h".
tl::expected<int64_t, std::string> read_duration_seconds(const YAML::Node& node,
                                                         const std::string& path) {
  auto text = read_string(node, path);
  if (!text) return tl::unexpected(text.error());
  int64_t unit = 1;
  std::string digits = *text;
  if (!digits.empty() && (digits.back() == 's' || digits.back() == 'm' || digits.back() == 'h')) {
    unit = digits.back() == 'h' ? 3600 : digits.back() == 'm' ? 60 : 1;
    digits.pop_back();
  }
  auto value = read_int(YAML::Node(digits), path, 0, 1'000'000'000);
  if (!value)
    return fail(path, fmt::format("\"{}\": expected seconds or a duration like 5m", *text));
  return *value * unit;
}

Status read_topology_level(const YAML::Node& node, const std::string& path,
                           TopologySpec& topology) {
  FAIRWAY_TRY(check_fields(node, path, {"nodeLabel"}));
  TopologyLevel level;
  FAIRWAY_TRY(optional_field(node, "nodeLabel", path, level.node_label, read_string));
  if (level.node_label.empty()) return fail(join(path, "nodeLabel"), "required");
  topology.levels.push_back(std::move(level));
  return {};
}

// `{name: fabric, levels: [{nodeLabel: rack}, ...]}`: a Topology CR, levels top to bottom.
Status read_topology(const YAML::Node& node, const std::string& path, Scenario& scenario) {
  FAIRWAY_TRY(check_fields(node, path, {"name", "levels"}));
  TopologySpec topology;
  FAIRWAY_TRY(optional_field(node, "name", path, topology.name, read_string));
  if (topology.name.empty()) return fail(join(path, "name"), "required");
  FAIRWAY_TRY(for_each_item(node["levels"], join(path, "levels"),
                            [&topology](const YAML::Node& level, const std::string& at) {
                              return read_topology_level(level, at, topology);
                            }));
  if (topology.levels.empty()) return fail(join(path, "levels"), "at least one level is required");
  scenario.topologies.push_back(std::move(topology));
  return {};
}

// `usage: {halfLife: 24h, strength: 1}`: fair share over time, as the scheduler's flags set it.
Status read_usage(const YAML::Node& node, UsageConfig& usage) {
  if (!node.IsDefined() || node.IsNull()) return {};
  FAIRWAY_TRY(check_fields(node, "usage", {"halfLife", "strength"}));
  int64_t half_life_s = usage.half_life_ms / 1000;
  FAIRWAY_TRY(optional_field(node, "halfLife", "usage", half_life_s, read_duration_seconds));
  if (half_life_s <= 0) return fail("usage.halfLife", "must be positive");
  usage.half_life_ms = half_life_s * 1000;
  FAIRWAY_TRY(optional_field(node, "strength", "usage", usage.strength, read_number));
  if (!(usage.strength >= 0)) return fail("usage.strength", "must not be negative");
  return {};
}

Status read_queue(const YAML::Node& node, const std::string& path, Scenario& scenario) {
  FAIRWAY_TRY(check_fields(node, path,
                           {"name", "parent", "priority", "resources", "preemptMinRuntime",
                            "reclaimMinRuntime", "pastUsage"}));
  QueueSpec queue;
  FAIRWAY_TRY(optional_field(node, "name", path, queue.name, read_string));
  if (queue.name.empty()) return fail(join(path, "name"), "required");
  FAIRWAY_TRY(optional_field(node, "parent", path, queue.parent, read_string));
  int64_t priority = 0;
  FAIRWAY_TRY(optional_field(
      node, "priority", path, priority,
      int_in(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())));
  queue.priority = static_cast<int32_t>(priority);
  FAIRWAY_TRY(optional_field(node, "preemptMinRuntime", path, queue.preempt_min_runtime_seconds,
                             read_duration_seconds));
  FAIRWAY_TRY(optional_field(node, "reclaimMinRuntime", path, queue.reclaim_min_runtime_seconds,
                             read_duration_seconds));
  const YAML::Node resources = node["resources"];
  if (resources.IsDefined() && !resources.IsNull()) {
    const std::string at = join(path, "resources");
    if (!resources.IsMap())
      return fail(at, fmt::format("expected a map, got {}", kind_name(resources)));
    for (const auto& entry : resources) {
      const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "?";
      auto spec = read_queue_resource(name, entry.second, join(at, name));
      if (!spec) return tl::unexpected(spec.error());
      queue.resources[name] = *spec;
    }
  }
  if (const YAML::Node past = node["pastUsage"]; past.IsDefined() && !past.IsNull()) {
    const std::string at = join(path, "pastUsage");
    if (!past.IsMap()) return fail(at, fmt::format("expected a map, got {}", kind_name(past)));
    PastUsage usage;  // at 0: the scenario's start
    for (const auto& entry : past) {
      const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "?";
      auto share = read_number(entry.second, join(at, name));
      if (!share) return tl::unexpected(share.error());
      if (!(*share >= 0 && *share <= 1)) {
        return fail(join(at, name), "a share of the cluster's capacity, from 0 to 1");
      }
      usage.shares[name] = *share;
    }
    queue.past_usage = std::move(usage);
  }
  for (const QueueSpec& other : scenario.queues) {
    if (other.name == queue.name) {
      return fail(join(path, "name"), fmt::format("queue \"{}\" is defined twice", queue.name));
    }
  }
  scenario.queues.push_back(std::move(queue));
  return {};
}

Status read_topology_constraint(const YAML::Node& node, const std::string& path,
                                TopologyConstraint& out) {
  if (!node.IsDefined() || node.IsNull()) return {};
  FAIRWAY_TRY(check_fields(node, path, {"name", "required", "preferred"}));
  FAIRWAY_TRY(optional_field(node, "name", path, out.topology, read_string));
  FAIRWAY_TRY(optional_field(node, "required", path, out.required_level, read_string));
  FAIRWAY_TRY(optional_field(node, "preferred", path, out.preferred_level, read_string));
  return {};
}

Status read_subgroup(const YAML::Node& node, const std::string& path, JobStreamSpec& stream) {
  FAIRWAY_TRY(check_fields(node, path, {"name", "pods", "minMember", "topology"}));
  JobStreamSpec::Part part;
  FAIRWAY_TRY(optional_field(node, "name", path, part.group.name, read_string));
  if (part.group.name.empty()) return fail(join(path, "name"), "required");
  for (const JobStreamSpec::Part& other : stream.subgroups) {
    if (other.group.name == part.group.name) {
      return fail(join(path, "name"),
                  fmt::format("subgroup \"{}\" is defined twice", part.group.name));
    }
  }
  int64_t pods = 1;
  std::optional<int64_t> min_member;
  FAIRWAY_TRY(optional_field(node, "pods", path, pods, int_in(1, 10'000)));
  FAIRWAY_TRY(optional_field(node, "minMember", path, min_member, int_in(1, 10'000)));
  if (min_member && *min_member > pods) {
    return fail(join(path, "minMember"),
                fmt::format("{} is more than the subgroup's {} pods", *min_member, pods));
  }
  part.pods = static_cast<int32_t>(pods);
  part.group.min_member = static_cast<int32_t>(min_member.value_or(pods));
  FAIRWAY_TRY(read_topology_constraint(node["topology"], join(path, "topology"),
                                       part.group.topology_constraint));
  stream.subgroups.push_back(std::move(part));
  return {};
}

// A gang's subgroups: its pods are theirs, in order; its minMember defaults to all of them.
Status read_subgroups(const YAML::Node& node, const std::string& path, bool min_member_given,
                      JobStreamSpec& stream) {
  const std::string at = join(path, "subgroups");
  FAIRWAY_TRY(for_each_item(node["subgroups"], at,
                            [&stream](const YAML::Node& item, const std::string& item_path) {
                              return read_subgroup(item, item_path, stream);
                            }));
  if (stream.subgroups.empty()) return {};
  if (stream.workload != SimWorkload::kNone) return fail(at, "not with a workload");
  int32_t pods = 0;
  for (const JobStreamSpec::Part& part : stream.subgroups) pods += part.pods;
  if (node["pods"] && stream.pods != pods) {
    return fail(join(path, "pods"),
                fmt::format("{} is not the {} pods of its subgroups", stream.pods, pods));
  }
  if (min_member_given && stream.min_member > pods) {
    return fail(join(path, "minMember"),
                fmt::format("{} is more than the job's {} pods", stream.min_member, pods));
  }
  stream.pods = pods;
  if (!min_member_given) stream.min_member = pods;
  return {};
}

Status read_job_stream(const YAML::Node& node, const std::string& path, Scenario& scenario) {
  FAIRWAY_TRY(
      check_fields(node, path,
                   {"name", "queue", "at", "every", "count", "pods", "minMember", "priority",
                    "durationSeconds", "requests", "nodeSelector", "tolerations", "workload",
                    "gpuFraction", "preemptible", "topology", "subgroups"}));
  JobStreamSpec stream;
  FAIRWAY_TRY(optional_field(node, "name", path, stream.name, read_string));
  if (stream.name.empty()) return fail(join(path, "name"), "required");
  FAIRWAY_TRY(optional_field(node, "queue", path, stream.queue, read_string));
  FAIRWAY_TRY(optional_field(node, "at", path, stream.at_ms, seconds(true)));
  FAIRWAY_TRY(optional_field(node, "every", path, stream.every_ms, seconds(true)));
  int64_t count = 1;
  int64_t pods = 1;
  std::optional<int64_t> min_member;
  int64_t priority = 0;
  FAIRWAY_TRY(optional_field(node, "count", path, count, int_in(1, 100'000)));
  FAIRWAY_TRY(optional_field(node, "pods", path, pods, int_in(1, 10'000)));
  FAIRWAY_TRY(optional_field(node, "minMember", path, min_member, int_in(1, 10'000)));
  FAIRWAY_TRY(optional_field(
      node, "priority", path, priority,
      int_in(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())));
  if (min_member && *min_member > pods) {
    return fail(join(path, "minMember"),
                fmt::format("{} is more than the job's {} pods", *min_member, pods));
  }
  std::string workload;
  FAIRWAY_TRY(optional_field(node, "workload", path, workload, read_string));
  if (workload == "PyTorchJob") {
    stream.workload = SimWorkload::kPyTorchJob;
  } else if (workload == "Job") {
    stream.workload = SimWorkload::kJob;
  } else if (!workload.empty()) {
    return fail(
        join(path, "workload"),
        fmt::format("\"{}\" is not a workload the simulator makes (PyTorchJob, Job)", workload));
  }
  if (stream.workload != SimWorkload::kNone && min_member) {
    return fail(join(path, "minMember"),
                fmt::format("not with workload {}: the workload decides its gang", workload));
  }
  stream.count = static_cast<int32_t>(count);
  stream.pods = static_cast<int32_t>(pods);
  stream.min_member = static_cast<int32_t>(min_member.value_or(pods));
  stream.priority = static_cast<int32_t>(priority);
  FAIRWAY_TRY(read_subgroups(node, path, min_member.has_value(), stream));
  FAIRWAY_TRY(optional_field(node, "durationSeconds", path, stream.duration_ms, seconds(false)));
  FAIRWAY_TRY(optional_field(node, "requests", path, stream.requests, read_resources));
  FAIRWAY_TRY(optional_field(node, "gpuFraction", path, stream.gpu_fraction, read_number));
  if (node["gpuFraction"]) {
    // The rules of the fairway.dev/gpu-fraction annotation (docs/gpu-sharing.md).
    if (!(stream.gpu_fraction > 0 && stream.gpu_fraction < 1)) {
      return fail(join(path, "gpuFraction"),
                  fmt::format("{:g}: must be a number greater than 0 and less than 1",
                              stream.gpu_fraction));
    }
    if (stream.requests.contains(std::string(kGpuResourceName))) {
      return fail(join(path, "gpuFraction"),
                  "not with requests nvidia.com/gpu: ask for either a GPU share or whole GPUs");
    }
  }
  if (const YAML::Node preemptible = node["preemptible"];
      preemptible.IsDefined() && !preemptible.IsNull()) {
    bool value = false;
    if (!preemptible.IsScalar() || !YAML::convert<bool>::decode(preemptible, value)) {
      return fail(join(path, "preemptible"),
                  fmt::format("expected true or false, got {}",
                              preemptible.IsScalar() ? fmt::format("\"{}\"", preemptible.Scalar())
                                                     : std::string(kind_name(preemptible))));
    }
    stream.preemptible = value;
  }
  FAIRWAY_TRY(read_topology_constraint(node["topology"], join(path, "topology"), stream.topology));
  FAIRWAY_TRY(optional_field(node, "nodeSelector", path, stream.node_selector, read_string_map));
  FAIRWAY_TRY(for_each_item(node["tolerations"], join(path, "tolerations"),
                            [&stream](const YAML::Node& entry, const std::string& at) -> Status {
                              auto decoded = read_toleration(entry, at);
                              if (!decoded) return tl::unexpected(decoded.error());
                              stream.tolerations.push_back(std::move(*decoded));
                              return {};
                            }));
  for (const JobStreamSpec& other : scenario.jobs) {
    if (other.name == stream.name) {
      return fail(join(path, "name"),
                  fmt::format("job stream \"{}\" is defined twice", stream.name));
    }
  }
  scenario.jobs.push_back(std::move(stream));
  return {};
}

tl::expected<Scenario, std::string> decode(const YAML::Node& root) {
  if (!root.IsMap()) {
    return tl::unexpected(
        fmt::format("scenario: expected a map at the top, got {}", kind_name(root)));
  }
  FAIRWAY_TRY(
      check_fields(root, "",
                   {"name", "description", "cyclePeriodSeconds", "durationSeconds",
                    "reportEverySeconds", "nodes", "queues", "jobs", "usage", "topologies"}));
  Scenario scenario;
  FAIRWAY_TRY(optional_field(root, "name", "", scenario.name, read_string));
  FAIRWAY_TRY(optional_field(root, "description", "", scenario.description, read_string));
  FAIRWAY_TRY(
      optional_field(root, "cyclePeriodSeconds", "", scenario.cycle_period_ms, seconds(false)));
  FAIRWAY_TRY(optional_field(root, "durationSeconds", "", scenario.duration_ms, seconds(false)));
  FAIRWAY_TRY(
      optional_field(root, "reportEverySeconds", "", scenario.report_every_ms, seconds(false)));
  FAIRWAY_TRY(read_usage(root["usage"], scenario.usage));
  FAIRWAY_TRY(for_each_item(root["topologies"], "topologies",
                            [&scenario](const YAML::Node& node, const std::string& at) {
                              return read_topology(node, at, scenario);
                            }));
  FAIRWAY_TRY(for_each_item(root["nodes"], "nodes",
                            [&scenario](const YAML::Node& node, const std::string& at) {
                              return read_node_group(node, at, scenario);
                            }));
  FAIRWAY_TRY(for_each_item(root["queues"], "queues",
                            [&scenario](const YAML::Node& node, const std::string& at) {
                              return read_queue(node, at, scenario);
                            }));
  FAIRWAY_TRY(for_each_item(root["jobs"], "jobs",
                            [&scenario](const YAML::Node& node, const std::string& at) {
                              return read_job_stream(node, at, scenario);
                            }));
  if (scenario.node_groups.empty()) return fail("nodes", "at least one node group is required");
  if (scenario.jobs.empty()) return fail("jobs", "at least one job stream is required");
  // A typo in a queue name would leave the stream pending for the whole run; say so up front.
  for (size_t i = 0; i < scenario.jobs.size(); ++i) {
    const std::string& queue = scenario.jobs[i].queue;
    if (queue.empty() || queue == kDefaultQueueName) continue;
    const bool defined = std::any_of(scenario.queues.begin(), scenario.queues.end(),
                                     [&queue](const QueueSpec& q) { return q.name == queue; });
    if (!defined) {
      return fail(join(item("jobs", i), "queue"),
                  fmt::format("queue \"{}\" is not defined under queues", queue));
    }
  }
  return scenario;
}

#undef FAIRWAY_TRY

}  // namespace

tl::expected<Scenario, std::string> parse_scenario(std::string_view yaml_text) {
  // yaml-cpp reports malformed input by throwing; this is the edge where that becomes a value.
  try {
    return decode(YAML::Load(std::string(yaml_text)));
  } catch (const YAML::Exception& e) {
    return tl::unexpected(fmt::format("invalid YAML at line {}, column {}: {}", e.mark.line + 1,
                                      e.mark.column + 1, e.msg));
  } catch (const std::exception& e) {
    return tl::unexpected(fmt::format("invalid scenario: {}", e.what()));
  }
}

std::vector<JobArrival> expand_arrivals(const Scenario& scenario) {
  std::vector<JobArrival> arrivals;
  for (size_t s = 0; s < scenario.jobs.size(); ++s) {
    const JobStreamSpec& stream = scenario.jobs[s];
    for (int32_t k = 0; k < stream.count; ++k) {
      JobArrival arrival;
      arrival.name = stream.count == 1 ? stream.name : fmt::format("{}-{}", stream.name, k + 1);
      arrival.stream = s;
      arrival.arrival_ms = stream.at_ms + stream.every_ms * k;
      arrivals.push_back(std::move(arrival));
    }
  }
  std::stable_sort(arrivals.begin(), arrivals.end(), [](const JobArrival& a, const JobArrival& b) {
    return a.arrival_ms < b.arrival_ms;
  });
  return arrivals;
}

std::vector<Node> build_nodes(const Scenario& scenario) {
  std::vector<Node> nodes;
  for (const NodeGroupSpec& group : scenario.node_groups) {
    for (int32_t i = 0; i < group.count; ++i) {
      Node node;
      node.name = fmt::format("{}{}", group.name_prefix, i);
      node.uid = "uid-node-" + node.name;
      node.labels = group.labels;
      node.labels["kubernetes.io/hostname"] = node.name;
      node.taints = group.taints;
      node.allocatable = group.allocatable;
      nodes.push_back(std::move(node));
    }
  }
  return nodes;
}

std::optional<PodGroup> build_pod_group(const JobArrival& job, const JobStreamSpec& stream) {
  if (stream.subgroups.empty()) return std::nullopt;
  PodGroup group;
  group.namespace_ = std::string(kSimNamespace);
  group.name = job.name;
  group.min_member = stream.min_member;
  group.queue = stream.queue;
  group.topology_constraint = stream.topology;
  group.creation_ms = job.arrival_ms;
  for (const JobStreamSpec::Part& part : stream.subgroups) group.subgroups.push_back(part.group);
  return group;
}

std::optional<Workload> build_workload(const JobArrival& job, const JobStreamSpec& stream) {
  if (stream.workload == SimWorkload::kNone) return std::nullopt;
  Workload w;
  w.namespace_ = std::string(kSimNamespace);
  w.name = job.name;
  if (stream.workload == SimWorkload::kPyTorchJob) {
    w.api_version = "kubeflow.org/v1";
    w.kind = "PyTorchJob";
    w.parts.push_back({.name = "Master", .replicas = 1});
    if (stream.pods > 1) w.parts.push_back({.name = "Worker", .replicas = stream.pods - 1});
  } else {
    w.api_version = "batch/v1";
    w.kind = "Job";
    w.parallelism = stream.pods;
    w.completions = stream.pods;
  }
  w.uid = fmt::format("uid-{}", inferred_gang_name(w.kind, w.name));
  if (!stream.queue.empty()) w.labels["fairway.dev/queue"] = stream.queue;
  return w;
}

std::string cycle_job_key(const JobArrival& job, const JobStreamSpec& stream) {
  const auto workload = build_workload(job, stream);
  return fmt::format("{}/{}", kSimNamespace,
                     workload ? inferred_gang_name(workload->kind, workload->name) : job.name);
}

namespace {

std::string pod_name(const JobArrival& job, const JobStreamSpec& stream, int32_t i) {
  switch (stream.workload) {
    case SimWorkload::kPyTorchJob:  // as the Kubeflow training operator names them
      return i == 0 ? fmt::format("{}-master-0", job.name)
                    : fmt::format("{}-worker-{}", job.name, i - 1);
    case SimWorkload::kJob:
      return fmt::format("{}-{}", job.name, i);
    case SimWorkload::kNone:
      break;
  }
  return stream.pods == 1 ? job.name : fmt::format("{}-{}", job.name, i);
}

}  // namespace

std::vector<Pod> build_pods(const JobArrival& job, const JobStreamSpec& stream) {
  const auto workload = build_workload(job, stream);
  std::vector<Pod> pods;
  pods.reserve(static_cast<size_t>(stream.pods));
  for (int32_t i = 0; i < stream.pods; ++i) {
    Pod pod;
    pod.namespace_ = std::string(kSimNamespace);
    pod.name = pod_name(job, stream, i);
    pod.uid = fmt::format("uid-{}", pod.name);
    pod.scheduler_name = "fairway";
    pod.priority = stream.priority;
    pod.creation_ms = job.arrival_ms;
    pod.labels["fairway.dev/sim-job"] = job.name;
    if (workload) {
      pod.owner = {workload->api_version, workload->kind, workload->name, workload->uid};
    } else {
      if (!stream.queue.empty()) pod.labels["fairway.dev/queue"] = stream.queue;
      if (stream.pods > 1) {
        pod.annotations[std::string(kAnnotationPodGroup)] = job.name;
        pod.annotations[std::string(kAnnotationMinMember)] = std::to_string(stream.min_member);
      }
    }
    if (stream.gpu_fraction > 0) {
      pod.annotations[std::string(kAnnotationGpuFraction)] =
          fmt::format("{:g}", stream.gpu_fraction);
    }
    if (stream.preemptible) {
      pod.annotations[std::string(kPreemptible)] = *stream.preemptible ? "true" : "false";
    }
    if (!stream.subgroups.empty()) {
      // Pods go to the subgroups in order: the first `pods` of the first subgroup, and so on.
      size_t index = pods.size();
      for (const JobStreamSpec::Part& part : stream.subgroups) {
        if (index < static_cast<size_t>(part.pods)) {
          pod.labels[std::string(kLabelSubgroup)] = part.group.name;
          pod.subgroup = part.group.name;  // what the decoder reads from the label
          break;
        }
        index -= static_cast<size_t>(part.pods);
      }
    }
    const TopologyConstraint& topology = stream.topology;
    if (!topology.topology.empty())
      pod.annotations[std::string(kAnnotationTopology)] = topology.topology;
    if (!topology.required_level.empty()) {
      pod.annotations[std::string(kAnnotationRequiredLevel)] = topology.required_level;
    }
    if (!topology.preferred_level.empty()) {
      pod.annotations[std::string(kAnnotationPreferredLevel)] = topology.preferred_level;
    }
    Container container;
    container.name = "main";
    container.requests = stream.requests;
    pod.containers.push_back(std::move(container));
    pod.node_selector = stream.node_selector;
    pod.tolerations = stream.tolerations;
    pods.push_back(std::move(pod));
  }
  return pods;
}

}  // namespace fairway::sim
