#include "sim/whatif/snapshot.h"

#include <fmt/format.h>

#include "k8s-client/objects.h"

namespace fairway::sim {
namespace {

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

// Decodes one kind's list and applies every item to the state as an informer's ADDED would,
// each as soon as it is decoded.
template <typename T, typename Apply>
void load_list(const k8s::ParsedDocument& document, std::string_view key, Apply&& apply,
               SnapshotLoad& out) {
  const std::string pointer = fmt::format("/{}", key);
  auto errors = document.for_each_item<T>(pointer, [&](k8s::Decoded<T>&& item) {
    apply(std::move(item.object));
    ++out.objects;
  });
  if (!errors) {
    out.problems.push_back(fmt::format("{}: {}", key, errors.error()));
    return;
  }
  for (const k8s::ItemError& error : *errors) {
    out.problems.push_back(
        fmt::format("{}: {}{}{}", key, error.key, error.key.empty() ? "" : ": ", error.message));
  }
}

// Through the maps nlohmann holds rather than its iterators, which trip GCC's
// -Wnull-dereference once inlined (a false positive).
nlohmann::json::object_t* object_member(nlohmann::json& object, const std::string& key) {
  auto* map = object.get_ptr<nlohmann::json::object_t*>();
  if (map == nullptr) return nullptr;
  const auto it = map->find(key);
  return it == map->end() ? nullptr : it->second.get_ptr<nlohmann::json::object_t*>();
}

}  // namespace

void strip_for_snapshot(nlohmann::json& item) {
  nlohmann::json::object_t* metadata = object_member(item, "metadata");
  if (metadata == nullptr) return;
  metadata->erase("managedFields");
  if (auto it = metadata->find("annotations"); it != metadata->end()) {
    if (auto* annotations = it->second.get_ptr<nlohmann::json::object_t*>()) {
      annotations->erase(std::string(kLastApplied));
    }
  }
}

tl::expected<SnapshotLoad, std::string> load_snapshot(std::string_view text, ClusterState& state) {
  auto document = k8s::ParsedDocument::parse(text);
  if (!document) return tl::unexpected(fmt::format("not JSON: {}", document.error()));
  const std::string_view kind = document->string_at("/kind").value_or("");
  if (kind != kSnapshotKind) {
    return tl::unexpected(fmt::format("not a {} (kind \"{}\"): make one with `fairway snapshot`",
                                      kSnapshotKind, kind));
  }
  SnapshotLoad out;
  out.taken_at = document->string_at("/takenAt").value_or("");
  // Room for every node and pod up front: the state's records are large, and growing to a
  // big cluster's size one doubling at a time moves each of them about once more.
  state.reserve(document->list_size("/nodes").value_or(0),
                document->list_size("/pods").value_or(0));
  for (const SnapshotKind& entry : kSnapshotKinds) {
    const std::string_view key = entry.key;
    if (!document->contains(fmt::format("/{}", key))) continue;  // the server did not serve it
    if (key == "namespaces") {
      load_list<Namespace>(
          *document, key, [&](Namespace&& o) { state.upsert_namespace(std::move(o)); }, out);
    } else if (key == "priorityClasses") {
      load_list<PriorityClass>(
          *document, key, [&](PriorityClass&& o) { state.upsert_priority_class(std::move(o)); },
          out);
    } else if (key == "nodes") {
      load_list<Node>(
          *document, key, [&](Node&& o) { state.upsert_node(std::move(o)); }, out);
    } else if (key == "queues") {
      load_list<QueueSpec>(
          *document, key, [&](QueueSpec&& o) { state.upsert_queue(std::move(o)); }, out);
    } else if (key == "topologies") {
      load_list<TopologySpec>(
          *document, key, [&](TopologySpec&& o) { state.upsert_topology(std::move(o)); }, out);
    } else if (key == "podGroups") {
      load_list<PodGroup>(
          *document, key, [&](PodGroup&& o) { state.upsert_pod_group(std::move(o)); }, out);
    } else if (key == "storageClasses") {
      load_list<StorageClass>(
          *document, key, [&](StorageClass&& o) { state.upsert_storage_class(std::move(o)); }, out);
    } else if (key == "csiNodes") {
      load_list<CsiNode>(
          *document, key, [&](CsiNode&& o) { state.upsert_csi_node(std::move(o)); }, out);
    } else if (key == "persistentVolumes") {
      load_list<PersistentVolume>(
          *document, key,
          [&](PersistentVolume&& o) { state.upsert_persistent_volume(std::move(o)); }, out);
    } else if (key == "persistentVolumeClaims") {
      load_list<PersistentVolumeClaim>(
          *document, key,
          [&](PersistentVolumeClaim&& o) { state.upsert_persistent_volume_claim(std::move(o)); },
          out);
    } else if (key == "pods") {
      load_list<Pod>(
          *document, key, [&](Pod&& o) { state.upsert_pod(std::move(o)); }, out);
    }
  }
  return out;
}

}  // namespace fairway::sim
