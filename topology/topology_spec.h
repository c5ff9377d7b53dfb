#pragma once
// A Topology custom resource (scheduling.fairway.dev/v1alpha1), decoded: the node-label levels
// of the network fabric, top to bottom (e.g. spine, rack, nvidia.com/gpu.clique, hostname).

#include <optional>
#include <string>
#include <vector>

namespace fairway {

struct TopologyLevel {
  std::string node_label;
  std::optional<double> bandwidth_gbps;  // between domains of the level above, inside this one
};

struct TopologySpec {
  std::string name;
  std::vector<TopologyLevel> levels;  // top to bottom
};

}  // namespace fairway
