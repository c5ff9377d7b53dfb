#pragma once
// Dense ids of ClusterState's records (slots in its vectors), shared by the indexes it owns.

#include <cstdint>
#include <limits>

namespace fairway {

using NodeId = uint32_t;
using PodId = uint32_t;
using JobId = uint32_t;
inline constexpr NodeId kNoNode = std::numeric_limits<NodeId>::max();

}  // namespace fairway
