#pragma once
// Which Kubernetes release the embedded API server answers as (`fairway apiserver
// --kubernetes-version`): /version and discovery serve what that release serves, so a client's
// discovery path (fairway's evictor, kubectl, helm) meets old and new clusters in tests. Only
// the minor version changes what is served.

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace fairway::apiserver {

struct KubernetesVersion {
  static constexpr int kOldestMinor = 19;   // the oldest release modelled
  static constexpr int kCurrentMinor = 35;  // the current release: the default
  int minor = kCurrentMinor;

  // "1.24", "v1.24" or "v1.24.3"; only 1.19 to the current release.
  static tl::expected<KubernetesVersion, std::string> parse(std::string_view text);
  std::string git_version() const;  // "v1.24.0-fairway"
};

// A range of minor releases an API version is served in, both ends included.
struct ServedRange {
  int since = 0;
  int until = 1000;
  bool contains(int minor) const { return minor >= since && minor <= until; }
};

}  // namespace fairway::apiserver
