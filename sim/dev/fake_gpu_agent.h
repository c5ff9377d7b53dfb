#pragma once
// The stand-in node agent of the embedded API server's `--dev` mode (docs/embedded-apiserver.md).
// The embedded server runs no kubelet, so every node is a fake one and no device plugin hands a
// GPU to a reservation pod (docs/gpu-sharing.md). For each reservation pod bound to a node, this
// agent does what the NVIDIA device plugin and `fairway reservation-agent --once` would: it picks
// one of the node's GPUs that no other reservation pod on that node holds, and annotates the pod
// with that GPU's UUID (fairway.dev/gpu-uuid, a JSON merge patch, as the real agent writes it).
//
// GPU k of a node always has the same UUID: the one `fairway topology-agent` published for index
// k in the node's fairway.dev/gpu-topology annotation, else a made-up one derived from the node's
// name and k (fake_gpu_uuid). It does not run containers, set pod phases, or account for GPUs of
// pods that ask for whole GPUs (their device IDs are never visible to fairway).

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "k8s-client/config.h"
#include "k8s-client/objects.h"
#include "k8s-client/reflector.h"
#include "k8s-client/rest_client.h"

namespace fairway::dev {

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", the shape of an NVML UUID, from the node's name and
// the GPU's index: the same for the same GPU every time, different for every other.
std::string fake_gpu_uuid(std::string_view node, int index);

// The node's GPUs, by index: from its fairway.dev/gpu-topology annotation when that lists them,
// else `allocatable[nvidia.com/gpu]` fake ones. Empty for a node without GPUs.
std::vector<std::string> node_gpu_uuids(const nlohmann::json& node);

// The lowest-index GPU that is not held; nullopt when every one is.
std::optional<std::string> free_gpu(const std::vector<std::string>& gpus,
                                    const std::set<std::string>& held);

struct FakeGpuAgentOptions {
  std::string reservation_namespace = "fairway-reservation";
  std::function<void(std::string_view)> log;  // one line per GPU given or refused
};

// Watches the reservation pods and reports a GPU for each bound one; runs until destroyed.
class FakeGpuAgent {
 public:
  FakeGpuAgent(k8s::ClusterConfig config, FakeGpuAgentOptions options);
  ~FakeGpuAgent();
  FakeGpuAgent(const FakeGpuAgent&) = delete;
  FakeGpuAgent& operator=(const FakeGpuAgent&) = delete;

 private:
  struct Reservation {
    std::string node;
    std::string uuid;  // annotated, or given by this agent and not yet seen on the watch
  };
  void on_event(k8s::EventType type, k8s::Decoded<Pod>&& pod);
  void give_gpu(const std::string& key, const Pod& pod);
  void log(std::string_view line) const;

  FakeGpuAgentOptions options_;
  k8s::RestClient client_;
  // Touched only by the watch thread (the reflector's handler).
  std::map<std::string, Reservation> reservations_;  // pod key → its node and GPU
  k8s::Reflector<Pod> pods_;
  std::jthread watcher_;
};

}  // namespace fairway::dev
