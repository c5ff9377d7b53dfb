#include "sim/whatif/snapshot.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "k8s-client/objects.h"

namespace fairway::sim {
namespace {

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

// Decodes one kind's list and applies every item to the state as an informer's ADDED would.
template <typename T, typename Apply>
void load_list(std::string_view key, simdjson::dom::element list, Apply&& apply,
               SnapshotLoad& out) {
  std::string body = simdjson::to_string(list);
  auto decoded = k8s::decode_list<T>(body);
  if (!decoded) {
    out.problems.push_back(fmt::format("{}: {}", key, decoded.error()));
    return;
  }
  for (const k8s::ItemError& error : decoded->errors) {
    out.problems.push_back(
        fmt::format("{}: {}{}{}", key, error.key, error.key.empty() ? "" : ": ", error.message));
  }
  for (k8s::Decoded<T>& item : decoded->items) {
    apply(std::move(item.object));
    ++out.objects;
  }
}

}  // namespace

void strip_for_snapshot(nlohmann::json& item) {
  auto metadata = item.find("metadata");
  if (metadata == item.end() || !metadata->is_object()) return;
  metadata->erase("managedFields");
  if (auto annotations = metadata->find("annotations");
      annotations != metadata->end() && annotations->is_object()) {
    annotations->erase(std::string(kLastApplied));
  }
}

tl::expected<SnapshotLoad, std::string> load_snapshot(std::string_view text, ClusterState& state) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (auto error = parser.parse(padded).get(root)) {
    return tl::unexpected(fmt::format("not JSON: {}", simdjson::error_message(error)));
  }
  std::string_view kind;
  if (root["kind"].get(kind) || kind != kSnapshotKind) {
    return tl::unexpected(fmt::format("not a {} (kind \"{}\"): make one with `fairway snapshot`",
                                      kSnapshotKind, kind));
  }
  SnapshotLoad out;
  if (std::string_view taken; !root["takenAt"].get(taken)) out.taken_at = taken;
  for (const SnapshotKind& entry : kSnapshotKinds) {
    simdjson::dom::element list;
    if (root[entry.key].get(list)) continue;  // absent: the server did not serve it
    const std::string_view key = entry.key;
    if (key == "namespaces") {
      load_list<Namespace>(
          key, list, [&](Namespace&& o) { state.upsert_namespace(std::move(o)); }, out);
    } else if (key == "priorityClasses") {
      load_list<PriorityClass>(
          key, list, [&](PriorityClass&& o) { state.upsert_priority_class(std::move(o)); }, out);
    } else if (key == "nodes") {
      load_list<Node>(
          key, list, [&](Node&& o) { state.upsert_node(std::move(o)); }, out);
    } else if (key == "queues") {
      load_list<QueueSpec>(
          key, list, [&](QueueSpec&& o) { state.upsert_queue(std::move(o)); }, out);
    } else if (key == "topologies") {
      load_list<TopologySpec>(
          key, list, [&](TopologySpec&& o) { state.upsert_topology(std::move(o)); }, out);
    } else if (key == "podGroups") {
      load_list<PodGroup>(
          key, list, [&](PodGroup&& o) { state.upsert_pod_group(std::move(o)); }, out);
    } else if (key == "storageClasses") {
      load_list<StorageClass>(
          key, list, [&](StorageClass&& o) { state.upsert_storage_class(std::move(o)); }, out);
    } else if (key == "csiNodes") {
      load_list<CsiNode>(
          key, list, [&](CsiNode&& o) { state.upsert_csi_node(std::move(o)); }, out);
    } else if (key == "persistentVolumes") {
      load_list<PersistentVolume>(
          key, list, [&](PersistentVolume&& o) { state.upsert_persistent_volume(std::move(o)); },
          out);
    } else if (key == "persistentVolumeClaims") {
      load_list<PersistentVolumeClaim>(
          key, list,
          [&](PersistentVolumeClaim&& o) { state.upsert_persistent_volume_claim(std::move(o)); },
          out);
    } else if (key == "pods") {
      load_list<Pod>(
          key, list, [&](Pod&& o) { state.upsert_pod(std::move(o)); }, out);
    }
  }
  return out;
}

}  // namespace fairway::sim
