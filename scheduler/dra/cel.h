#pragma once
// The subset of CEL that DRA device selectors are written in (docs/dra.md lists it), compiled once
// per expression text into an AST and evaluated against one device.
//
// Semantics follow cel-go as Kubernetes configures it: `&&` and `||` are commutative with respect
// to errors (false && error is false, true || error is true; otherwise the error wins), a missing
// attribute is the runtime error "no such key: <name>", values of different types are never equal,
// and ordering across types is "no such overload". An expression outside the subset does not
// compile, with a message naming the construct ("unsupported CEL function \"size\"").

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scheduler/dra/model.h"

namespace fairway::dra {

// A semantic version 2.0.0 ("1.2.3-rc.1+build"): build metadata is kept out of the precedence.
struct SemVer {
  int64_t major = 0;
  int64_t minor = 0;
  int64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers
};
std::optional<SemVer> parse_semver(std::string_view text);
// -1, 0, 1 by semver precedence (prerelease sorts before release; numeric identifiers numerically).
int compare_semver(const SemVer& a, const SemVer& b);

// The input of a selector: a device and the driver of its slice.
struct DeviceView {
  const std::string& driver;
  const Device& device;
};

struct CelNode;  // the AST (cel.cpp)

// A compiled expression. Immutable: safe to evaluate from several threads.
class CelProgram {
 public:
  explicit CelProgram(std::string expression, std::shared_ptr<const CelNode> root);
  const std::string& expression() const { return expression_; }
  // true/false, or the runtime error ("no such key: model").
  tl::expected<bool, std::string> evaluate(const DeviceView& device) const;

 private:
  std::string expression_;
  std::shared_ptr<const CelNode> root_;
};

// Parses and checks `expression`; the error names what is wrong or unsupported.
tl::expected<std::shared_ptr<const CelProgram>, std::string> compile_cel(
    std::string_view expression);

// Compiled programs by expression text: each selector is parsed once however many devices,
// claims and cycles evaluate it. Thread-safe. Entries are never evicted: the expressions of a
// cluster's classes and claims are few (kube-scheduler caches them the same way).
class CelCache {
 public:
  using Compiled = tl::expected<std::shared_ptr<const CelProgram>, std::string>;
  Compiled get_or_compile(const std::string& expression);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Compiled, std::less<>> programs_;
};

}  // namespace fairway::dra
