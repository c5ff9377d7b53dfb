#include "scheduler/agent/nvml.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace fairway::agent {
namespace {

// The slice of nvml.h used here, with the driver's ABI (NVML 11+).
using NvmlReturn = int;
using NvmlDevice = void*;
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned kMaxNvLinks = 18;  // NVML_NVLINK_MAX_LINKS
struct NvmlPciInfo {
  char bus_id_legacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pci_device_id;
  unsigned pci_subsystem_id;
  char bus_id[32];
};
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
enum NvmlTopologyLevel {
  kTopologyInternal = 0,
  kTopologySingle = 10,
  kTopologyMultiple = 20,
  kTopologyHostBridge = 30,
  kTopologyNode = 40,
  kTopologySystem = 50,
};

struct Closer {
  void operator()(void* handle) const {
    if (handle != nullptr) dlclose(handle);
  }
};

class Nvml {
 public:
  static tl::expected<Nvml, std::string> load(const std::string& library) {
    Nvml nvml;
    nvml.handle_.reset(dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!nvml.handle_) {
      const char* error = dlerror();
      return tl::unexpected(fmt::format(
          "cannot load {}: {} (is the NVIDIA driver installed, and the container started with "
          "the NVIDIA runtime?)",
          library, error != nullptr ? error : "unknown error"));
    }
    std::string missing;
    auto need = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(nvml.handle_.get(), name));
      if (fn == nullptr) missing += (missing.empty() ? "" : ", ") + std::string(name);
    };
    auto want = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(nvml.handle_.get(), name));
    };
    need(nvml.init, "nvmlInit_v2");
    need(nvml.shutdown, "nvmlShutdown");
    need(nvml.count, "nvmlDeviceGetCount_v2");
    need(nvml.by_index, "nvmlDeviceGetHandleByIndex_v2");
    need(nvml.uuid, "nvmlDeviceGetUUID");
    need(nvml.name, "nvmlDeviceGetName");
    need(nvml.memory, "nvmlDeviceGetMemoryInfo");
    need(nvml.pci, "nvmlDeviceGetPciInfo_v3");
    need(nvml.ancestor, "nvmlDeviceGetTopologyCommonAncestor");
    want(nvml.error_string, "nvmlErrorString");
    want(nvml.link_state, "nvmlDeviceGetNvLinkState");
    want(nvml.link_remote, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
    want(nvml.link_version, "nvmlDeviceGetNvLinkVersion");
    want(nvml.memory_affinity, "nvmlDeviceGetMemoryAffinity");
    if (!missing.empty()) {
      return tl::unexpected(fmt::format("{} lacks {}: the driver is too old", library, missing));
    }
    return nvml;
  }

  std::string error(NvmlReturn code) const {
    if (error_string != nullptr) {
      if (const char* text = error_string(code)) return fmt::format("{} ({})", text, code);
    }
    return fmt::format("NVML error {}", code);
  }

  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
  NvmlReturn (*count)(unsigned*) = nullptr;
  NvmlReturn (*by_index)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*uuid)(NvmlDevice, char*, unsigned) = nullptr;
  NvmlReturn (*name)(NvmlDevice, char*, unsigned) = nullptr;
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*pci)(NvmlDevice, NvmlPciInfo*) = nullptr;
  NvmlReturn (*ancestor)(NvmlDevice, NvmlDevice, int*) = nullptr;
  NvmlReturn (*link_state)(NvmlDevice, unsigned, int*) = nullptr;
  NvmlReturn (*link_remote)(NvmlDevice, unsigned, NvmlPciInfo*) = nullptr;
  NvmlReturn (*link_version)(NvmlDevice, unsigned, unsigned*) = nullptr;
  NvmlReturn (*memory_affinity)(NvmlDevice, unsigned, unsigned long*, int) = nullptr;

 private:
  std::unique_ptr<void, Closer> handle_;
};

// Bidirectional GB/s of one NVLink by NVLink version (P100: 1, V100: 2, A100: 3, H100: 4,
// B200: 5).
double per_link_gbps(unsigned version) {
  if (version >= 5) return 100;
  if (version >= 2) return 50;
  return 40;
}

GpuLinkType pcie_type(int level) {
  switch (level) {
    case kTopologyInternal:
    case kTopologySingle:
    case kTopologyMultiple:
      return GpuLinkType::kPcieSwitch;
    case kTopologyHostBridge:
      return GpuLinkType::kPcieHostBridge;
    case kTopologyNode:
      return GpuLinkType::kNuma;
    default:
      return GpuLinkType::kSmp;
  }
}

using PciKey = std::tuple<unsigned, unsigned, unsigned>;  // domain, bus, device
PciKey key_of(const NvmlPciInfo& info) {
  return {info.domain, info.bus, info.device};
}

struct Shutdown {
  const Nvml* nvml;
  ~Shutdown() { nvml->shutdown(); }
};

}  // namespace

tl::expected<GpuTopologyDoc, std::string> read_gpu_topology(const std::string& library) {
  auto loaded = Nvml::load(library);
  if (!loaded) return tl::unexpected(loaded.error());
  const Nvml& nvml = *loaded;
  if (NvmlReturn rc = nvml.init(); rc != kNvmlSuccess) {
    return tl::unexpected(fmt::format("nvmlInit failed: {}", nvml.error(rc)));
  }
  const Shutdown guard{&nvml};

  unsigned count = 0;
  if (NvmlReturn rc = nvml.count(&count); rc != kNvmlSuccess) {
    return tl::unexpected(fmt::format("nvmlDeviceGetCount failed: {}", nvml.error(rc)));
  }
  if (count > static_cast<unsigned>(GpuLinkGraph::kMaxGpus)) {
    return tl::unexpected(
        fmt::format("{} GPUs: at most {} are supported", count, GpuLinkGraph::kMaxGpus));
  }
  GpuTopologyDoc doc;
  std::vector<NvmlDevice> devices(count, nullptr);
  std::map<PciKey, int> by_pci;
  for (unsigned i = 0; i < count; ++i) {
    if (NvmlReturn rc = nvml.by_index(i, &devices[i]); rc != kNvmlSuccess) {
      return tl::unexpected(
          fmt::format("GPU {}: nvmlDeviceGetHandleByIndex failed: {}", i, nvml.error(rc)));
    }
    GpuDevice gpu;
    gpu.index = static_cast<int>(i);
    char text[96] = {};
    if (nvml.uuid(devices[i], text, sizeof(text)) == kNvmlSuccess) gpu.uuid = text;
    std::fill(std::begin(text), std::end(text), '\0');
    if (i == 0 && nvml.name(devices[i], text, sizeof(text)) == kNvmlSuccess) doc.product = text;
    NvmlMemory memory{};
    if (nvml.memory(devices[i], &memory) == kNvmlSuccess) {
      gpu.memory_mib = static_cast<int64_t>(memory.total >> 20);
    }
    NvmlPciInfo pci{};
    if (NvmlReturn rc = nvml.pci(devices[i], &pci); rc != kNvmlSuccess) {
      return tl::unexpected(
          fmt::format("GPU {}: nvmlDeviceGetPciInfo failed: {}", i, nvml.error(rc)));
    }
    gpu.pci_bus_id = pci.bus_id;
    by_pci.emplace(key_of(pci), gpu.index);
    if (nvml.memory_affinity != nullptr) {
      unsigned long nodes = 0;
      // Scope 0 is NVML_AFFINITY_SCOPE_NODE: the NUMA nodes closest to the GPU.
      if (nvml.memory_affinity(devices[i], 1, &nodes, 0) == kNvmlSuccess && nodes != 0) {
        gpu.numa_node = __builtin_ctzl(nodes);
      }
    }
    doc.gpus.push_back(std::move(gpu));
  }

  // NVLinks: direct links counted per GPU pair; links to anything else are NVSwitch ports.
  std::map<std::pair<int, int>, double> direct;
  std::vector<std::set<PciKey>> switches(count);
  std::vector<double> switch_gbps(count, 0);
  if (nvml.link_state != nullptr && nvml.link_remote != nullptr) {
    for (unsigned i = 0; i < count; ++i) {
      for (unsigned link = 0; link < kMaxNvLinks; ++link) {
        int active = 0;
        if (nvml.link_state(devices[i], link, &active) != kNvmlSuccess || active == 0) continue;
        NvmlPciInfo remote{};
        if (nvml.link_remote(devices[i], link, &remote) != kNvmlSuccess) continue;
        unsigned version = 4;
        if (nvml.link_version != nullptr) nvml.link_version(devices[i], link, &version);
        const double gbps = per_link_gbps(version);
        if (auto peer = by_pci.find(key_of(remote)); peer != by_pci.end()) {
          const int a = static_cast<int>(i);
          const int b = peer->second;
          if (a < b) direct[{a, b}] += gbps;  // each link is seen from both ends; count one
        } else {
          switches[i].insert(key_of(remote));
          switch_gbps[i] += gbps;
        }
      }
    }
  }

  for (unsigned a = 0; a < count; ++a) {
    for (unsigned b = a + 1; b < count; ++b) {
      const auto ia = static_cast<int>(a);
      const auto ib = static_cast<int>(b);
      const bool shared_switch = std::any_of(switches[a].begin(), switches[a].end(),
                                             [&](const PciKey& k) { return switches[b].count(k); });
      if (shared_switch) {
        doc.links.push_back(
            {ia, ib, GpuLinkType::kNvSwitch, std::min(switch_gbps[a], switch_gbps[b])});
      } else if (auto it = direct.find({ia, ib}); it != direct.end()) {
        doc.links.push_back({ia, ib, GpuLinkType::kNvLink, it->second});
      } else {
        int level = kTopologySystem;
        if (nvml.ancestor(devices[a], devices[b], &level) != kNvmlSuccess) level = kTopologySystem;
        doc.links.push_back({ia, ib, pcie_type(level), 0});
      }
    }
  }
  return doc;
}

}  // namespace fairway::agent
