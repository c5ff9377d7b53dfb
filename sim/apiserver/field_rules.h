#pragma once
// Built-in kinds' validation as kube-apiserver words it (workload_validation.cpp,
// dra_validation.cpp): one failed rule at a time, with the field path and field.Error's text,
// and the DNS-1123 rules its name checks use.

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>

namespace fairway::apiserver::rules {

// One failed rule: the field path and kube-apiserver's words for it ("Required value", ...).
struct FieldError {
  std::string field;
  std::string why;
};
using Check = std::optional<FieldError>;

inline std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump();
}

inline constexpr const char* kLabelWords =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

// ValidateDNS1123Label's test: at most 63 characters of [a-z0-9-], alphanumeric at both ends.
inline bool dns_label(const std::string& s) {
  static const std::regex label("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  return s.size() <= 63 && std::regex_match(s, label);
}

}  // namespace fairway::apiserver::rules
