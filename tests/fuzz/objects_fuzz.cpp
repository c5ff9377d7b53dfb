// libFuzzer target: decoding Kubernetes JSON (pods, nodes, Queues, PodGroups, Topologies,
// PriorityClasses, Namespaces, PersistentVolumes, PersistentVolumeClaims, StorageClasses,
// CSINodes; single objects, LIST bodies and watch events). Decoders promise
// never to throw and never to crash: a malformed object is an error value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "k8s-client/objects.h"

using namespace fairway;

template <typename T>
void decode_all_forms(std::string_view json) {
  (void)k8s::decode_object<T>(json);
  (void)k8s::decode_list<T>(json);
  std::string owned(json);
  (void)k8s::decode_list<T>(owned);
  if (owned != json) __builtin_trap();  // parsed in place, but must stay unchanged
  (void)k8s::decode_watch_event<T>(json);
  (void)k8s::decode_list<T>(json, &k8s::decode_object<T>);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the kind, so one corpus serves all of them.
  const std::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 12) {
    case 0:
      decode_all_forms<Pod>(json);
      break;
    case 1:
      decode_all_forms<Node>(json);
      break;
    case 2:
      decode_all_forms<QueueSpec>(json);
      break;
    case 3:
      decode_all_forms<PodGroup>(json);
      break;
    case 4:
      decode_all_forms<TopologySpec>(json);
      break;
    case 5:
      decode_all_forms<PriorityClass>(json);
      break;
    case 6:
      decode_all_forms<Namespace>(json);
      break;
    case 8:
      decode_all_forms<PersistentVolume>(json);
      break;
    case 9:
      decode_all_forms<PersistentVolumeClaim>(json);
      break;
    case 10:
      decode_all_forms<StorageClass>(json);
      break;
    case 11:
      decode_all_forms<CsiNode>(json);
      break;
    default:
      (void)k8s::decode_status(json);
      (void)k8s::parse_rfc3339_ms(json);
      (void)k8s::parse_go_duration_seconds(json);
      break;
  }
  return 0;
}
