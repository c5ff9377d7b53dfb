#pragma once
// The GPUs of one node and the links between them: NVLink (direct), NVSwitch (every GPU on the
// same switch fabric), and the PCIe/CPU path NVML reports for pairs without NVLink. Built with
// Boost.Graph once per distinct node layout (nodes with the same layout share one graph), then
// queried by the scheduling cycle with plain bit masks of free GPUs.
//
// Two facts the cycle needs:
//   - NVLink islands: connected components over NVLink/NVSwitch edges. A multi-GPU pod inside
//     one island talks at NVLink speed; across islands only over PCIe or the CPU interconnect.
//   - the widest path between every pair (max over paths of the min edge bandwidth): the
//     bottleneck bandwidth two GPUs can expect, whatever route the collective library takes.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace fairway {

enum class GpuLinkType {
  kNvLink,          // direct NVLink between the two GPUs (bridge, DGX-1 mesh)
  kNvSwitch,        // both GPUs on the same NVSwitch fabric (HGX/DGX, NVL72 inside a tray)
  kPcieSwitch,      // PCIe, through one or more PCIe switches (NVML SINGLE/MULTIPLE)
  kPcieHostBridge,  // PCIe, through the CPU's host bridge (NVML HOSTBRIDGE)
  kNuma,            // same NUMA node, different host bridges (NVML NODE)
  kSmp,             // across CPU sockets (NVML SYSTEM)
  kPcie,            // PCIe, path unknown (inferred from labels)
};

const char* link_type_name(GpuLinkType type);
std::optional<GpuLinkType> parse_link_type(std::string_view name);
bool is_nvlink(GpuLinkType type);
// Estimated bidirectional GB/s when a link carries no measured bandwidth (docs/topology.md).
double default_bandwidth_gbps(GpuLinkType type);

struct GpuLink {
  int a = 0;
  int b = 0;
  GpuLinkType type = GpuLinkType::kPcie;
  double bandwidth_gbps = 0;  // 0: default_bandwidth_gbps(type)
};

class GpuLinkGraph {
 public:
  // Bit masks of GPUs are uint64_t: nodes with more GPUs get no graph (unknown topology).
  static constexpr int kMaxGpus = 64;

  // Links naming the same pair are merged: NVLink bandwidths add up (several links between the
  // same GPUs), otherwise the widest wins. Errors: GPU count out of range, a link naming a GPU
  // that does not exist or itself, a negative bandwidth.
  static tl::expected<GpuLinkGraph, std::string> build(int gpus, std::span<const GpuLink> links);

  int gpu_count() const { return gpus_; }
  uint64_t all_gpus() const { return gpus_ == 64 ? ~uint64_t{0} : (uint64_t{1} << gpus_) - 1; }
  int island_of(int gpu) const { return island_of_[static_cast<size_t>(gpu)]; }
  const std::vector<uint64_t>& islands() const { return islands_; }
  // Every GPU in one NVLink island: any free GPUs are NVLink-connected.
  bool one_island() const { return islands_.size() == 1 && gpus_ > 1; }
  // Widest-path bandwidth between two GPUs; 0 when not connected at all.
  double widest(int a, int b) const {
    return widest_[static_cast<size_t>(a) * static_cast<size_t>(gpus_) + static_cast<size_t>(b)];
  }
  // The slowest pair of a GPU set: what an all-reduce among them runs at. nullopt below 2 GPUs.
  std::optional<double> bottleneck(uint64_t gpus) const;
  // Free GPUs of the island with the most free GPUs.
  int largest_free_island(uint64_t free) const;
  // The GPUs a pod asking `count` should get from `free`: the smallest island that holds it
  // (best fit, so whole islands stay for bigger pods), else the set with the widest bottleneck.
  // Empty when fewer than `count` are free.
  uint64_t choose(uint64_t free, int count) const;
  // Which GPUs to treat as busy when only their number is known (pods placed before fairway
  // tracked GPU sets): islands are filled smallest first, as choose() would have done.
  uint64_t assume_used(int used) const;
  // Same layout ⇔ same signature (GPU count, merged links); used to share one graph.
  const std::string& signature() const { return signature_; }
  const std::vector<GpuLink>& links() const { return links_; }

 private:
  int gpus_ = 0;
  std::vector<GpuLink> links_;  // merged, a < b, sorted
  std::vector<int> island_of_;
  std::vector<uint64_t> islands_;
  // Islands where every pair has the same widest path (an NVSwitch fabric, a bridged pair): any
  // GPUs of it are as good as any others, so choose() takes the lowest free ones directly.
  std::vector<bool> uniform_;
  std::vector<double> widest_;
  std::string signature_;
};

}  // namespace fairway
