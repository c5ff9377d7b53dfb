// TEMPORARY: replaced by volume_binding.cpp (branch volumes) at merge.
#include "scheduler/state/volume_binding.h"

namespace fairway {

std::optional<std::string> volume_prefilter(const ClusterState&, const Pod&) { return std::nullopt; }

VolumeVerdict volume_filter(const ClusterState&, const Pod&, const Node&,
                            const std::unordered_set<std::string>&) {
  return {};
}

}  // namespace fairway
