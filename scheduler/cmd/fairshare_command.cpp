// `fairway fairshare FILE`: the offline fair-share calculator. This is an edge: it reads a file,
// decodes YAML (catching yaml-cpp's exceptions here), runs the pure queues/ core and prints JSON.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

#include "queues/fair_share.h"
#include "queues/quantity.h"
#include "queues/queue_spec.h"
#include "queues/queue_tree.h"
#include "queues/resources.h"
#include "scheduler/cmd/commands.h"

namespace fairway::cmd {
namespace {

constexpr std::string_view kUsage = R"(Usage: fairway fairshare FILE

Computes hierarchical fair shares offline. Reads the cluster capacity, the Queues and what each
leaf queue asks for from the YAML FILE, and prints every queue's fair share, deserved quota,
allocation and demand as JSON, together with every problem found in the Queue tree.

FILE:
  capacity:  {RESOURCE: QUANTITY, ...}        what the cluster offers (required)
  queues:                                     Queue specs, as in the Queue custom resource
    - name: NAME
      parent: NAME                            empty or absent: a root-level queue
      priority: INT                           higher buckets get over-quota resources first
      resources: {RESOURCE: {quota: QUANTITY, limit: QUANTITY, overQuotaWeight: NUMBER}}
  demand:    {QUEUE: {RESOURCE: QUANTITY}}    total demand of a leaf queue, allocation included
  allocated: {QUEUE: {RESOURCE: QUANTITY}}    optional: what a leaf queue holds now
  usage:     {QUEUE: {RESOURCE: NUMBER}}      optional: a leaf queue's share of the cluster
                                              used over time, 0 to 1 (its Queue status.usage)
  usageStrength: NUMBER                       optional: the scheduler's --usage-strength (0)

Quantities are Kubernetes quantities ("8", "500m", "1.5Ti"). In the output, CPUs, GPUs and other
countable resources are plain (possibly fractional) numbers; memory-like resources are bytes.
A queue named "default" is added when the file declares none.

Exit status: 0 when the shares were computed (problems in the Queue tree are listed under
"errors"), 1 when FILE cannot be read or is not valid input, 2 on a usage error.
)";

template <typename T>
using Result = tl::expected<T, std::string>;

// Where in the file a value sits, for messages: "queues[2].resources.nvidia.com/gpu.quota".
std::string join(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return fmt::format("\"{}\"", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

struct Input {
  ResourceList capacity;
  std::vector<QueueSpec> queues;
  // Per queue name: the path in the file (for messages) and the quantities.
  std::vector<std::pair<std::string, ResourceList>> demand;
  std::vector<std::pair<std::string, ResourceList>> allocated;
  std::vector<std::pair<std::string, std::map<std::string, double>>> usage;  // shares, 0 to 1
  double usage_strength = 0;
  std::set<std::string> mentioned_resources;  // printed for every queue, in the output
};

class Decoder {
 public:
  explicit Decoder(std::string file) : file_(std::move(file)) {}

  Result<Input> decode(const YAML::Node& root) {
    Input input;
    if (!root.IsMap())
      return fail("", fmt::format("expected a mapping at the top, got {}", kind_of(root)));
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      if (key != "capacity" && key != "queues" && key != "demand" && key != "allocated" &&
          key != "usage" && key != "usageStrength") {
        return fail(key,
                    "unknown field (expected capacity, queues, demand, allocated, usage, "
                    "usageStrength)");
      }
    }
    if (!root["capacity"]) return fail("capacity", "missing: the cluster capacity is required");
    auto capacity = quantities(root["capacity"], "capacity", input);
    if (!capacity) return tl::unexpected(capacity.error());
    input.capacity = std::move(*capacity);

    if (const YAML::Node queues = root["queues"]; queues && !queues.IsNull()) {
      if (!queues.IsSequence())
        return fail("queues", fmt::format("expected a list, got {}", kind_of(queues)));
      for (size_t i = 0; i < queues.size(); ++i) {
        auto spec = queue(queues[i], fmt::format("queues[{}]", i), input);
        if (!spec) return tl::unexpected(spec.error());
        input.queues.push_back(std::move(*spec));
      }
    }
    for (const char* section : {"demand", "allocated"}) {
      const YAML::Node node = root[section];
      if (!node || node.IsNull()) continue;
      if (!node.IsMap())
        return fail(section,
                    fmt::format("expected a mapping of queue names, got {}", kind_of(node)));
      auto& target = std::string_view(section) == "demand" ? input.demand : input.allocated;
      for (const auto& entry : node) {
        const std::string name = entry.first.Scalar();
        const std::string path = join(section, name);
        auto list = quantities(entry.second, path, input);
        if (!list) return tl::unexpected(list.error());
        target.emplace_back(name, std::move(*list));
      }
    }
    if (const YAML::Node strength = root["usageStrength"]; strength) {
      auto value = number(strength, "usageStrength");
      if (!value) return tl::unexpected(value.error());
      input.usage_strength = *value;
    }
    if (const YAML::Node usage = root["usage"]; usage && !usage.IsNull()) {
      if (!usage.IsMap())
        return fail("usage",
                    fmt::format("expected a mapping of queue names, got {}", kind_of(usage)));
      for (const auto& entry : usage) {
        const std::string path = join("usage", entry.first.Scalar());
        if (!entry.second.IsMap()) {
          return fail(path, fmt::format("expected a mapping of resource names to shares, got {}",
                                        kind_of(entry.second)));
        }
        std::map<std::string, double> shares;
        for (const auto& share : entry.second) {
          const std::string resource = share.first.Scalar();
          auto value = number(share.second, join(path, resource));
          if (!value) return tl::unexpected(value.error());
          shares[resource] = *value;
          input.mentioned_resources.insert(resource);
        }
        input.usage.emplace_back(entry.first.Scalar(), std::move(shares));
      }
    }
    return input;
  }

  // A number not below 0 (a weight, a share, a strength).
  Result<double> number(const YAML::Node& node, std::string_view path) const {
    const std::string raw = node.IsScalar() ? node.Scalar() : std::string();
    double value = 0;
    const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    if (!node.IsScalar() || raw.empty() || ec != std::errc() || end != raw.data() + raw.size() ||
        !std::isfinite(value)) {
      return fail(path, fmt::format("expected a number, got {}", kind_of(node)));
    }
    if (value < 0) return fail(path, fmt::format("must not be negative, got {}", raw));
    return value;
  }

  tl::unexpected<std::string> fail(std::string_view path, std::string_view why) const {
    if (path.empty()) return tl::unexpected(fmt::format("{}: {}", file_, why));
    return tl::unexpected(fmt::format("{}: {}: {}", file_, path, why));
  }

 private:
  Result<int64_t> quantity(const YAML::Node& node, std::string_view resource,
                           std::string_view path) const {
    if (!node.IsScalar())
      return fail(path, fmt::format("expected a quantity, got {}", kind_of(node)));
    auto value = parse_resource_quantity(resource, node.Scalar());
    if (!value) return fail(path, value.error());
    return *value;
  }

  Result<ResourceList> quantities(const YAML::Node& node, std::string_view path,
                                  Input& input) const {
    ResourceList list;
    if (node.IsNull()) return list;
    if (!node.IsMap()) {
      return fail(path, fmt::format("expected a mapping of resource names to quantities, got {}",
                                    kind_of(node)));
    }
    for (const auto& entry : node) {
      const std::string resource = entry.first.Scalar();
      if (resource.empty()) return fail(path, "empty resource name");
      auto value = quantity(entry.second, resource, join(path, resource));
      if (!value) return tl::unexpected(value.error());
      if (*value < 0) return fail(join(path, resource), "must not be negative");
      list[resource] = *value;
      input.mentioned_resources.insert(resource);
    }
    return list;
  }

  Result<std::string> text(const YAML::Node& node, std::string_view path) const {
    if (node.IsNull()) return std::string();
    if (!node.IsScalar())
      return fail(path, fmt::format("expected a string, got {}", kind_of(node)));
    return node.Scalar();
  }

  Result<QueueSpec> queue(const YAML::Node& node, const std::string& path, Input& input) const {
    if (!node.IsMap())
      return fail(path, fmt::format("expected a Queue mapping, got {}", kind_of(node)));
    QueueSpec spec;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const std::string at = join(path, key);
      const YAML::Node& value = entry.second;
      if (key == "name" || key == "parent") {
        if (key == "name" && value.IsNull()) return fail(at, "a Queue needs a name");
        auto read = text(value, at);
        if (!read) return tl::unexpected(read.error());
        (key == "name" ? spec.name : spec.parent) = std::move(*read);
      } else if (key == "priority") {
        const std::string raw = value.IsScalar() ? value.Scalar() : std::string();
        int32_t priority = 0;
        const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), priority);
        if (!value.IsScalar() || ec != std::errc() || end != raw.data() + raw.size()) {
          return fail(at, fmt::format("expected a whole number, got {}", kind_of(value)));
        }
        spec.priority = priority;
      } else if (key == "resources") {
        auto resources = queue_resources(value, at, input);
        if (!resources) return tl::unexpected(resources.error());
        spec.resources = std::move(*resources);
      } else if (key == "preemptMinRuntime" || key == "reclaimMinRuntime") {
        // Accepted so Queue specs can be pasted in; they do not change fair shares.
      } else {
        return fail(at,
                    "unknown field (expected name, parent, priority, resources, "
                    "preemptMinRuntime, reclaimMinRuntime)");
      }
    }
    if (!node["name"]) return fail(path, "a Queue needs a name");
    return spec;
  }

  Result<std::map<std::string, QueueResourceSpec, std::less<>>> queue_resources(
      const YAML::Node& node, const std::string& path, Input& input) const {
    std::map<std::string, QueueResourceSpec, std::less<>> resources;
    if (node.IsNull()) return resources;
    if (!node.IsMap())
      return fail(path, fmt::format("expected a mapping of resource names, got {}", kind_of(node)));
    for (const auto& entry : node) {
      const std::string resource = entry.first.Scalar();
      const std::string at = join(path, resource);
      if (resource.empty()) return fail(path, "empty resource name");
      if (!entry.second.IsMap()) {
        return fail(at, fmt::format("expected {{quota, limit, overQuotaWeight}}, got {}",
                                    kind_of(entry.second)));
      }
      input.mentioned_resources.insert(resource);
      QueueResourceSpec& spec = resources[resource];
      for (const auto& field : entry.second) {
        const std::string key = field.first.Scalar();
        const std::string field_path = join(at, key);
        if (key == "quota" || key == "limit") {
          if (key == "limit" && field.second.IsNull()) continue;  // explicit "unlimited"
          auto value = quantity(field.second, resource, field_path);
          if (!value) return tl::unexpected(value.error());
          if (key == "quota") {
            spec.quota = *value;
          } else {
            spec.limit = *value;
          }
        } else if (key == "overQuotaWeight") {
          const std::string raw = field.second.IsScalar() ? field.second.Scalar() : std::string();
          double weight = 0;
          const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), weight);
          if (!field.second.IsScalar() || raw.empty() || ec != std::errc() ||
              end != raw.data() + raw.size()) {
            return fail(field_path,
                        fmt::format("expected a number, got {}", kind_of(field.second)));
          }
          spec.over_quota_weight = weight;
        } else {
          return fail(field_path, "unknown field (expected quota, limit, overQuotaWeight)");
        }
      }
    }
    return resources;
  }

  std::string file_;
};

// Whole units for people and scripts: integers where exact, bytes rounded to whole bytes.
nlohmann::ordered_json number(double canonical, int64_t scale) {
  double value = canonical / static_cast<double>(scale);
  if (scale == 1) value = std::round(value);
  if (std::abs(value) < 9.0e15 && value == std::floor(value)) {
    return static_cast<int64_t>(value);
  }
  return value;
}

Result<YAML::Node> load(const std::string& file) {
  std::error_code ignored;
  if (std::filesystem::is_directory(file, ignored)) {
    return tl::unexpected(fmt::format("{}: is a directory, not a file", file));
  }
  std::ifstream stream(file, std::ios::binary);
  if (!stream) return tl::unexpected(fmt::format("{}: cannot open the file", file));
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) return tl::unexpected(fmt::format("{}: cannot read the file", file));
  try {
    return YAML::Load(contents.str());
  } catch (const YAML::Exception& error) {
    // yaml-cpp marks are 0-based.
    return tl::unexpected(fmt::format("{}:{}:{}: invalid YAML: {}", file, error.mark.line + 1,
                                      error.mark.column + 1, error.msg));
  }
}

// The answer: capacity, each queue's fair share, deserved quota, allocation, demand (and past
// usage when given), then the problems of the tree.
nlohmann::ordered_json fair_share_json(const Input& input, const QueueTree& tree,
                                       const ResourceRegistry& registry,
                                       const ResourceVector& capacity, const FairShares& shares) {
  std::vector<ResourceId> shown;  // the resources the input talks about, in id order
  for (size_t r = 0; r < registry.size(); ++r) {
    if (input.mentioned_resources.contains(registry.name(static_cast<ResourceId>(r)))) {
      shown.push_back(static_cast<ResourceId>(r));
    }
  }
  auto vector_json = [&](const ResourceVector& vector) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (ResourceId id : shown) {
      out[registry.name(id)] = number(static_cast<double>(vector[id]), registry.scale(id));
    }
    return out;
  };

  nlohmann::ordered_json output;
  output["capacity"] = vector_json(capacity);
  nlohmann::ordered_json& queues = output["queues"] = nlohmann::ordered_json::object();
  for (QueueIndex q : tree.top_down()) {
    const QueueNode& node = tree.node(q);
    nlohmann::ordered_json& entry = queues[node.name];
    entry["parent"] = node.parent == kNoQueue ? "" : tree.node(node.parent).name;
    entry["priority"] = node.priority;
    if (node.implicit) entry["implicit"] = true;
    nlohmann::ordered_json& fair = entry["fairShare"] = nlohmann::ordered_json::object();
    for (ResourceId id : shown) {
      fair[registry.name(id)] = number(shares.share(q, id), registry.scale(id));
    }
    entry["deserved"] = vector_json(shares.deserved[q]);
    entry["allocated"] = vector_json(shares.allocated[q]);
    entry["demand"] = vector_json(shares.demand[q]);
    if (!input.usage.empty()) {
      nlohmann::ordered_json& past = entry["usage"] = nlohmann::ordered_json::object();
      for (ResourceId id : shown)
        past[registry.name(id)] = shares.history[q * shares.resources + id];
    }
  }
  nlohmann::ordered_json& errors = output["errors"] = nlohmann::ordered_json::array();
  std::vector<QueueProblem> problems = tree.problems();
  for (QueueProblem& problem : capacity_problems(tree, capacity, registry)) {
    problems.push_back(std::move(problem));
  }
  for (const auto& problem : problems) {
    errors.push_back({{"queue", problem.queue},
                      {"reason", problem.reason},
                      {"message", problem.message},
                      {"blocking", problem.blocking}});
  }
  return output;
}

Result<nlohmann::ordered_json> run(const std::string& file) {
  auto root = load(file);
  if (!root) return tl::unexpected(root.error());
  Decoder decoder(file);
  auto input = decoder.decode(*root);
  if (!input) return tl::unexpected(input.error());

  ResourceRegistry registry;
  for (const auto& name : input->mentioned_resources) registry.intern(name);
  const QueueTree tree = QueueTree::build(input->queues, registry);
  const ResourceVector capacity = to_vector(input->capacity, registry);

  std::set<std::string, std::less<>> declared;
  for (const auto& spec : input->queues) declared.insert(spec.name);
  declared.insert(std::string(kDefaultQueueName));  // always exists, implicitly or not

  // Usage per leaf. Entries for queues the tree left out (listed under "errors") are ignored.
  std::vector<QueueUsage> usage(tree.size());
  std::vector<ResourceVector> demand(tree.size());
  auto place = [&](const auto& entries, std::string_view section, auto&& store) -> Result<void> {
    for (const auto& [name, list] : entries) {
      const std::string path = fmt::format("{}.{}", section, name);
      if (!declared.contains(name)) {
        return decoder.fail(path, fmt::format("no queue named \"{}\" in queues", name));
      }
      const auto index = tree.find(name);
      if (!index) continue;
      if (!tree.node(*index).is_leaf()) {
        return decoder.fail(path, fmt::format("queue \"{}\" has child queues; demand, "
                                              "allocation and usage belong to leaf queues",
                                              name));
      }
      store(*index, list);
    }
    return {};
  };
  if (auto placed = place(input->allocated, "allocated",
                          [&](QueueIndex q, const ResourceList& list) {
                            usage[q].allocated = to_vector(list, registry);
                          });
      !placed) {
    return tl::unexpected(placed.error());
  }
  if (auto placed = place(input->usage, "usage",
                          [&](QueueIndex q, const std::map<std::string, double>& shares) {
                            std::vector<double>& history = usage[q].history;
                            for (const auto& [resource, share] : shares) {
                              const ResourceId id = registry.intern(resource);
                              if (history.size() <= id) history.resize(id + 1, 0.0);
                              history[id] = share;
                            }
                          });
      !placed) {
    return tl::unexpected(placed.error());
  }
  if (auto placed = place(
          input->demand, "demand",
          [&](QueueIndex q, const ResourceList& list) { demand[q] = to_vector(list, registry); });
      !placed) {
    return tl::unexpected(placed.error());
  }
  // `demand` is the total (allocation included); what is pending is the rest of it. A queue that
  // holds more than it states as demand is taken to want what it holds.
  for (size_t q = 0; q < tree.size(); ++q) {
    for (size_t r = 0; r < registry.size(); ++r) {
      const auto id = static_cast<ResourceId>(r);
      usage[q].pending.set(id, std::max<int64_t>(demand[q][id] - usage[q].allocated[id], 0));
    }
  }

  const FairShares shares =
      compute_fair_shares(tree, capacity, usage, registry.size(), input->usage_strength);

  return fair_share_json(*input, tree, registry, capacity, shares);
}

}  // namespace

int fairshare(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  bool only_files = false;
  for (const std::string& arg : args) {
    if (!only_files && (arg == "--help" || arg == "-h")) {
      out << kUsage;
      return 0;
    }
    if (!only_files && arg == "--") {
      only_files = true;
    } else if (!only_files && arg.size() > 1 && arg[0] == '-') {
      err << "fairway fairshare: unknown flag \"" << arg << "\"\n\n" << kUsage;
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.size() != 1) {
    err << "fairway fairshare: expected exactly one FILE, got " << files.size() << "\n\n" << kUsage;
    return 2;
  }
  try {
    auto output = run(files.front());
    if (!output) {
      err << "fairway fairshare: " << output.error() << '\n';
      return 1;
    }
    out << output->dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
    return 0;
  } catch (const std::exception& error) {
    // Anything the decoder did not anticipate (yaml-cpp throws from many accessors) is still bad
    // input, not a crash.
    err << "fairway fairshare: " << files.front() << ": " << error.what() << '\n';
    return 1;
  }
}

}  // namespace fairway::cmd
