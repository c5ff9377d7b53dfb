#include "sim/apiserver/kubernetes_version.h"

#include <fmt/format.h>

#include <charconv>

namespace fairway::apiserver {

tl::expected<KubernetesVersion, std::string> KubernetesVersion::parse(std::string_view text) {
  const std::string_view original = text;
  if (text.starts_with('v')) text.remove_prefix(1);
  int major = 0;
  int minor = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, major);
  bool ok = ec == std::errc() && p != end && *p == '.';
  if (ok) {
    auto [q, ec2] = std::from_chars(p + 1, end, minor);
    ok = ec2 == std::errc() && q != p + 1;
    if (ok && q != end) {  // a patch release: ".N"
      int patch = 0;
      auto [r, ec3] = std::from_chars(q + 1, end, patch);
      ok = *q == '.' && ec3 == std::errc() && r == end && r != q + 1;
    }
  }
  if (!ok || major != 1) {
    return tl::unexpected(
        fmt::format("\"{}\" is not a Kubernetes version (e.g. 1.24 or v1.35.0)", original));
  }
  if (minor < kOldestMinor || minor > kCurrentMinor) {
    return tl::unexpected(fmt::format("Kubernetes {} is not modelled: use 1.{} to 1.{}", original,
                                      kOldestMinor, kCurrentMinor));
  }
  return KubernetesVersion{minor};
}

std::string KubernetesVersion::git_version() const {
  return fmt::format("v1.{}.0-fairway", minor);
}

}  // namespace fairway::apiserver
