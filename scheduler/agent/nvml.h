#pragma once
// Reads this machine's GPUs and the links between them through NVML, loaded with dlopen so the
// `fairway` binary has no link-time dependency on the NVIDIA driver (it runs on CPU nodes and in
// CI). The result is the document published as the node annotation fairway.dev/gpu-topology
// (topology/gpu_topology.h, docs/topology.md).
//
// What is read: per GPU its index, UUID, name, memory, PCI bus id and NUMA node; per NVLink its
// state and the PCI bus id at the far end (a GPU: a direct link; anything else: an NVSwitch);
// and for every pair without NVLink the common PCIe ancestor. GPUs that reach a common NVSwitch
// are linked as "nvswitch" at the narrower of their two switch bandwidths.

#include <string>
#include <tl/expected.hpp>

#include "topology/gpu_topology.h"

namespace fairway::agent {

inline constexpr const char* kDefaultNvmlLibrary = "libnvidia-ml.so.1";

// `library`: a file name (searched like dlopen does) or a path. Errors read like
// "cannot load libnvidia-ml.so.1: ... (is the NVIDIA driver installed and the container given
// the GPU runtime?)".
tl::expected<GpuTopologyDoc, std::string> read_gpu_topology(const std::string& library);

}  // namespace fairway::agent
