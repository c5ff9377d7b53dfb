// libFuzzer target: a pod's labels and annotations (queue, gang, GPU fraction keys) → PodIntent.
// The input is split at '\n' into key/value pairs; keys are drawn from the ones the reader knows
// so the fuzzer spends its time on values. Reading must never crash, and a valid intent must
// hold what the header promises.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "scheduler/state/pod_intent.h"

namespace {

constexpr std::array<std::string_view, 16> kKeys = {"fairway.dev/queue",
                                                    "fairway.dev/pod-group",
                                                    "fairway.dev/min-member",
                                                    "fairway.dev/gpu-fraction",
                                                    "fairway.dev/gpu-memory",
                                                    "fairway.dev/gpu-fraction-num-devices",
                                                    "gpu-fraction",
                                                    "gpu-memory",
                                                    "gpu-fraction-num-devices",
                                                    "pod-group-name",
                                                    "fairway.dev/preemptible",
                                                    "fairway.dev/topology",
                                                    "fairway.dev/topology-required-level",
                                                    "kai.scheduler/queue",
                                                    "scheduling.volcano.sh/queue-name",
                                                    "kai.scheduler/topology"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fairway::Pod pod;
  pod.namespace_ = "ns";
  pod.name = "p";
  fairway::Container container;
  container.name = "main";
  pod.containers.push_back(container);
  while (!input.empty()) {
    const uint8_t selector = static_cast<uint8_t>(input.front());
    input.remove_prefix(1);
    const size_t end = input.find('\n');
    const std::string value(input.substr(0, end));
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    const std::string key(kKeys[selector % kKeys.size()]);
    if (selector & 0x80) {
      pod.labels[key] = value;
    } else if (selector & 0x40) {
      // A whole-GPU request beside a fraction must be reported, not crash.
      pod.containers.front().requests["nvidia.com/gpu"] = static_cast<int64_t>(value.size()) * 1000;
    } else {
      pod.annotations[key] = value;
    }
  }
  const fairway::PodIntent intent = fairway::read_pod_intent(pod);
  if (intent.valid() && intent.gpu_fraction) {
    const fairway::GpuFraction& f = *intent.gpu_fraction;
    if (f.fraction.has_value() == f.memory_mib.has_value()) __builtin_trap();
    if (f.fraction && !(*f.fraction > 0 && *f.fraction < 1)) __builtin_trap();
    if (f.memory_mib && *f.memory_mib <= 0) __builtin_trap();
    if (f.num_devices < 1) __builtin_trap();
  }
  if (intent.valid() && intent.min_member && *intent.min_member < 0) __builtin_trap();
  return 0;
}
