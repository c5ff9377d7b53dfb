#include "sim/apiserver/workloads.h"

#include <algorithm>
#include <string>

#include "sim/apiserver/json_util.h"
#include "sim/apiserver/selectors.h"

namespace fairway::apiserver {

namespace {

using nlohmann::json;

// Labels as Go's %#v prints a map[string]string (keys sorted), as kube-apiserver quotes them.
std::string go_map(const json& labels) {
  std::string out = "map[string]string{";
  bool first = true;
  if (labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {  // nlohmann sorts object keys
      out += (first ? "" : ", ") + json(key).dump() + ":" +
             (value.is_string() ? value.dump() : json(value.dump()).dump());
      first = false;
    }
  }
  return out + "}";
}

bool empty_selector(const json& selector) {
  const json& labels = member(selector, "matchLabels");
  const json& expressions = member(selector, "matchExpressions");
  return (!labels.is_object() || labels.empty()) &&
         (!expressions.is_array() || expressions.empty());
}

}  // namespace

bool is_apps_controller(const ResourceType& type) {
  return type.group == "apps" && (type.kind == "Deployment" || type.kind == "ReplicaSet" ||
                                  type.kind == "StatefulSet" || type.kind == "DaemonSet");
}

tl::expected<void, ApiError> validate_apps_controller(const ResourceType& type, const json& object,
                                                      const json* previous) {
  const std::string name = str(member(object, "metadata"), "name");
  const auto refuse = [&](const std::string& field, const std::string& why) {
    return tl::unexpected(invalid(type.kind, type.group, name, field, why));
  };
  const json& spec = member(object, "spec");
  const json& selector = member(spec, "selector");
  if (!selector.is_object()) return refuse("spec.selector", "Required value");
  std::string lower = type.kind;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (empty_selector(selector)) {
    return refuse("spec.selector",
                  "Invalid value: " + selector.dump() + ": empty selector is invalid for " + lower);
  }
  const auto parsed = LabelSelector::from_json(selector);
  if (!parsed) return refuse("spec.selector", "Invalid value: " + parsed.error());
  if (previous != nullptr && member(member(*previous, "spec"), "selector") != selector) {
    return refuse("spec.selector", "Invalid value: " + selector.dump() + ": field is immutable");
  }
  const json& template_ = member(spec, "template");
  const json& labels = member(member(template_, "metadata"), "labels");
  if (!parsed->matches(labels)) {
    return refuse(
        "spec.template.metadata.labels",
        "Invalid value: " + go_map(labels) + ": `selector` does not match template `labels`");
  }
  const json& pod_spec = member(template_, "spec");
  const json& containers = member(pod_spec, "containers");
  if (!containers.is_array() || containers.empty())
    return refuse("spec.template.spec.containers", "Required value");
  for (size_t i = 0; i < containers.size(); ++i) {
    const std::string path = "spec.template.spec.containers[" + std::to_string(i) + "]";
    if (str(containers[i], "name").empty()) return refuse(path + ".name", "Required value");
    if (str(containers[i], "image").empty()) return refuse(path + ".image", "Required value");
  }
  // Controllers restart their pods: Always is the only policy the template may carry.
  const std::string restart = str(pod_spec, "restartPolicy", "Always");
  if (restart != "Always") {
    return refuse("spec.template.spec.restartPolicy",
                  "Unsupported value: \"" + restart + "\": supported values: \"Always\"");
  }
  return {};
}

}  // namespace fairway::apiserver
