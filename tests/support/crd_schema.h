#pragma once
// Checks a JSON value against a CRD's OpenAPI v3 schema the way kube-apiserver treats a
// structural schema: fields the schema does not declare are pruned (reported here), types,
// enums, minimums and string patterns are validated. The embedded API server prunes silently
// (sim/apiserver/schema.h), so tests use this to name what a real cluster would drop: a status
// field the scheduler writes but the CRD does not declare, or an example manifest with a
// misspelled field.

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

namespace fairway::testing {

inline void check_against_schema(const nlohmann::json& schema, const nlohmann::json& value,
                                 const std::string& path, std::vector<std::string>& problems) {
  if (schema.value("x-kubernetes-preserve-unknown-fields", false)) return;
  if (value.is_null() && schema.value("nullable", false)) return;  // null allowed (or a deletion)
  if (schema.value("x-kubernetes-int-or-string", false)) {
    if (!value.is_number_integer() && !value.is_string()) {
      problems.push_back(path + ": want an integer or a string, got " + value.dump());
      return;
    }
    if (value.is_string() && schema.contains("pattern") &&
        !std::regex_search(value.get<std::string>(),
                           std::regex(schema["pattern"].get<std::string>()))) {
      problems.push_back(path + ": " + value.dump() + " does not match " +
                         schema["pattern"].get<std::string>());
    }
    return;
  }
  const std::string type = schema.value("type", "");
  if (schema.contains("enum")) {
    bool listed = false;
    for (const auto& allowed : schema["enum"]) listed |= allowed == value;
    if (!listed)
      problems.push_back(path + ": " + value.dump() + " is not one of " + schema["enum"].dump());
  }
  if (type == "object") {
    if (!value.is_object()) {
      problems.push_back(path + ": want an object, got " + value.dump());
      return;
    }
    const auto properties = schema.value("properties", nlohmann::json::object());
    for (const auto& [key, item] : value.items()) {
      if (properties.contains(key)) {
        check_against_schema(properties[key], item, path + "." + key, problems);
      } else if (schema.contains("additionalProperties") &&
                 schema["additionalProperties"].is_object()) {
        check_against_schema(schema["additionalProperties"], item, path + "." + key, problems);
      } else {
        problems.push_back(path + "." + key + ": not in the schema (a real API server prunes it)");
      }
    }
    for (const auto& required : schema.value("required", nlohmann::json::array())) {
      if (!value.contains(required.get<std::string>())) {
        problems.push_back(path + "." + required.get<std::string>() + ": required");
      }
    }
  } else if (type == "array") {
    if (!value.is_array()) {
      problems.push_back(path + ": want an array, got " + value.dump());
      return;
    }
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>()) {
      problems.push_back(path + ": fewer than " + schema["minItems"].dump() + " items");
    }
    for (size_t i = 0; i < value.size(); ++i) {
      check_against_schema(schema.value("items", nlohmann::json::object()), value[i],
                           path + "[" + std::to_string(i) + "]", problems);
    }
  } else if (type == "string") {
    if (!value.is_string()) {
      problems.push_back(path + ": want a string, got " + value.dump());
    } else {
      const auto text = value.get<std::string>();
      if (schema.contains("minLength") && text.size() < schema["minLength"].get<size_t>()) {
        problems.push_back(path + ": shorter than " + schema["minLength"].dump());
      }
      if (schema.contains("pattern") &&
          !std::regex_search(text, std::regex(schema["pattern"].get<std::string>()))) {
        problems.push_back(path + ": " + value.dump() + " does not match " +
                           schema["pattern"].get<std::string>());
      }
    }
  } else if (type == "integer" || type == "number") {
    const bool ok = type == "integer" ? value.is_number_integer() : value.is_number();
    if (!ok) {
      problems.push_back(path + ": want " + type + ", got " + value.dump());
    } else if (schema.contains("minimum") &&
               value.get<double>() < schema["minimum"].get<double>()) {
      problems.push_back(path + ": " + value.dump() + " is below the minimum " +
                         schema["minimum"].dump());
    }
  } else if (type == "boolean" && !value.is_boolean()) {
    problems.push_back(path + ": want a boolean, got " + value.dump());
  }
}

}  // namespace fairway::testing
