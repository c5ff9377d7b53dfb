#include "sim/whatif/anonymize.h"

#include <fmt/format.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "scheduler/state/gpu_sharing.h"

namespace fairway::sim {
namespace {

using json = nlohmann::json;
using Object = json::object_t;
using Array = json::array_t;

// Through the maps and vectors nlohmann holds rather than its iterators, which trip GCC's
// -Wnull-dereference once inlined (a false positive).
json* member(json& value, const std::string& key) {
  auto* object = value.get_ptr<Object*>();
  if (object == nullptr) return nullptr;
  const auto it = object->find(key);
  return it == object->end() ? nullptr : &it->second;
}

void erase(json& value, const std::string& key) {
  if (auto* object = value.get_ptr<Object*>()) object->erase(key);
}

void keep_only(json& value, std::initializer_list<std::string_view> keys) {
  auto* object = value.get_ptr<Object*>();
  if (object == nullptr) return;
  std::erase_if(*object, [&](const auto& entry) {
    return std::find(keys.begin(), keys.end(), entry.first) == keys.end();
  });
}

template <typename Fn>
void for_each_in(json* value, Fn&& fn) {
  if (value == nullptr) return;
  if (auto* array = value->get_ptr<Array*>()) {
    for (json& element : *array) fn(element);
  }
}

bool is_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Label values read for their meaning (GPU layout and memory, architecture), kept as they are.
constexpr std::array<std::string_view, 6> kMeaningfulLabels = {
    "nvidia.com/gpu.product", "nvidia.com/gpu.count", "nvidia.com/gpu.memory",
    "kubernetes.io/arch",     "kubernetes.io/os",     "leaderworkerset.sigs.k8s.io/group-index"};

// Annotations the scheduler reads; every other one is dropped.
constexpr std::array<std::string_view, 9> kReadAnnotationPrefixes = {"fairway.dev/",
                                                                     "kai.scheduler/",
                                                                     "scheduling.k8s.io/",
                                                                     "scheduling.volcano.sh/",
                                                                     "scheduling.x-k8s.io/",
                                                                     "volume.kubernetes.io/",
                                                                     "volume.beta.kubernetes.io/",
                                                                     "pv.kubernetes.io/",
                                                                     "storageclass.kubernetes.io/"};
constexpr std::array<std::string_view, 4> kReadAnnotations = {
    "pod-group-name", "gpu-fraction", "gpu-memory", "gpu-fraction-num-devices"};
// Of those, the ones whose value names an object (hashed; fairway.dev/gpu-groups is a list).
constexpr std::array<std::string_view, 14> kNamingAnnotations = {
    "fairway.dev/pod-group",
    "pod-group-name",
    "scheduling.k8s.io/group-name",
    "scheduling.x-k8s.io/pod-group",
    "fairway.dev/queue",
    "kai.scheduler/queue",
    "scheduling.volcano.sh/queue-name",
    "fairway.dev/topology",
    "kai.scheduler/topology",
    "fairway.dev/subgroup-topology",
    "fairway.dev/gpu-configmap",
    "fairway.dev/gpu-uuid",
    "volume.kubernetes.io/selected-node",
    "volume.beta.kubernetes.io/storage-class"};
// Written by fairway for people, naming workloads; not read back by a replay.
constexpr std::string_view kInferredFrom = "fairway.dev/inferred-from";

template <size_t N>
bool among(const std::array<std::string_view, N>& set, std::string_view value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

}  // namespace

Anonymizer::Anonymizer(std::string key) : key_(std::move(key)) {}

std::string random_anonymizer_key() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Never expected; a fixed key would still hash consistently, but could be guessed back.
    throw std::runtime_error("no random bytes for the anonymizer's key");
  }
  return std::string(bytes.begin(), bytes.end());
}

std::string Anonymizer::hash(std::string_view name) {
  if (name.empty() || name == "default" || name.starts_with("kube-") ||
      name.starts_with("system-") || name == kDefaultReservationNamespace || name == "true" ||
      name == "false" || is_number(name)) {
    return std::string(name);
  }
  auto [it, fresh] = hashes_.try_emplace(std::string(name));
  if (!fresh) return it->second;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest.data(), &size);
  std::string out = "h";
  for (unsigned int i = 0; out.size() < 16 && i < size; ++i) {
    out += fmt::format("{:02x}", digest[i]);
  }
  out.resize(16);
  it->second = out;
  return out;
}

void Anonymizer::hash_member(json& object, const char* key) {
  json* value = member(object, key);
  if (value != nullptr && value->is_string()) *value = hash(value->get<std::string>());
}

std::string Anonymizer::label_value(std::string_view key, const std::string& value) {
  return among(kMeaningfulLabels, key) ? value : hash(value);
}

void Anonymizer::labels(json& labels) {
  auto* map = labels.get_ptr<Object*>();
  if (map == nullptr) return;
  for (auto& [key, value] : *map) {
    if (value.is_string()) value = label_value(key, value.get<std::string>());
  }
}

void Anonymizer::annotations(json& annotations) {
  auto* map = annotations.get_ptr<Object*>();
  if (map == nullptr) return;
  std::erase_if(*map, [](const auto& entry) {
    const std::string_view key = entry.first;
    if (key == kInferredFrom) return true;
    const bool read = among(kReadAnnotations, key) ||
                      std::any_of(kReadAnnotationPrefixes.begin(), kReadAnnotationPrefixes.end(),
                                  [&](std::string_view prefix) { return key.starts_with(prefix); });
    return !read;
  });
  for (auto& [key, value] : *map) {
    if (!value.is_string()) continue;
    if (among(kNamingAnnotations, key)) {
      value = hash(value.get<std::string>());
    } else if (key == kGpuGroupsAnnotation) {
      std::string groups;
      std::string_view rest = value.get_ref<const std::string&>();
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        groups += (groups.empty() ? "" : ",") + hash(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      value = groups;
    }
  }
}

void Anonymizer::metadata(json& metadata) {
  keep_only(metadata,
            {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
             "deletionTimestamp", "labels", "annotations", "ownerReferences"});
  hash_member(metadata, "name");
  hash_member(metadata, "namespace");
  hash_member(metadata, "uid");  // random in a cluster, but tools may derive it from names
  if (json* labels_of = member(metadata, "labels")) labels(*labels_of);
  if (json* annotations_of = member(metadata, "annotations")) annotations(*annotations_of);
  for_each_in(member(metadata, "ownerReferences"), [&](json& owner) {
    hash_member(owner, "name");
    hash_member(owner, "uid");
  });
}

// Label selectors and node selector terms, wherever they sit below `value`: matchLabels values,
// matchExpressions / matchLabelExpressions values (by their key's rule), matchFields values
// (metadata.name: node names) and namespaces lists.
void Anonymizer::selectors(json& value) {
  if (auto* array = value.get_ptr<Array*>()) {
    for (json& element : *array) selectors(element);
    return;
  }
  auto* object = value.get_ptr<Object*>();
  if (object == nullptr) return;
  for (auto& [key, field] : *object) {
    if (key == "matchLabels") {
      labels(field);
    } else if (key == "matchExpressions" || key == "matchLabelExpressions" ||
               key == "matchFields") {
      for_each_in(&field, [&](json& requirement) {
        json* label = member(requirement, "key");
        const std::string label_key = label && label->is_string() ? label->get<std::string>() : "";
        for_each_in(member(requirement, "values"), [&](json& v) {
          if (v.is_string()) v = label_value(label_key, v.get<std::string>());
        });
      });
    } else if (key == "namespaces") {
      for_each_in(&field, [&](json& v) {
        if (v.is_string()) v = hash(v.get<std::string>());
      });
    } else {
      selectors(field);
    }
  }
}

void Anonymizer::pod(json& item) {
  if (json* spec = member(item, "spec")) {
    for (const char* gone :
         {"hostname", "subdomain", "serviceAccountName", "serviceAccount", "imagePullSecrets",
          "hostAliases", "dnsConfig", "securityContext", "ephemeralContainers", "readinessGates"}) {
      erase(*spec, gone);
    }
    hash_member(*spec, "nodeName");
    hash_member(*spec, "priorityClassName");
    for (const char* containers : {"containers", "initContainers"}) {
      for_each_in(member(*spec, containers), [&](json& container) {
        keep_only(container, {"name", "resources", "ports", "restartPolicy"});
        hash_member(container, "name");
      });
    }
    // Only the volumes the scheduler reads: claims, by name.
    json* volumes_of = member(*spec, "volumes");
    if (auto* volumes = volumes_of ? volumes_of->get_ptr<Array*>() : nullptr) {
      std::erase_if(*volumes, [](json& volume) {
        return member(volume, "persistentVolumeClaim") == nullptr &&
               member(volume, "ephemeral") == nullptr;
      });
      for (json& volume : *volumes) {
        hash_member(volume, "name");
        if (json* claim = member(volume, "persistentVolumeClaim")) hash_member(*claim, "claimName");
        if (json* ephemeral = member(volume, "ephemeral")) {
          if (json* tmpl = member(*ephemeral, "volumeClaimTemplate")) storage("pvc", *tmpl);
        }
      }
    }
    if (json* node_selector = member(*spec, "nodeSelector")) labels(*node_selector);
    if (json* affinity = member(*spec, "affinity")) selectors(*affinity);
    if (json* spread = member(*spec, "topologySpreadConstraints")) selectors(*spread);
    for_each_in(member(*spec, "tolerations"), [&](json& t) { hash_member(t, "value"); });
    if (json* group = member(*spec, "schedulingGroup")) hash_member(*group, "podGroupName");
    if (json* ref = member(*spec, "workloadRef")) {
      hash_member(*ref, "name");
      hash_member(*ref, "podGroup");
    }
  }
  if (json* status = member(item, "status")) {
    keep_only(*status, {"phase", "conditions", "nominatedNodeName", "startTime"});
    hash_member(*status, "nominatedNodeName");
    for_each_in(member(*status, "conditions"), [](json& c) {
      keep_only(c, {"type", "status", "lastTransitionTime"});
    });
  }
}

void Anonymizer::node(json& item) {
  if (json* spec = member(item, "spec")) {
    keep_only(*spec, {"unschedulable", "taints"});
    for_each_in(member(*spec, "taints"), [&](json& t) { hash_member(t, "value"); });
  }
  if (json* status = member(item, "status")) {
    keep_only(*status, {"capacity", "allocatable", "conditions"});
    for_each_in(member(*status, "conditions"), [](json& c) {
      keep_only(c, {"type", "status", "lastTransitionTime"});
    });
  }
}

void Anonymizer::pod_group(json& item) {
  json* spec = member(item, "spec");
  if (spec == nullptr) return;
  hash_member(*spec, "queue");
  hash_member(*spec, "priorityClassName");
  if (json* constraint = member(*spec, "topologyConstraint")) hash_member(*constraint, "topology");
  for_each_in(member(*spec, "subGroups"), [&](json& subgroup) {
    hash_member(subgroup, "name");
    if (json* constraint = member(subgroup, "topologyConstraint")) {
      hash_member(*constraint, "topology");
    }
  });
}

// StorageClasses, CSINodes, PersistentVolumes and claims ("pvc": a claim or claim template).
void Anonymizer::storage(std::string_view kind, json& item) {
  if (json* metadata_of = member(item, "metadata")) metadata(*metadata_of);
  if (kind == "storageClasses") {
    erase(item, "parameters");
    erase(item, "mountOptions");
    if (json* topologies = member(item, "allowedTopologies")) selectors(*topologies);
    return;
  }
  json* spec = member(item, "spec");
  if (spec == nullptr) return;
  hash_member(*spec, "storageClassName");
  if (kind == "csiNodes") {
    for_each_in(member(*spec, "drivers"), [](json& d) { erase(d, "nodeID"); });
  } else if (kind == "persistentVolumes") {
    keep_only(*spec, {"capacity", "accessModes", "claimRef", "storageClassName", "nodeAffinity",
                      "persistentVolumeReclaimPolicy", "volumeMode", "csi", "local"});
    if (json* csi = member(*spec, "csi")) keep_only(*csi, {"driver"});
    if (json* local = member(*spec, "local")) hash_member(*local, "path");
    if (json* claim = member(*spec, "claimRef")) {
      keep_only(*claim, {"name", "namespace", "uid"});
      hash_member(*claim, "uid");
      hash_member(*claim, "name");
      hash_member(*claim, "namespace");
    }
    if (json* affinity = member(*spec, "nodeAffinity")) selectors(*affinity);
  } else {  // a claim
    erase(*spec, "dataSource");
    erase(*spec, "dataSourceRef");
    hash_member(*spec, "volumeName");
    if (json* selector = member(*spec, "selector")) selectors(*selector);
  }
}

void Anonymizer::object(std::string_view kind, json& item) {
  if (kind == "storageClasses" || kind == "csiNodes" || kind == "persistentVolumes" ||
      kind == "persistentVolumeClaims") {
    storage(kind, item);
    return;
  }
  if (json* metadata_of = member(item, "metadata")) metadata(*metadata_of);
  if (kind == "pods") {
    pod(item);
  } else if (kind == "nodes") {
    node(item);
  } else if (kind == "podGroups") {
    pod_group(item);
  } else if (kind == "queues") {
    if (json* spec = member(item, "spec")) hash_member(*spec, "parent");
  }
}

void Anonymizer::snapshot(json& document) {
  auto* members = document.get_ptr<Object*>();
  if (members == nullptr) return;
  members->erase("server");  // the API server's address
  for (auto& [kind, list] : *members) {
    for_each_in(member(list, "items"), [&](json& item) { object(kind, item); });
  }
}

}  // namespace fairway::sim
