#include "queues/label_selector.h"

#include <fmt/format.h>

#include <algorithm>

namespace fairway {

bool selector_matches(const LabelSelector& selector,
                      const FlatMap<std::string, std::string>& labels) {
  if (!selector.invalid.empty()) return false;
  for (const auto& [key, value] : selector.match_labels) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const LabelSelectorRequirement& requirement : selector.match_expressions) {
    auto it = labels.find(requirement.key);
    const bool present = it != labels.end();
    const bool listed = present && std::find(requirement.values.begin(), requirement.values.end(),
                                             it->second) != requirement.values.end();
    switch (requirement.op) {
      case LabelSelectorRequirement::Operator::kIn:
        if (!listed) return false;
        break;
      case LabelSelectorRequirement::Operator::kNotIn:
        if (listed) return false;
        break;
      case LabelSelectorRequirement::Operator::kExists:
        if (!present) return false;
        break;
      case LabelSelectorRequirement::Operator::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

std::string describe_selector(const LabelSelector& selector) {
  if (!selector.invalid.empty()) return fmt::format("<invalid: {}>", selector.invalid);
  std::vector<std::string> parts;
  for (const auto& [key, value] : selector.match_labels) parts.push_back(key + "=" + value);
  for (const LabelSelectorRequirement& r : selector.match_expressions) {
    switch (r.op) {
      case LabelSelectorRequirement::Operator::kIn:
        parts.push_back(fmt::format("{} in ({})", r.key, fmt::join(r.values, ",")));
        break;
      case LabelSelectorRequirement::Operator::kNotIn:
        parts.push_back(fmt::format("{} notin ({})", r.key, fmt::join(r.values, ",")));
        break;
      case LabelSelectorRequirement::Operator::kExists:
        parts.push_back(r.key);
        break;
      case LabelSelectorRequirement::Operator::kDoesNotExist:
        parts.push_back("!" + r.key);
        break;
    }
  }
  return parts.empty() ? std::string("<everything>") : fmt::format("{}", fmt::join(parts, ","));
}

}  // namespace fairway
