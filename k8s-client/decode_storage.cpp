// Decoding storage kinds: PersistentVolumes, PersistentVolumeClaims, StorageClasses and CSINodes.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {
namespace {

R read_access_modes(dom::element value, AccessModes& out) {
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    std::string_view mode;
    if (auto code = element.get_string().get(mode)) return within_index("", i, fail(code));
    if (mode == "ReadWriteOnce") {
      out |= static_cast<AccessModes>(AccessMode::kReadWriteOnce);
    } else if (mode == "ReadOnlyMany") {
      out |= static_cast<AccessModes>(AccessMode::kReadOnlyMany);
    } else if (mode == "ReadWriteMany") {
      out |= static_cast<AccessModes>(AccessMode::kReadWriteMany);
    } else if (mode == "ReadWriteOncePod") {
      out |= static_cast<AccessModes>(AccessMode::kReadWriteOncePod);
    } else {
      return within_index("", i, fail(fmt::format("unknown access mode \"{}\"", mode)));
    }
    return {};
  });
}

// A resource list of which only "storage" matters (PV capacity, PVC requests), in bytes.
R read_storage_quantity(dom::element value, int64_t& bytes) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "storage")) return {};
    return within("storage", read_quantity(field, "storage", bytes));
  });
}

R read_phase(dom::element value, std::string& phase) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "phase") return within("phase", read_string(field, phase));
    return {};
  });
}

R read_persistent_volume_spec(dom::element value, PersistentVolume& pv) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "storageClassName") {
      return within("storageClassName", read_string(field, pv.storage_class));
    }
    if (key == "capacity")
      return within("capacity", read_storage_quantity(field, pv.capacity_bytes));
    if (key == "accessModes")
      return within("accessModes", read_access_modes(field, pv.access_modes));
    if (key == "nodeAffinity") {
      return within("nodeAffinity",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "required")
                        return within("required", read_node_selector(v, pv.node_affinity));
                      return {};
                    }));
    }
    if (key == "claimRef") {
      return within("claimRef",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "namespace")
                        return within("namespace", read_string(v, pv.claim_namespace));
                      if (k2 == "name") return within("name", read_string(v, pv.claim_name));
                      if (k2 == "uid") return within("uid", read_string(v, pv.claim_uid));
                      return {};
                    }));
    }
    if (key == "csi") {
      return within("csi", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "driver") return within("driver", read_string(v, pv.csi_driver));
                      return {};
                    }));
    }
    return {};
  });
}

R read_persistent_volume_claim_spec(dom::element value, PersistentVolumeClaim& pvc) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "storageClassName") {
      // Absent or null: the default class; "": no class (only volumes without one).
      if (is_null(field)) return {};
      return within("storageClassName", read_string(field, pvc.storage_class.emplace()));
    }
    if (key == "volumeName") return within("volumeName", read_string(field, pvc.volume_name));
    if (key == "accessModes")
      return within("accessModes", read_access_modes(field, pvc.access_modes));
    if (key == "resources") {
      return within("resources",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "requests")
                        return within("requests", read_storage_quantity(v, pvc.request_bytes));
                      return {};
                    }));
    }
    if (key == "selector") return within("selector", read_optional_selector(field, pvc.selector));
    return {};
  });
}

// metadata.ownerReferences: the controller's kind and uid.
R read_controller_owner(dom::element metadata, std::string& kind, std::string& uid) {
  return for_each_field(metadata, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "ownerReferences")) return {};
    return within("ownerReferences",
                  for_each_element(field, [&](size_t i, dom::element element) -> R {
                    bool controller = false;
                    std::string owner_kind;
                    std::string owner_uid;
                    R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "controller") return within("controller", read_bool(v, controller));
                      if (k2 == "kind") return within("kind", read_string(v, owner_kind));
                      if (k2 == "uid") return within("uid", read_string(v, owner_uid));
                      return {};
                    });
                    if (!r) return within_index("", i, std::move(r));
                    if (controller) {
                      kind = std::move(owner_kind);
                      uid = std::move(owner_uid);
                    }
                    return {};
                  }));
  });
}

R read_allowed_topologies(dom::element value, std::vector<NodeSelectorTerm>& out) {
  reserve_for(value, out);
  return for_each_element(value, [&](size_t i, dom::element element) -> R {
    NodeSelectorTerm& term = out.emplace_back();
    return within_index(
        "", i, for_each_field(element, [&](std::string_view key, dom::element field) -> R {
          if (!(key == "matchLabelExpressions")) return {};
          reserve_for(field, term.match_expressions);
          return within(
              "matchLabelExpressions", for_each_element(field, [&](size_t j, dom::element e) -> R {
                NodeSelectorRequirement& requirement = term.match_expressions.emplace_back();
                requirement.op = NodeSelectorRequirement::Operator::kIn;
                return within_index(
                    "", j, for_each_field(e, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "key") return within("key", read_string(v, requirement.key));
                      if (k2 == "values")
                        return within("values", read_string_list(v, requirement.values));
                      return {};
                    }));
              }));
        }));
  });
}

R read_csi_node_spec(dom::element value, CsiNode& node) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (!(key == "drivers")) return {};
    return within("drivers", for_each_element(field, [&](size_t i, dom::element element) -> R {
                    std::string name;
                    std::optional<int64_t> count;
                    R r = for_each_field(element, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 == "name") return within("name", read_string(v, name));
                      if (k2 == "allocatable") {
                        return within(
                            "allocatable",
                            for_each_field(v, [&](std::string_view k3, dom::element c) -> R {
                              if (!(k3 == "count") || is_null(c)) return {};
                              int64_t n = 0;
                              R rr = read_int64(c, n);
                              if (rr) count = n;
                              return within("count", std::move(rr));
                            }));
                      }
                      return {};
                    });
                    if (r && name.empty()) r = within("name", fail("required"));
                    if (!r) return within_index("", i, std::move(r));
                    // No allocatable count: the driver sets no limit.
                    if (count) node.attach_limits.insert_or_assign(std::move(name), *count);
                    return {};
                  }));
  });
}

}  // namespace

template <>
struct Codec<PersistentVolume> {
  static R decode(dom::object object, Decoded<PersistentVolume>& out) {
    PersistentVolume& pv = out.object;
    MetaSink sink{&pv.labels, nullptr, nullptr, &pv.deleting};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") return within("spec", read_persistent_volume_spec(field, pv));
      if (key == "status") return within("status", read_phase(field, pv.phase));
      return {};
    });
    pv.name = out.meta.name;
    return r;
  }
};

template <>
struct Codec<PersistentVolumeClaim> {
  static R decode(dom::object object, Decoded<PersistentVolumeClaim>& out) {
    PersistentVolumeClaim& pvc = out.object;
    MetaSink sink{nullptr, &pvc.annotations, nullptr, &pvc.deleting};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") {
        if (R meta = read_meta(field, out.meta, sink); !meta)
          return within("metadata", std::move(meta));
        return within("metadata", read_controller_owner(field, pvc.owner_kind, pvc.owner_uid));
      }
      if (key == "spec") return within("spec", read_persistent_volume_claim_spec(field, pvc));
      if (key == "status") return within("status", read_phase(field, pvc.phase));
      return {};
    });
    pvc.namespace_ = out.meta.namespace_;
    pvc.name = out.meta.name;
    pvc.uid = out.meta.uid;
    return r;
  }
};

template <>
struct Codec<StorageClass> {
  static R decode(dom::object object, Decoded<StorageClass>& out) {
    StorageClass& sc = out.object;
    Labels annotations;
    MetaSink sink{nullptr, &annotations, nullptr, nullptr};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "provisioner") return within("provisioner", read_string(field, sc.provisioner));
      if (key == "volumeBindingMode") {
        std::string mode;
        R rr = read_string(field, mode);
        sc.wait_for_first_consumer = mode == "WaitForFirstConsumer";
        return within("volumeBindingMode", std::move(rr));
      }
      if (key == "allowedTopologies") {
        return within("allowedTopologies", read_allowed_topologies(field, sc.allowed_topologies));
      }
      return {};
    });
    sc.name = out.meta.name;
    const auto it = annotations.find("storageclass.kubernetes.io/is-default-class");
    sc.is_default = it != annotations.end() && it->second == "true";
    return r;
  }
};

template <>
struct Codec<CsiNode> {
  static R decode(dom::object object, Decoded<CsiNode>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "spec") return within("spec", read_csi_node_spec(field, out.object));
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<PersistentVolume>, std::string> decode_persistent_volume(
    std::string_view json) {
  return decode_document<PersistentVolume>(json);
}

tl::expected<Decoded<PersistentVolumeClaim>, std::string> decode_persistent_volume_claim(
    std::string_view json) {
  return decode_document<PersistentVolumeClaim>(json);
}

tl::expected<Decoded<StorageClass>, std::string> decode_storage_class(std::string_view json) {
  return decode_document<StorageClass>(json);
}

tl::expected<Decoded<CsiNode>, std::string> decode_csi_node(std::string_view json) {
  return decode_document<CsiNode>(json);
}

FAIRWAY_K8S_INSTANTIATE(PersistentVolume)
FAIRWAY_K8S_INSTANTIATE(PersistentVolumeClaim)
FAIRWAY_K8S_INSTANTIATE(StorageClass)
FAIRWAY_K8S_INSTANTIATE(CsiNode)

}  // namespace fairway::k8s
