// A fake libnvidia-ml.so.1 for the topology agent's tests: the NVML entry points the agent uses,
// describing a machine chosen by $FAKE_NVML_MACHINE:
//   hgx   8 GPUs, each with 18 NVLink4 links spread over 4 NVSwitches (HGX H100)
//   pcie  2 GPUs without NVLink, under different host bridges of one socket
//   pairs 4 GPUs bridged by NVLink in pairs (0-1, 2-3), pairs on different sockets
//   none  nvmlInit fails with "driver not loaded"
// Only the ABI matters here, so it declares the few types itself instead of including nvml.h.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct PciInfo {
  char bus_id_legacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pci_device_id;
  unsigned pci_subsystem_id;
  char bus_id[32];
};
struct Memory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;
constexpr int kNotSupported = 3;
constexpr int kDriverNotLoaded = 9;

std::string machine() {
  const char* value = std::getenv("FAKE_NVML_MACHINE");
  return value == nullptr ? "hgx" : value;
}

unsigned gpu_count() {
  const std::string m = machine();
  if (m == "pcie") return 2;
  if (m == "pairs") return 4;
  return 8;
}

// Device handles are the GPU index + 1 disguised as a pointer.
int index_of(void* device) {
  const auto value = reinterpret_cast<std::uintptr_t>(device);
  return value == 0 || value > gpu_count() ? -1 : static_cast<int>(value - 1);
}

unsigned bus_of_gpu(int gpu) {
  return 0x18 + 0x10 * static_cast<unsigned>(gpu);
}

void fill_pci(PciInfo* info, unsigned bus) {
  std::memset(info, 0, sizeof(*info));
  info->domain = 0;
  info->bus = bus;
  info->device = 0;
  std::snprintf(info->bus_id, sizeof(info->bus_id), "00000000:%02X:00.0", bus);
  std::snprintf(info->bus_id_legacy, sizeof(info->bus_id_legacy), "0000:%02X:00.0", bus);
}

}  // namespace

extern "C" {

int nvmlInit_v2() {
  return machine() == "none" ? kDriverNotLoaded : kSuccess;
}
int nvmlShutdown() {
  return kSuccess;
}
const char* nvmlErrorString(int code) {
  return code == kDriverNotLoaded ? "Driver Not Loaded" : "Unknown Error";
}
int nvmlDeviceGetCount_v2(unsigned* count) {
  *count = gpu_count();
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (index >= gpu_count()) return kInvalidArgument;
  *device = reinterpret_cast<void*>(static_cast<std::uintptr_t>(index) + 1);
  return kSuccess;
}
int nvmlDeviceGetUUID(void* device, char* out, unsigned size) {
  const int gpu = index_of(device);
  if (gpu < 0) return kInvalidArgument;
  std::snprintf(out, size, "GPU-fake-%s-%d", machine().c_str(), gpu);
  return kSuccess;
}
int nvmlDeviceGetName(void* device, char* out, unsigned size) {
  if (index_of(device) < 0) return kInvalidArgument;
  const std::string m = machine();
  std::snprintf(out, size, "%s",
                m == "hgx"     ? "NVIDIA H100 80GB HBM3"
                : m == "pairs" ? "NVIDIA H100 NVL"
                               : "NVIDIA L4");
  return kSuccess;
}
int nvmlDeviceGetMemoryInfo(void* device, Memory* memory) {
  if (index_of(device) < 0) return kInvalidArgument;
  memory->total = machine() == "pcie" ? 23034ULL << 20 : 81559ULL << 20;
  memory->free = memory->total;
  memory->used = 0;
  return kSuccess;
}
int nvmlDeviceGetPciInfo_v3(void* device, PciInfo* info) {
  const int gpu = index_of(device);
  if (gpu < 0) return kInvalidArgument;
  fill_pci(info, bus_of_gpu(gpu));
  return kSuccess;
}
int nvmlDeviceGetMemoryAffinity(void* device, unsigned size, unsigned long* nodes, int scope) {
  const int gpu = index_of(device);
  if (gpu < 0 || size < 1 || scope != 0) return kInvalidArgument;
  *nodes = 1UL << (static_cast<unsigned>(gpu) * 2 / gpu_count());  // first half: node 0
  return kSuccess;
}
int nvmlDeviceGetNvLinkState(void* device, unsigned link, int* active) {
  const int gpu = index_of(device);
  if (gpu < 0 || link >= 18) return kInvalidArgument;
  const std::string m = machine();
  if (m == "pcie") return kNotSupported;
  *active = m == "hgx" ? 1 : (link < 12 ? 1 : 0);
  return kSuccess;
}
int nvmlDeviceGetNvLinkRemotePciInfo_v2(void* device, unsigned link, PciInfo* info) {
  const int gpu = index_of(device);
  if (gpu < 0 || link >= 18) return kInvalidArgument;
  const std::string m = machine();
  if (m == "pcie") return kNotSupported;
  if (m == "hgx") {
    fill_pci(info, 0xE0 + link % 4);  // four NVSwitches
  } else {
    fill_pci(info, bus_of_gpu(gpu ^ 1));  // bridged to the other GPU of its pair
  }
  return kSuccess;
}
int nvmlDeviceGetNvLinkVersion(void* device, unsigned /*link*/, unsigned* version) {
  if (index_of(device) < 0) return kInvalidArgument;
  *version = machine() == "hgx" ? 4 : 3;
  return kSuccess;
}
int nvmlDeviceGetTopologyCommonAncestor(void* a, void* b, int* level) {
  const int x = index_of(a);
  const int y = index_of(b);
  if (x < 0 || y < 0) return kInvalidArgument;
  const std::string m = machine();
  if (m == "pcie") {
    *level = 40;  // NODE: same NUMA node, different host bridges
  } else if (m == "pairs") {
    *level = (x / 2 == y / 2) ? 10 : 50;  // SINGLE switch inside a pair, SYSTEM across sockets
  } else {
    *level = (x / 4 == y / 4) ? 40 : 50;
  }
  return kSuccess;
}

}  // extern "C"
