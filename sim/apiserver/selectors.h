#pragma once
// Label and field selectors with kube-apiserver's grammar.
//
// Labels: equality (`a=b`, `a==b`, `a!=b`), set-based (`a in (x,y)`, `a notin (x)`, `a`, `!a`),
// and `a>1`, `a<1`, comma-separated (AND). Fields: `path=value`, `path==value`, `path!=value`
// with `\,` `\=` `\\` escapes; which paths a resource supports is decided by the caller.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace fairway::apiserver {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGreater, kLess };
  struct Requirement {
    std::string key;
    Op op = Op::kEquals;
    std::vector<std::string> values;
  };

  // The `labelSelector` query parameter.
  static tl::expected<LabelSelector, std::string> parse(std::string_view text);
  // A metav1.LabelSelector object ({matchLabels, matchExpressions}), as in PDBs. Null: matches
  // everything (policy/v1 semantics for an empty selector).
  static tl::expected<LabelSelector, std::string> from_json(const nlohmann::json& selector);

  bool empty() const { return requirements_.empty(); }
  // labels: the object's metadata.labels (may be null).
  bool matches(const nlohmann::json& labels) const;

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  struct Requirement {
    std::string field;  // dotted path, e.g. "spec.nodeName"
    bool equals = true;
    std::string value;
  };

  static tl::expected<FieldSelector, std::string> parse(std::string_view text);

  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // Missing fields compare as "" (as kube-apiserver's field sets do).
  bool matches(const nlohmann::json& object) const;

 private:
  std::vector<Requirement> requirements_;
};

// The string at a dotted path ("involvedObject.name"); numbers and booleans as text, else "".
std::string field_value(const nlohmann::json& object, std::string_view path);

}  // namespace fairway::apiserver
