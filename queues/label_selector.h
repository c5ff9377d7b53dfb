#pragma once
// A Kubernetes metav1.LabelSelector (matchLabels + matchExpressions), decoded, and its matching.
// Used by Queue.spec.namespaceSelector to say which namespaces may submit to a queue.

#include <string>
#include <vector>

#include "queues/flat_map.h"

namespace fairway {

struct LabelSelectorRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kIn;
  std::vector<std::string> values;
};

struct LabelSelector {
  FlatMap<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  // Set when the object's selector could not be read: such a selector matches nothing, so a
  // mistyped selector closes the queue instead of opening it to every namespace.
  std::string invalid;
};

// True when every matchLabels entry and every expression holds for `labels` (an empty, valid
// selector matches everything, as in Kubernetes).
bool selector_matches(const LabelSelector& selector,
                      const FlatMap<std::string, std::string>& labels);

// "team=a,tier in (gold,silver),!legacy" — for messages.
std::string describe_selector(const LabelSelector& selector);

}  // namespace fairway
