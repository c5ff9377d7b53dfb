#include "sim/apiserver/patch.h"

#include <algorithm>
#include <string>

#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

// Lists that kube's Go types tag `patchStrategy:"merge"`, with their merge key; "" for merged
// lists of primitives (set union).
const char* merge_key_for(std::string_view list) {
  static const std::pair<std::string_view, const char*> kKeys[] = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"env", "name"},
      {"imagePullSecrets", "name"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
      {"ports", "containerPort"},
      {"conditions", "type"},
      {"ownerReferences", "uid"},
      {"hostAliases", "ip"},
      {"topologySpreadConstraints", "topologyKey"},
      {"taints", "key"},
      {"addresses", "type"},
      {"finalizers", ""},
  };
  for (const auto& [name, key] : kKeys) {
    if (name == list) return key;
  }
  return nullptr;
}

json merge_list(const json& target, const json& patch, const char* key) {
  if (!target.is_array()) {
    json out = json::array();
    for (const auto& p : patch) {
      if (!(p.is_object() && str(p, "$patch") == "delete")) out.push_back(p);
    }
    return out;
  }
  json out = target;
  if (*key == '\0') {  // primitive set union
    for (const auto& p : patch) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    return out;
  }
  for (const auto& p : patch) {
    if (!p.is_object() || !p.contains(key)) {
      out.push_back(p);
      continue;
    }
    auto it = std::find_if(out.begin(), out.end(), [&](const json& e) {
      return e.is_object() && e.contains(key) && e[key] == p[key];
    });
    const bool remove = str(p, "$patch") == "delete";
    if (it == out.end()) {
      if (!remove) out.push_back(strategic_merge_patch(json::object(), p));
    } else if (remove) {
      out.erase(it);
    } else {
      *it = strategic_merge_patch(*it, p);
    }
  }
  return out;
}

}  // namespace

json merge_patch(json target, const json& patch) {
  target.merge_patch(patch);
  return target;
}

json strategic_merge_patch(json target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (str(patch, "$patch") == "replace") {
    json replaced = patch;
    replaced.erase("$patch");
    return replaced;
  }
  if (str(patch, "$patch") == "delete") return json(nullptr);
  if (!target.is_object()) target = json::object();
  for (const auto& [k, v] : patch.items()) {
    if (k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/")) continue;
    if (k.starts_with("$deleteFromPrimitiveList/")) {
      const std::string list = k.substr(std::string_view("$deleteFromPrimitiveList/").size());
      if (target.contains(list) && target[list].is_array() && v.is_array()) {
        json& l = target[list];
        for (const auto& d : v) l.erase(std::remove(l.begin(), l.end(), d), l.end());
      }
      continue;
    }
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object()) {
      json merged = strategic_merge_patch(target.contains(k) ? target[k] : json::object(), v);
      if (merged.is_null()) {
        target.erase(k);
      } else {
        target[k] = std::move(merged);
      }
    } else if (v.is_array()) {
      const char* key = merge_key_for(k);
      target[k] = key ? merge_list(target.contains(k) ? target[k] : json(), v, key) : v;
    } else {
      target[k] = v;
    }
  }
  return target;
}

tl::expected<PatchType, ApiError> patch_type_from_content_type(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  if (media == "application/merge-patch+json") return PatchType::kMerge;
  if (media == "application/strategic-merge-patch+json") return PatchType::kStrategicMerge;
  if (media == "application/json-patch+json") return PatchType::kJsonPatch;
  if (media == "application/apply-patch+yaml") return PatchType::kApply;
  return tl::unexpected(ApiError{415, "UnsupportedMediaType",
                                 "the body of the request was in an unknown format - accepted "
                                 "media types include: application/json-patch+json, "
                                 "application/merge-patch+json, "
                                 "application/strategic-merge-patch+json",
                                 nullptr});
}

tl::expected<json, ApiError> apply_patch(const json& target, PatchType type,
                                         std::string_view patch_text) {
  if (type == PatchType::kApply) {
    return tl::unexpected(ApiError{415, "UnsupportedMediaType",
                                   "server-side apply is not supported by the embedded API "
                                   "server; use client-side apply",
                                   nullptr});
  }
  json patch = json::parse(patch_text, nullptr, false);
  if (patch.is_discarded()) {
    return tl::unexpected(bad_request("error decoding patch: invalid JSON"));
  }
  switch (type) {
    case PatchType::kMerge:
      if (!patch.is_object()) return tl::unexpected(bad_request("merge patch must be an object"));
      return merge_patch(target, patch);
    case PatchType::kStrategicMerge:
      if (!patch.is_object())
        return tl::unexpected(bad_request("strategic merge patch must be an object"));
      return strategic_merge_patch(target, patch);
    case PatchType::kJsonPatch:
      if (!patch.is_array()) return tl::unexpected(bad_request("json patch must be an array"));
      try {
        return target.patch(patch);
      } catch (const json::exception& e) {
        return tl::unexpected(ApiError{422, "Invalid",
                                       std::string("the server rejected our request "
                                                   "due to an error in our request: ") +
                                           e.what(),
                                       nullptr});
      }
    case PatchType::kApply:
      break;
  }
  return tl::unexpected(bad_request("unsupported patch type"));
}

}  // namespace fairway::apiserver
