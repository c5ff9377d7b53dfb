#include "sim/apiserver/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "sim/apiserver/base64.h"
#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {

using nlohmann::json;

namespace {

// ---- words ------------------------------------------------------------------------------------

// Go's %v of a float64: the shortest representation, exponent form from 1e21 up or below 1e-4
// (fmt's %g with shortest precision switches at exponent -4 and 21 for %v).
std::string go_float(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
  if (x == std::floor(x) && std::fabs(x) < 1e21) return fmt::format("{:.0f}", x);
  const double magnitude = std::fabs(x);
  if (magnitude < 1e-4 || magnitude >= 1e21) {
    std::string e = fmt::format("{:e}", x);  // shortest digits are close enough for messages
    return e;
  }
  return fmt::format("{}", x);
}

// How field.Error prints a bad value: strings quoted (%q), numbers and booleans bare (%v), null
// as "null", anything else as its JSON.
std::string go_value(const json& v) {
  if (v.is_null()) return "\"null\"";
  if (v.is_string()) return v.dump();
  if (v.is_number_float()) return go_float(v.get<double>());
  return v.dump();
}

// %#v of a map[string]interface{} (list-map keys of a duplicate item): keys sorted as fmt does.
std::string go_map(const json& keys) {
  std::string out = "map[string]interface {}{";
  bool first = true;
  for (const auto& [k, v] : keys.items()) {
    out += fmt::format("{}\"{}\":{}", first ? "" : ", ", k,
                       v.is_null() ? "interface {}(nil)" : v.dump());
    first = false;
  }
  return out + "}";
}

FieldError invalid_value(const std::string& path, const json& value, const std::string& detail) {
  return {"FieldValueInvalid", path, "Invalid value: " + go_value(value) + ": " + detail};
}

FieldError type_invalid(const std::string& path, const std::string& value,
                        const std::string& detail) {
  return {"FieldValueTypeInvalid", path, "Invalid value: \"" + value + "\": " + detail};
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// ---- types ------------------------------------------------------------------------------------

bool is_integral(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && d == std::floor(d);
}

// The JSON type kube-openapi infers for a decoded value.
std::string type_of(const json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_string()) return "string";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

bool int_or_string(const json& s) {
  return flag(s, "x-kubernetes-int-or-string", false);
}

// The allowed types, joined as kube-openapi writes them ("integer,string"); "" when any.
std::string allowed_types(const json& s) {
  if (int_or_string(s)) return "integer,string";
  return str(s, "type");
}

bool type_matches(const std::string& allowed, const json& v) {
  if (allowed.empty()) return true;
  const std::string actual = type_of(v);
  size_t start = 0;
  while (start <= allowed.size()) {
    const size_t comma = allowed.find(',', start);
    const std::string want =
        allowed.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (want == actual) return true;
    if (want == "integer" && is_integral(v)) return true;  // 3.0 is an integer
    if (want == "number" && v.is_number()) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

// ---- formats ----------------------------------------------------------------------------------

const std::regex& cached_regex(const std::string& pattern, bool* ok) {
  static std::mutex mu;
  static std::map<std::string, std::pair<bool, std::regex>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    std::regex re;
    bool compiled = true;
    try {
      re = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      compiled = false;
    }
    it = cache.emplace(pattern, std::make_pair(compiled, std::move(re))).first;
  }
  *ok = it->second.first;
  return it->second.second;
}

bool matches(const std::string& pattern, const std::string& text) {
  bool ok = false;
  const std::regex& re = cached_regex(pattern, &ok);
  // A pattern this engine cannot compile is not held against the object (kube-apiserver
  // refuses such CRDs up front).
  return !ok || std::regex_search(text, re);
}

// The string formats kube-apiserver checks for custom resources (strfmt's default registry);
// formats it does not know are not checked.
bool format_ok(const std::string& format, const std::string& v) {
  if (format == "date-time" || format == "datetime") {
    return matches(R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$)",
                   v);
  }
  if (format == "date") return matches(R"(^\d{4}-\d{2}-\d{2}$)", v);
  if (format == "uuid") {
    return matches(
        R"(^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$)", v);
  }
  if (format == "ipv4") {
    return matches(R"(^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$)",
                   v);
  }
  if (format == "byte") return base64_decode(v).has_value();
  if (format == "duration") {
    return matches(R"(^(\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w)\s*)+$)", v);
  }
  return true;
}

// IsValueValidAgainstRange: an integer that does not fit its format.
bool integer_in_range(const std::string& format, const json& v) {
  if (format == "int32") {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= std::numeric_limits<int32_t>::max();
    if (v.is_number_integer()) {
      const int64_t i = v.get<int64_t>();
      return i >= std::numeric_limits<int32_t>::min() && i <= std::numeric_limits<int32_t>::max();
    }
    return std::fabs(v.get<double>()) <= 2147483648.0;
  }
  if (format == "int64") {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= std::numeric_limits<int64_t>::max();
    if (v.is_number_integer()) return true;
    return std::fabs(v.get<double>()) < 9223372036854775808.0;
  }
  return true;
}

// ---- validation -------------------------------------------------------------------------------

class Validator {
 public:
  std::vector<FieldError> errors;

  void value(const std::string& path, const json& v, const json& s) {
    if (!s.is_object()) return;
    const std::string types = allowed_types(s);
    if (v.is_null()) {
      if (!types.empty() && !flag(s, "nullable", false)) {
        errors.push_back(type_invalid(
            path, "null", fmt::format("{} in body must be of type {}: \"null\"", path, types)));
      }
      return;
    }
    if (!type_matches(types, v)) {
      const std::string actual = type_of(v);
      errors.push_back(type_invalid(
          path, actual, fmt::format("{} in body must be of type {}: \"{}\"", path, types, actual)));
      return;
    }
    combinators(path, v, s);
    if (v.is_string()) string(path, v.get<std::string>(), s);
    if (v.is_number()) number(path, v, s);
    if (v.is_array()) array(path, v, s);
    enumeration(path, v, s);
    if (v.is_object()) object(path, v, s);
  }

 private:
  static bool valid(const std::string& path, const json& v, const json& s) {
    Validator sub;
    sub.value(path, v, s);
    return sub.errors.empty();
  }

  // anyOf / allOf / oneOf / not: in a structural schema they only restate value validations.
  // kube-openapi reports an unmet anyOf/oneOf/not without a field path.
  void combinators(const std::string& path, const json& v, const json& s) {
    const auto unmet = [&](const char* what) {
      errors.push_back(
          {"FieldValueInvalid", "<nil>",
           fmt::format("Invalid value: []interface {{}}{{\"{}\"}}: \"{}\" {}", path, path, what)});
    };
    for (const json& sub : member(s, "allOf")) value(path, v, sub);
    if (const json& any = member(s, "anyOf"); any.is_array() && !any.empty()) {
      bool one = false;
      for (const json& sub : any) one = one || valid(path, v, sub);
      if (!one) unmet("must validate at least one schema (anyOf)");
    }
    if (const json& one_of = member(s, "oneOf"); one_of.is_array() && !one_of.empty()) {
      int n = 0;
      for (const json& sub : one_of) n += valid(path, v, sub) ? 1 : 0;
      if (n != 1) unmet("must validate one and only one schema (oneOf)");
    }
    if (const json& no = member(s, "not"); no.is_object() && valid(path, v, no)) {
      unmet("must not validate the schema (not)");
    }
  }

  void string(const std::string& path, const std::string& v, const json& s) {
    // Lengths count characters (UTF-8 code points), as Go's utf8.RuneCountInString.
    int64_t length = 0;
    for (unsigned char c : v) length += (c & 0xC0) != 0x80 ? 1 : 0;
    if (const json& max = member(s, "maxLength");
        max.is_number_integer() && length > max.get<int64_t>()) {
      errors.push_back({"FieldValueTooLong", path,
                        fmt::format("Too long: may not be longer than {}", max.get<int64_t>())});
    } else if (const json& min = member(s, "minLength");
               min.is_number_integer() && length < min.get<int64_t>()) {
      errors.push_back(invalid_value(
          path, v,
          fmt::format("{} in body should be at least {} chars long", path, min.get<int64_t>())));
    } else if (const std::string pattern = str(s, "pattern");
               !pattern.empty() && !matches(pattern, v)) {
      errors.push_back(
          invalid_value(path, v, fmt::format("{} in body should match '{}'", path, pattern)));
    }
    const std::string format = str(s, "format");
    if (!format.empty() && str(s, "type") == "string" && !format_ok(format, v)) {
      errors.push_back(type_invalid(
          path, v, fmt::format("{} in body must be of type {}: {}", path, format, json(v).dump())));
    }
  }

  void number(const std::string& path, const json& v, const json& s) {
    const std::string type = str(s, "type");
    const std::string format = str(s, "format");
    if (type == "integer" && !integer_in_range(format, v)) {
      // Not a field error in kube-openapi: apiextensions reports it without a path.
      errors.push_back({"FieldValueInvalid", "<nil>",
                        fmt::format("Invalid value: \"\": Checked value must be of type integer "
                                    "with format {} in {}",
                                    format, path)});
    }
    const double d = v.get<double>();
    if (const json& min = member(s, "minimum"); min.is_number()) {
      const bool exclusive = flag(s, "exclusiveMinimum", false);
      const double bound = min.get<double>();
      if (exclusive ? d <= bound : d < bound) {
        errors.push_back(
            invalid_value(path, v,
                          fmt::format("{} in body should be greater than {}{}", path,
                                      exclusive ? "" : "or equal to ", go_float(bound))));
      }
    }
    if (const json& max = member(s, "maximum"); max.is_number()) {
      const bool exclusive = flag(s, "exclusiveMaximum", false);
      const double bound = max.get<double>();
      if (exclusive ? d >= bound : d > bound) {
        errors.push_back(
            invalid_value(path, v,
                          fmt::format("{} in body should be less than {}{}", path,
                                      exclusive ? "" : "or equal to ", go_float(bound))));
      }
    }
  }

  void array(const std::string& path, const json& v, const json& s) {
    if (const json& items = member(s, "items"); items.is_object()) {
      for (size_t i = 0; i < v.size(); ++i) value(fmt::format("{}[{}]", path, i), v[i], items);
    }
    const auto size = static_cast<int64_t>(v.size());
    if (const json& min = member(s, "minItems");
        min.is_number_integer() && size < min.get<int64_t>()) {
      errors.push_back(invalid_value(
          path, size,
          fmt::format("{} in body should have at least {} items", path, min.get<int64_t>())));
    }
    if (const json& max = member(s, "maxItems");
        max.is_number_integer() && size > max.get<int64_t>()) {
      errors.push_back(
          {"FieldValueTooMany", path,
           fmt::format("Too many: {}: must have at most {} items", size, max.get<int64_t>())});
    }
  }

  void enumeration(const std::string& path, const json& v, const json& s) {
    const json& allowed = member(s, "enum");
    if (!allowed.is_array() || allowed.empty()) return;
    std::vector<std::string> quoted;
    for (const json& a : allowed) {
      if (a == v) return;
      quoted.push_back(json(a.is_string() ? a.get<std::string>() : a.dump()).dump());
    }
    std::string detail = "supported values: ";
    for (size_t i = 0; i < quoted.size(); ++i) detail += (i ? ", " : "") + quoted[i];
    errors.push_back(
        {"FieldValueNotSupported", path, "Unsupported value: " + go_value(v) + ": " + detail});
  }

  void object(const std::string& path, const json& v, const json& s) {
    for (const json& r : member(s, "required")) {
      if (r.is_string() && !v.contains(r.get<std::string>())) {
        errors.push_back({"FieldValueRequired", child(path, r), "Required value"});
      }
    }
    const json& properties = member(s, "properties");
    const json& additional = member(s, "additionalProperties");
    for (const auto& [key, sub] : v.items()) {
      // Object metadata is validated as ObjectMeta, not by the schema.
      if (path.empty() && (key == "metadata" || key == "apiVersion" || key == "kind")) continue;
      if (const json& p = member(properties, key); p.is_object()) {
        value(child(path, key), sub, p);
      } else if (additional.is_object()) {
        value(child(path, key), sub, additional);
      }
    }
  }
};

// x-kubernetes-list-type set/map: duplicates, reported after the schema's own errors.
void list_types(const std::string& path, const json& v, const json& s,
                std::vector<FieldError>& errors) {
  if (!s.is_object()) return;
  if (v.is_object()) {
    const json& properties = member(s, "properties");
    const json& additional = member(s, "additionalProperties");
    for (const auto& [key, sub] : v.items()) {
      if (path.empty() && key == "metadata") continue;
      const json& p = member(properties, key);
      list_types(child(path, key), sub, p.is_object() ? p : additional, errors);
    }
    return;
  }
  if (!v.is_array()) return;
  const std::string list_type = str(s, "x-kubernetes-list-type");
  if (list_type == "set") {
    for (size_t i = 0; i < v.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (v[j] == v[i]) {
          errors.push_back({"FieldValueDuplicate", fmt::format("{}[{}]", path, i),
                            "Duplicate value: " + go_value(v[i])});
          break;
        }
      }
    }
  } else if (list_type == "map") {
    std::set<std::string> seen;
    for (size_t i = 0; i < v.size(); ++i) {
      json keys = json::object();
      for (const json& k : member(s, "x-kubernetes-list-map-keys")) {
        if (k.is_string()) keys[k.get<std::string>()] = member(v[i], k.get<std::string>());
      }
      if (!seen.insert(keys.dump()).second) {
        errors.push_back({"FieldValueDuplicate", fmt::format("{}[{}]", path, i),
                          "Duplicate value: " + go_map(keys)});
      }
    }
  }
  const json& items = member(s, "items");
  for (size_t i = 0; i < v.size(); ++i) {
    list_types(fmt::format("{}[{}]", path, i), v[i], items, errors);
  }
}

bool preserves_unknown(const json& s) {
  return flag(s, "x-kubernetes-preserve-unknown-fields", false);
}

// Erases what the schema does not know; `dropped` (when set) collects the erased fields' paths
// ("spec.foo", "spec.levels[1].bar"), for fieldValidation.
void prune(json& v, const json& s, bool root, const std::string& path,
           std::vector<std::string>* dropped) {
  if (!s.is_object()) return;
  if (v.is_array()) {
    if (const json& items = member(s, "items"); items.is_object()) {
      for (size_t i = 0; i < v.size(); ++i) {
        prune(v[i], items, false, dropped ? path + "[" + std::to_string(i) + "]" : "", dropped);
      }
    }
    return;
  }
  if (!v.is_object()) return;
  const bool embedded = root || flag(s, "x-kubernetes-embedded-resource", false);
  const json& properties = member(s, "properties");
  const json& additional = member(s, "additionalProperties");
  for (auto it = v.begin(); it != v.end();) {
    const std::string& key = it.key();
    const std::string at = !dropped ? "" : path.empty() ? key : path + "." + key;
    if (embedded && (key == "apiVersion" || key == "kind" || key == "metadata")) {
      ++it;
    } else if (const json& p = member(properties, key); p.is_object()) {
      prune(it.value(), p, false, at, dropped);
      ++it;
    } else if (additional.is_object()) {
      prune(it.value(), additional, false, at, dropped);
      ++it;
    } else if (additional == true || preserves_unknown(s)) {
      ++it;
    } else {
      if (dropped) dropped->push_back(at);
      it = v.erase(it);
    }
  }
}

const json& field_schema(const json& s, const std::string& key) {
  const json& p = member(member(s, "properties"), key);
  return p.is_object() ? p : member(s, "additionalProperties");
}

// Drops non-nullable nulls that have no default (PruneNonNullableNullsWithoutDefaults), then
// fills in defaults, top-down so that a defaulted object gets its own fields' defaults.
void defaults(json& v, const json& s, bool root) {
  if (!s.is_object()) return;
  if (v.is_array()) {
    if (const json& items = member(s, "items"); items.is_object()) {
      for (json& item : v) defaults(item, items, false);
    }
    return;
  }
  if (!v.is_object()) return;
  for (auto it = v.begin(); it != v.end();) {
    const json& sub = field_schema(s, it.key());
    if (it->is_null() && sub.is_object() && !flag(sub, "nullable", false) &&
        !sub.contains("default")) {
      it = v.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, sub] : member(s, "properties").items()) {
    if (root && key == "metadata") continue;
    const json& fallback = member(sub, "default");
    if (fallback.is_null()) continue;
    const auto it = v.find(key);
    if (it == v.end() || (it->is_null() && !flag(sub, "nullable", false))) v[key] = fallback;
  }
  for (auto& [key, value] : v.items()) {
    if (root && key == "metadata") continue;
    defaults(value, field_schema(s, key), false);
  }
}

}  // namespace

SchemaPtr crd_storage_schema(const json& crd) {
  for (const json& version : member(member(crd, "spec"), "versions")) {
    if (!flag(version, "storage", false)) continue;
    const json& schema = member(member(version, "schema"), "openAPIV3Schema");
    if (schema.is_object()) return std::make_shared<const json>(schema);
  }
  return nullptr;
}

std::vector<std::string> unknown_fields(const json& object, const json& schema) {
  std::vector<std::string> dropped;
  json copy = object;
  prune(copy, schema, true, "", &dropped);
  return dropped;
}

void prune_unknown_fields(json& object, const json& schema) {
  prune(object, schema, true, "", nullptr);
}

void apply_schema_defaults(json& object, const json& schema) {
  defaults(object, schema, true);
}

std::vector<FieldError> validate_against_schema(const json& object, const json& schema) {
  Validator validator;
  if (object.is_object()) {
    validator.value("", object, schema);
  } else {
    validator.errors.push_back(type_invalid(
        "", type_of(object), "in body must be of type object: \"" + type_of(object) + "\""));
  }
  list_types("", object, schema, validator.errors);
  return std::move(validator.errors);
}

ApiError invalid_custom_resource(const std::string& kind, const std::string& group,
                                 const std::string& name, const std::vector<FieldError>& errors) {
  json details = error_details(name, group, kind);
  details["causes"] = json::array();
  std::vector<std::string> texts;  // the aggregate drops repeated messages
  for (const FieldError& e : errors) {
    details["causes"].push_back({{"reason", e.reason}, {"message", e.body}, {"field", e.field}});
    if (std::find(texts.begin(), texts.end(), e.text()) == texts.end()) texts.push_back(e.text());
  }
  std::string aggregate;
  if (texts.size() == 1) {
    aggregate = texts.front();
  } else {
    aggregate = "[";
    for (size_t i = 0; i < texts.size(); ++i) aggregate += (i ? ", " : "") + texts[i];
    aggregate += "]";
  }
  const std::string qualified_kind = group.empty() ? kind : kind + "." + group;
  return {422, "Invalid", qualified_kind + " \"" + name + "\" is invalid: " + aggregate,
          std::move(details)};
}

tl::expected<void, ApiError> admit_custom_resource(const std::string& kind,
                                                   const std::string& group, const json& schema,
                                                   json& object) {
  prune_unknown_fields(object, schema);
  apply_schema_defaults(object, schema);
  const std::vector<FieldError> errors = validate_against_schema(object, schema);
  if (errors.empty()) return {};
  return tl::unexpected(
      invalid_custom_resource(kind, group, str(member(object, "metadata"), "name"), errors));
}

}  // namespace fairway::apiserver
