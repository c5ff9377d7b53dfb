#pragma once
// Which GPU a reservation pod holds: the device plugin names it in NVIDIA_VISIBLE_DEVICES (a
// UUID such as "GPU-5c1e…", or an index with DEVICE_LIST_STRATEGY/ID_TYPE=index), and NVML,
// when it can be loaded, confirms it exists and turns an index into its UUID. A reservation pod
// asks for exactly one GPU, so anything but one device is an error, never a guess.

#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "topology/gpu_topology.h"

namespace fairway::agent {

struct VisibleGpu {
  std::string uuid;
  bool verified = false;  // NVML listed it
};

// `visible`: the value of NVIDIA_VISIBLE_DEVICES; `nvml`: the GPUs NVML reports, or the error
// loading it (then a UUID is taken as given, unverified, and an index cannot be resolved).
tl::expected<VisibleGpu, std::string> resolve_visible_gpu(
    const std::string& visible, const tl::expected<GpuTopologyDoc, std::string>& nvml);

}  // namespace fairway::agent
