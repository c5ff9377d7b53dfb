#include "sim/apiserver/admission.h"

#include <algorithm>
#include <cstdint>

#include "sim/apiserver/base64.h"
#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {

using nlohmann::json;

namespace {

constexpr int64_t kHighestUserDefinablePriority = 1'000'000'000;
constexpr const char* kSystemPrefix = "system-";
constexpr const char* kPreemptLowerPriority = "PreemptLowerPriority";

std::string name_of(const json& o) {
  return str(member(o, "metadata"), "name");
}

ApiError invalid_with_reason(const std::string& kind, const std::string& group,
                             const std::string& name, const std::string& field,
                             const std::string& cause_reason, const std::string& detail) {
  // kube's field.Error: "<field>: <Type>: <detail>" with the cause's reason FieldValue<Type>.
  ApiError e = invalid(kind, group, name, field, detail);
  e.details["causes"][0]["reason"] = cause_reason;
  return e;
}

bool config_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// The first byte Go's base64.StdEncoding refuses, or npos when the text decodes.
size_t illegal_base64_at(const std::string& text) {
  if (base64_decode(text)) return std::string::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alphabet = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!alphabet) return i;
  }
  return text.size() - text.size() % 4;
}

}  // namespace

bool immortal_namespace(const std::string& name) {
  return name == "default" || name == "kube-system" || name == "kube-public";
}

ApiError namespace_terminating(const std::string& plural, const std::string& group,
                               const std::string& name, const std::string& ns) {
  ApiError e = forbidden(
      plural, group, name,
      "unable to create new content in namespace " + ns + " because it is being terminated");
  e.details["causes"] = json::array({{{"reason", "NamespaceTerminating"},
                                      {"message", "namespace " + ns + " is being terminated"},
                                      {"field", "metadata.namespace"}}});
  return e;
}

ApiError namespace_immortal(const std::string& name) {
  return forbidden("namespaces", "", name, "this namespace may not be deleted");
}

std::vector<json> system_priority_classes() {
  const auto pc = [](const char* name, int64_t value, const char* description) {
    return json{
        {"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"},
        {"metadata", {{"name", name}}},         {"value", value},
        {"description", description},           {"preemptionPolicy", kPreemptLowerPriority}};
  };
  return {pc("system-node-critical", 2'000'001'000,
             "Used for system critical pods that must not be moved from their current node."),
          pc("system-cluster-critical", 2'000'000'000,
             "Used for system critical pods that must run in the cluster, but can be moved to "
             "another node if necessary.")};
}

tl::expected<void, ApiError> admit_pod_priority(json& pod,
                                                const std::vector<const json*>& classes) {
  json& spec = pod["spec"];
  const std::string name = name_of(pod);
  const std::string class_name = str(spec, "priorityClassName");
  const json* chosen = nullptr;
  if (!class_name.empty()) {
    for (const json* pc : classes) {
      if (name_of(*pc) == class_name) chosen = pc;
    }
    if (chosen == nullptr) {
      return tl::unexpected(
          forbidden("pods", "", name, "no PriorityClass with name " + class_name + " was found"));
    }
  } else {
    // The globalDefault class; with several (possible through races), the lowest value wins.
    for (const json* pc : classes) {
      if (flag(*pc, "globalDefault", false) &&
          (chosen == nullptr || integer(*pc, "value", 0) < integer(*chosen, "value", 0))) {
        chosen = pc;
      }
    }
  }
  const int64_t priority = chosen ? integer(*chosen, "value", 0) : 0;
  const std::string policy =
      chosen ? str(*chosen, "preemptionPolicy", kPreemptLowerPriority) : kPreemptLowerPriority;
  if (const json& given = member(spec, "priority"); !given.is_null()) {
    if (!given.is_number_integer() || given.get<int64_t>() != priority) {
      return tl::unexpected(forbidden(
          "pods", "", name,
          "the integer value of priority (" + given.dump() +
              ") must not be provided in pod spec; priority admission controller computed " +
              std::to_string(priority) + " from the given PriorityClass name"));
    }
  }
  if (const std::string given = str(spec, "preemptionPolicy"); !given.empty() && given != policy) {
    return tl::unexpected(forbidden(
        "pods", "", name,
        "the string value of PreemptionPolicy (" + given +
            ") must not be provided in pod spec; priority admission controller computed " + policy +
            " from the given PriorityClass name"));
  }
  if (chosen != nullptr) spec["priorityClassName"] = name_of(*chosen);
  spec["priority"] = priority;
  spec["preemptionPolicy"] = policy;
  return {};
}

tl::expected<void, ApiError> admit_priority_class(json& pc, const std::vector<const json*>& others,
                                                  bool creating) {
  const std::string name = name_of(pc);
  const char* kind = "PriorityClass";
  const char* group = "scheduling.k8s.io";
  if (!member(pc, "value").is_number_integer()) {
    return tl::unexpected(
        invalid_with_reason(kind, group, name, "value", "FieldValueRequired", "Required value"));
  }
  const int64_t value = pc["value"].get<int64_t>();
  if (name.starts_with(kSystemPrefix)) {
    const auto system = system_priority_classes();
    const bool known = std::any_of(system.begin(), system.end(), [&](const json& s) {
      return name_of(s) == name && integer(s, "value", 0) == value &&
             !flag(pc, "globalDefault", false);
    });
    if (!known) {
      return tl::unexpected(invalid_with_reason(
          kind, group, name, "metadata.name", "FieldValueForbidden",
          "Forbidden: priority class names with 'system-' prefix are reserved for system use "
          "only. error: " +
              name + " is not a known system priority class"));
    }
  } else if (value > kHighestUserDefinablePriority) {
    return tl::unexpected(invalid_with_reason(
        kind, group, name, "value", "FieldValueForbidden",
        "Forbidden: maximum allowed value of a user defined priority is 1000000000"));
  }
  if (str(pc, "preemptionPolicy").empty()) pc["preemptionPolicy"] = kPreemptLowerPriority;
  if (flag(pc, "globalDefault", false)) {
    for (const json* other : others) {
      if (flag(*other, "globalDefault", false) && (creating || name_of(*other) != name)) {
        return tl::unexpected(forbidden("priorityclasses", group, name,
                                        "PriorityClass " + name_of(*other) +
                                            " is already marked as default. Only one default "
                                            "can exist"));
      }
    }
  }
  return {};
}

tl::expected<void, ApiError> normalize_secret(json& secret) {
  const std::string name = name_of(secret);
  json& data = secret["data"];
  if (data.is_null()) data = json::object();
  if (!data.is_object()) {
    return tl::unexpected(bad_request(
        "Secret in version \"v1\" cannot be handled as a Secret: data must be an object"));
  }
  for (const auto& [key, value] : data.items()) {
    if (!value.is_string()) {
      return tl::unexpected(
          bad_request("Secret in version \"v1\" cannot be handled as a Secret: "
                      "data[" +
                      key + "] must be a base64 string"));
    }
    if (const size_t at = illegal_base64_at(value.get<std::string>()); at != std::string::npos) {
      return tl::unexpected(
          bad_request("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 "
                      "data at input byte " +
                      std::to_string(at)));
    }
  }
  if (const json& string_data = member(secret, "stringData"); string_data.is_object()) {
    for (const auto& [key, value] : string_data.items()) {
      if (!value.is_string()) {
        return tl::unexpected(
            bad_request("Secret in version \"v1\" cannot be handled as a Secret: stringData[" +
                        key + "] must be a string"));
      }
      data[key] = base64_encode(value.get<std::string>());
    }
  }
  secret.erase("stringData");
  for (const auto& [key, value] : data.items()) {
    if (key.empty() || key == "." || key == ".." || key.starts_with("..") ||
        !std::all_of(key.begin(), key.end(), config_key_char)) {
      return tl::unexpected(invalid_with_reason(
          "Secret", "", name, "data[" + key + "]", "FieldValueInvalid",
          "Invalid value: \"" + key +
              "\": a valid config key must consist of alphanumeric characters, '-', '_' or "
              "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
              "is '[-._a-zA-Z0-9]+')"));
    }
  }
  if (data.empty()) secret.erase("data");
  if (str(secret, "type").empty()) secret["type"] = "Opaque";
  // The types whose keys kube-apiserver requires.
  const std::string type = str(secret, "type");
  std::vector<std::string> required;
  if (type == "kubernetes.io/tls") required = {"tls.crt", "tls.key"};
  if (type == "kubernetes.io/dockerconfigjson") required = {".dockerconfigjson"};
  if (type == "kubernetes.io/basic-auth" && !member(secret, "data").contains("username") &&
      !member(secret, "data").contains("password")) {
    required = {"username"};
  }
  for (const std::string& key : required) {
    if (!member(secret, "data").contains(key)) {
      return tl::unexpected(invalid_with_reason("Secret", "", name, "data[" + key + "]",
                                                "FieldValueRequired", "Required value"));
    }
  }
  return {};
}

}  // namespace fairway::apiserver
