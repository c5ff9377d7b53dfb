#include "scheduler/agent/visible_gpu.h"

#include <fmt/format.h>

#include <charconv>

namespace fairway::agent {
namespace {

std::vector<std::string> split_devices(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string::npos ? text.size() : comma;
    std::string item = text.substr(start, end - start);
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool looks_like_uuid(const std::string& device) {
  return device.starts_with("GPU-") || device.starts_with("MIG-");
}

}  // namespace

tl::expected<VisibleGpu, std::string> resolve_visible_gpu(
    const std::string& visible, const tl::expected<GpuTopologyDoc, std::string>& nvml) {
  const std::vector<std::string> devices = split_devices(visible);
  if (devices.empty()) {
    return tl::unexpected(
        std::string("NVIDIA_VISIBLE_DEVICES is empty: the pod was given no GPU (does it request "
                    "nvidia.com/gpu: 1, and does the node run the NVIDIA device plugin?)"));
  }
  if (devices.size() != 1) {
    return tl::unexpected(fmt::format(
        "NVIDIA_VISIBLE_DEVICES=\"{}\" names {} devices; a reservation pod holds exactly one",
        visible, devices.size()));
  }
  const std::string& device = devices.front();
  if (device == "all" || device == "none" || device == "void") {
    return tl::unexpected(fmt::format(
        "NVIDIA_VISIBLE_DEVICES=\"{}\" does not name a GPU: the device plugin must assign one",
        device));
  }
  if (looks_like_uuid(device)) {
    if (!nvml) return VisibleGpu{device, false};
    for (const GpuDevice& gpu : nvml->gpus) {
      if (gpu.uuid == device) return VisibleGpu{device, true};
    }
    return tl::unexpected(
        fmt::format("NVIDIA_VISIBLE_DEVICES names {}, but NVML lists no such GPU", device));
  }
  int index = -1;
  const auto [end, error] = std::from_chars(device.data(), device.data() + device.size(), index);
  if (error != std::errc() || end != device.data() + device.size() || index < 0) {
    return tl::unexpected(
        fmt::format("NVIDIA_VISIBLE_DEVICES=\"{}\" is neither a GPU UUID nor an index", device));
  }
  if (!nvml) {
    return tl::unexpected(fmt::format(
        "NVIDIA_VISIBLE_DEVICES names GPU index {}, and NVML is needed to find its UUID: {}", index,
        nvml.error()));
  }
  for (const GpuDevice& gpu : nvml->gpus) {
    if (gpu.index == index && !gpu.uuid.empty()) return VisibleGpu{gpu.uuid, true};
  }
  // Inside the container NVML numbers only the visible GPUs: a lone GPU is index 0 there.
  if (nvml->gpus.size() == 1 && !nvml->gpus.front().uuid.empty()) {
    return VisibleGpu{nvml->gpus.front().uuid, true};
  }
  return tl::unexpected(fmt::format("NVML lists no GPU with index {}", index));
}

}  // namespace fairway::agent
