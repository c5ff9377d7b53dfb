#include "sim/apiserver/workload_validation.h"

#include <optional>
#include <regex>
#include <set>
#include <string>

#include "sim/apiserver/field_rules.h"
#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {
namespace {

using json = nlohmann::json;
using rules::Check;
using rules::dns_label;
using rules::FieldError;
using rules::quoted;

Check check_name(const json& group, const std::string& path) {
  const json& name = member(group, "name");
  if (!name.is_string() || name.get<std::string>().empty()) {
    return FieldError{path + ".name", "Required value"};
  }
  const std::string value = name.get<std::string>();
  if (!dns_label(value)) {
    return FieldError{path + ".name",
                      "Invalid value: " + quoted(value) + ": " + rules::kLabelWords};
  }
  return std::nullopt;
}

// policy: exactly one of basic and gang; gang.minCount a positive integer.
Check check_policy(const json& group, const std::string& path) {
  const json& policy = member(group, "policy");
  const std::string at = path + ".policy";
  if (!policy.is_object()) return FieldError{at, "Required value"};
  const bool basic = !member(policy, "basic").is_null();
  const json& gang = member(policy, "gang");
  if (basic == !gang.is_null()) {
    return basic ? FieldError{at,
                              "Invalid value: \"basic, gang\": must specify exactly one of: "
                              "`basic`, `gang`"}
                 : FieldError{at, "Required value: must specify one of: `basic`, `gang`"};
  }
  if (basic) return std::nullopt;
  const json& min_count = member(gang, "minCount");
  if (min_count.is_null()) return FieldError{at + ".gang.minCount", "Required value"};
  if (!min_count.is_number_integer() || min_count.get<int64_t>() < 1) {
    return FieldError{at + ".gang.minCount", "Invalid value: " + min_count.dump() +
                                                 ": must be greater than or equal to 1"};
  }
  return std::nullopt;
}

Check check_spec(const json& spec) {
  const json& ref = member(spec, "controllerRef");
  if (!ref.is_null()) {
    for (const char* f : {"kind", "name"}) {
      const json& v = member(ref, f);
      if (!v.is_string() || v.get<std::string>().empty()) {
        return FieldError{std::string("spec.controllerRef.") + f, "Required value"};
      }
    }
  }
  const json& groups = member(spec, "podGroups");
  if (!groups.is_array() || groups.empty()) {
    return FieldError{"spec.podGroups", "Required value: must have at least one item"};
  }
  if (groups.size() > kWorkloadMaxPodGroups) {
    return FieldError{"spec.podGroups", "Too many: " + std::to_string(groups.size()) +
                                            ": must have at most " +
                                            std::to_string(kWorkloadMaxPodGroups) + " items"};
  }
  std::set<std::string> names;
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string path = "spec.podGroups[" + std::to_string(i) + "]";
    if (Check c = check_name(groups[i], path)) return c;
    const std::string name = groups[i]["name"].get<std::string>();
    if (!names.insert(name).second) {
      return FieldError{path + ".name", "Duplicate value: " + quoted(name)};
    }
    if (Check c = check_policy(groups[i], path)) return c;
  }
  return std::nullopt;
}

// spec.podGroups and spec.controllerRef cannot change once set.
Check check_update(const json& spec, const json& old_spec) {
  for (const char* f : {"podGroups", "controllerRef"}) {
    if (member(spec, f) != member(old_spec, f)) {
      return FieldError{std::string("spec.") + f,
                        "Invalid value: " + member(spec, f).dump() + ": field is immutable"};
    }
  }
  return std::nullopt;
}

}  // namespace

tl::expected<void, ApiError> validate_workload(const json& workload, const json* old) {
  const json& spec = member(workload, "spec");
  Check failed = spec.is_object() ? check_spec(spec) : FieldError{"spec", "Required value"};
  if (!failed && old != nullptr) failed = check_update(spec, member(*old, "spec"));
  if (!failed) return {};
  const std::string name = str(member(workload, "metadata"), "name");
  // invalid() words it as kube-apiserver does: `Workload.scheduling.k8s.io "w" is invalid: ...`.
  return tl::unexpected(invalid("Workload", "scheduling.k8s.io", name, failed->field, failed->why));
}

}  // namespace fairway::apiserver
