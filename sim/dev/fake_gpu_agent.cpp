#include "sim/dev/fake_gpu_agent.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "k8s-client/api_error.h"
#include "scheduler/state/gpu_sharing.h"
#include "topology/gpu_topology.h"

namespace fairway::dev {
namespace {

using nlohmann::json;

// FNV-1a, 64 bits, from a given basis, then SplitMix64's finalizer so that GPUs 0 and 1 of a
// node differ in every digit, not in one: two of them make the 128 bits of a UUID.
uint64_t hash64(std::string_view text, uint64_t hash) {
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  hash = (hash ^ (hash >> 30)) * 0xbf58476d1ce4e5b9ULL;
  hash = (hash ^ (hash >> 27)) * 0x94d049bb133111ebULL;
  return hash ^ (hash >> 31);
}

// The UUIDs of the topology annotation's GPUs, by index; empty when it does not list them all.
std::vector<std::string> topology_uuids(const json& annotations) {
  const auto it = annotations.find(std::string(kGpuTopologyAnnotation));
  if (it == annotations.end() || !it->is_string()) return {};
  const json topology = json::parse(it->get<std::string>(), nullptr, false);
  if (!topology.is_object() || !topology.contains("gpus") || !topology["gpus"].is_array())
    return {};
  std::vector<std::string> uuids(topology["gpus"].size());
  for (const json& gpu : topology["gpus"]) {
    if (!gpu.is_object() || !gpu.contains("index") || !gpu["index"].is_number_integer() ||
        !gpu.contains("uuid") || !gpu["uuid"].is_string())
      return {};
    const auto index = gpu["index"].get<int64_t>();
    if (index < 0 || static_cast<size_t>(index) >= uuids.size()) return {};
    uuids[static_cast<size_t>(index)] = gpu["uuid"].get<std::string>();
  }
  for (const std::string& uuid : uuids) {
    if (uuid.empty()) return {};  // an index listed twice, another missing
  }
  return uuids;
}

// allocatable[nvidia.com/gpu] as a whole number (quantities are strings); 0 when absent or odd.
int allocatable_gpus(const json& node) {
  const json* value = &node;
  for (const char* key : {"status", "allocatable", "nvidia.com/gpu"}) {
    if (!value->is_object() || !value->contains(key)) return 0;
    value = &(*value)[key];
  }
  if (value->is_number_integer()) return static_cast<int>(std::clamp<int64_t>(*value, 0, 1024));
  if (!value->is_string()) return 0;
  const std::string& text = value->get_ref<const std::string&>();
  int count = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (ec != std::errc() || end != text.data() + text.size()) return 0;
  return std::clamp(count, 0, 1024);
}

}  // namespace

std::string fake_gpu_uuid(std::string_view node, int index) {
  const std::string seed = fmt::format("{}/{}", node, index);
  const uint64_t high = hash64(seed, 0xcbf29ce484222325ULL);
  const uint64_t low = hash64(seed, high);
  return fmt::format("GPU-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                     high & 0xffff, low >> 48, low & 0xffffffffffffULL);
}

std::vector<std::string> node_gpu_uuids(const json& node) {
  const json annotations = node.is_object() && node.contains("metadata") &&
                                   node["metadata"].is_object() &&
                                   node["metadata"].contains("annotations")
                               ? node["metadata"]["annotations"]
                               : json::object();
  if (auto uuids = topology_uuids(annotations); !uuids.empty()) return uuids;
  const std::string name = node.is_object() && node.contains("metadata") &&
                                   node["metadata"].is_object() &&
                                   node["metadata"].value("name", json()).is_string()
                               ? node["metadata"]["name"].get<std::string>()
                               : std::string();
  std::vector<std::string> uuids;
  for (int index = 0; index < allocatable_gpus(node); ++index)
    uuids.push_back(fake_gpu_uuid(name, index));
  return uuids;
}

std::optional<std::string> free_gpu(const std::vector<std::string>& gpus,
                                    const std::set<std::string>& held) {
  for (const std::string& gpu : gpus) {
    if (!held.contains(gpu)) return gpu;
  }
  return std::nullopt;
}

FakeGpuAgent::FakeGpuAgent(k8s::ClusterConfig config, FakeGpuAgentOptions options)
    : options_(std::move(options)),
      client_(std::move(config),
              [] {
                k8s::RestOptions rest;
                rest.user_agent =
                    "fairway-dev-node-agent";  // tells its calls apart in an audit log
                return rest;
              }()),
      pods_(client_, "pods",
            fmt::format("/api/v1/namespaces/{}/pods", options_.reservation_namespace),
            &k8s::decode_pod,
            {.on_event = [this](k8s::EventType type,
                                k8s::Decoded<Pod>&& pod) { on_event(type, std::move(pod)); },
             .on_synced = [] {},
             .on_problem = [this](std::string_view problem) { log(problem); }}),
      watcher_([this](std::stop_token stop) { pods_.run(stop); }) {}

FakeGpuAgent::~FakeGpuAgent() {
  watcher_.request_stop();
  client_.stop();
  if (watcher_.joinable()) watcher_.join();
}

void FakeGpuAgent::log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

void FakeGpuAgent::on_event(k8s::EventType type, k8s::Decoded<Pod>&& decoded) {
  const std::string key = decoded.meta.key();
  const Pod& pod = decoded.object;
  if (type == k8s::EventType::kDeleted) {
    reservations_.erase(key);  // its GPU is free again
    return;
  }
  // Only fairway's reservation pods, as the scheduler makes them, once bound to a node.
  if (!pod.labels.contains(std::string(kGpuGroupLabel)) || pod.node_name.empty()) return;
  Reservation& reservation = reservations_[key];
  reservation.node = pod.node_name;
  if (const auto it = pod.annotations.find(std::string(kGpuUuidAnnotation));
      it != pod.annotations.end() && !it->second.empty()) {
    reservation.uuid = it->second;
  }
  // A terminating pod keeps its GPU until it is gone, and gets none.
  if (reservation.uuid.empty() && !pod.deleting) give_gpu(key, pod);
}

// The device plugin's choice and the reservation agent's report, in one.
void FakeGpuAgent::give_gpu(const std::string& key, const Pod& pod) {
  const auto node_response = client_.get(fmt::format("/api/v1/nodes/{}", pod.node_name));
  if (!node_response || !node_response->ok()) {
    log(fmt::format("no GPU for {}: node {}: {}", key, pod.node_name,
                    k8s::describe_api_error(node_response)));
    return;
  }
  const auto gpus = node_gpu_uuids(json::parse(node_response->body, nullptr, false));
  std::set<std::string> held;
  for (const auto& [other, reservation] : reservations_) {
    if (other != key && reservation.node == pod.node_name && !reservation.uuid.empty())
      held.insert(reservation.uuid);
  }
  if (gpus.empty()) {
    log(fmt::format("no GPU for {}: node {} has no nvidia.com/gpu", key, pod.node_name));
    return;
  }
  const auto gpu = free_gpu(gpus, held);
  if (!gpu) {
    log(fmt::format("no GPU for {}: node {} has {} GPU(s), all held by reservation pods", key,
                    pod.node_name, gpus.size()));
    return;
  }
  json patch;
  patch["metadata"]["annotations"][std::string(kGpuUuidAnnotation)] = *gpu;
  const auto response = client_.request(
      "PATCH", fmt::format("/api/v1/namespaces/{}/pods/{}", pod.namespace_, pod.name), patch.dump(),
      "application/merge-patch+json");
  if (!response || !response->ok()) {
    log(fmt::format("PATCH {}: {}", key, k8s::describe_api_error(response)));
    return;
  }
  reservations_[key].uuid = *gpu;
  log(fmt::format("reserved fake GPU {} of node {} for pod {}", *gpu, pod.node_name, key));
}

}  // namespace fairway::dev
