#include "sim/apiserver/resource_types.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "sim/apiserver/json_util.h"
#include "sim/apiserver/schema.h"

namespace fairway::apiserver {

const std::vector<std::string>& all_verbs() {
  static const std::vector<std::string> verbs = {"create", "delete", "deletecollection", "get",
                                                 "list",   "patch",  "update",           "watch"};
  return verbs;
}

bool ResourceType::serves(const std::string& version) const {
  return std::find(versions.begin(), versions.end(), version) != versions.end();
}

bool ResourceType::served_at(const std::string& version, int minor) const {
  if (!serves(version)) return false;
  const auto it = served_minors.find(version);
  return it == served_minors.end() || it->second.contains(minor);
}

bool ResourceType::has_subresource(const std::string& name) const {
  return std::any_of(subresources.begin(), subresources.end(),
                     [&](const Subresource& s) { return s.name == name; });
}

namespace {

ResourceType make(std::string group, std::string version, std::string plural, std::string singular,
                  std::string kind, bool namespaced, std::vector<std::string> short_names,
                  Special special = Special::kNone) {
  ResourceType t;
  t.group = std::move(group);
  t.versions = {std::move(version)};
  t.plural = std::move(plural);
  t.singular = std::move(singular);
  t.kind = std::move(kind);
  t.list_kind = t.kind + "List";
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.verbs = all_verbs();
  t.special = special;
  return t;
}

Subresource status_sub(const ResourceType& t) {
  return {"status", t.kind, "", "", {"get", "patch", "update"}};
}

}  // namespace

std::vector<ResourceType> builtin_resource_types() {
  std::vector<ResourceType> out;

  ResourceType ns =
      make("", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, Special::kNamespace);
  ns.verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
  ns.status_subresource = true;
  ns.subresources = {status_sub(ns)};
  out.push_back(ns);

  ResourceType pods = make("", "v1", "pods", "pod", "Pod", true, {"po"}, Special::kPod);
  pods.categories = {"all"};
  pods.status_subresource = true;
  pods.subresources = {{"binding", "Binding", "", "", {"create"}},
                       {"eviction", "Eviction", "policy", "v1", {"create"}},
                       status_sub(pods)};
  out.push_back(pods);

  ResourceType nodes = make("", "v1", "nodes", "node", "Node", false, {"no"}, Special::kNode);
  nodes.status_subresource = true;
  nodes.subresources = {status_sub(nodes)};
  out.push_back(nodes);

  out.push_back(make("", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}));

  // Storage, for the volume checks: stored objects whose status the server sets on create
  // (Store::prepare_create_locked); no PV controller binds them.
  ResourceType pvs =
      make("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, {"pv"});
  pvs.status_subresource = true;
  pvs.subresources = {status_sub(pvs)};
  out.push_back(pvs);
  ResourceType pvcs = make("", "v1", "persistentvolumeclaims", "persistentvolumeclaim",
                           "PersistentVolumeClaim", true, {"pvc"});
  pvcs.status_subresource = true;
  pvcs.subresources = {status_sub(pvcs)};
  out.push_back(pvcs);

  out.push_back(make("", "v1", "events", "event", "Event", true, {"ev"}, Special::kEvent));
  ResourceType events_v1 =
      make("events.k8s.io", "v1", "events", "event", "Event", true, {"ev"}, Special::kEventsV1);
  events_v1.served_minors = {{"v1", {19}}};
  out.push_back(events_v1);

  ResourceType bindings = make("", "v1", "bindings", "binding", "Binding", true, {});
  bindings.verbs = {"create"};
  out.push_back(bindings);

  out.push_back(make("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}));
  out.push_back(make("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                     "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", false, {}));
  out.push_back(make("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass",
                     false, {"pc"}, Special::kPriorityClass));
  // Kubernetes 1.35's gang API (KEP-4671): Workload objects whose pod groups pods name through
  // spec.workloadRef. Served as 1.35 serves it with the Workload feature on; 1.36 moved gangs to
  // scheduling.k8s.io/v1alpha2 PodGroups.
  ResourceType workloads = make("scheduling.k8s.io", "v1alpha1", "workloads", "workload",
                                "Workload", true, {}, Special::kWorkload);
  workloads.served_minors = {{"v1alpha1", {35, 35}}};
  out.push_back(workloads);

  // Dynamic Resource Allocation (KEP-4381), GA in 1.34 as resource.k8s.io/v1: the devices
  // drivers publish (ResourceSlice), the classes that select them, and the claims pods make.
  // kube-apiserver gives them no short names.
  for (const auto& [plural, singular, kind, namespaced] :
       std::vector<std::tuple<std::string, std::string, std::string, bool>>{
           {"deviceclasses", "deviceclass", "DeviceClass", false},
           {"resourceclaims", "resourceclaim", "ResourceClaim", true},
           {"resourceclaimtemplates", "resourceclaimtemplate", "ResourceClaimTemplate", true},
           {"resourceslices", "resourceslice", "ResourceSlice", false}}) {
    ResourceType t =
        make("resource.k8s.io", "v1", plural, singular, kind, namespaced, {}, Special::kDra);
    t.served_minors = {{"v1", {34}}};
    if (kind == "ResourceClaim") {  // status.allocation and reservedFor: the scheduler's
      t.status_subresource = true;
      t.subresources = {status_sub(t)};
    }
    out.push_back(t);
  }

  out.push_back(make("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass",
                     false, {"sc"}));
  out.push_back(make("storage.k8s.io", "v1", "csinodes", "csinode", "CSINode", false, {}));

  ResourceType pdb = make("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget",
                          "PodDisruptionBudget", true, {"pdb"}, Special::kPodDisruptionBudget);
  // policy/v1 from 1.21; policy/v1beta1 until 1.24 (the same objects, stored as v1).
  pdb.versions = {"v1", "v1beta1"};
  pdb.served_minors = {{"v1", {21}}, {"v1beta1", {0, 24}}};
  pdb.status_subresource = true;
  pdb.subresources = {status_sub(pdb)};
  out.push_back(pdb);

  // Plain stored objects with no controller behind them: what the chart installs (so `helm
  // install` runs) and the workloads whose pods fairway groups by owner. Tests create the pods an
  // operator or controller would.
  out.push_back(make("", "v1", "secrets", "secret", "Secret", true, {}, Special::kSecret));
  out.push_back(
      make("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}));
  ResourceType services = make("", "v1", "services", "service", "Service", true, {"svc"});
  services.categories = {"all"};  // `kubectl get all` lists them, as on a cluster
  out.push_back(services);
  for (const auto& [plural, singular, kind, short_name] : std::vector<std::array<std::string, 4>>{
           {"deployments", "deployment", "Deployment", "deploy"},
           {"replicasets", "replicaset", "ReplicaSet", "rs"},
           {"statefulsets", "statefulset", "StatefulSet", "sts"},
           {"daemonsets", "daemonset", "DaemonSet", "ds"}}) {
    ResourceType t = make("apps", "v1", plural, singular, kind, true, {short_name});
    t.categories = {"all"};
    t.status_subresource = true;
    t.subresources = {status_sub(t)};
    out.push_back(t);
  }
  for (const auto& [plural, singular, kind, short_name] : std::vector<std::array<std::string, 4>>{
           {"jobs", "job", "Job", ""}, {"cronjobs", "cronjob", "CronJob", "cj"}}) {
    ResourceType t = make(
        "batch", "v1", plural, singular, kind, true,
        short_name.empty() ? std::vector<std::string>{} : std::vector<std::string>{short_name});
    t.categories = {"all"};
    t.status_subresource = true;
    t.subresources = {status_sub(t)};
    if (kind == "CronJob") {  // batch/v1 from 1.21; batch/v1beta1 until 1.24
      t.versions = {"v1", "v1beta1"};
      t.served_minors = {{"v1", {21}}, {"v1beta1", {0, 24}}};
    }
    out.push_back(t);
  }
  for (const auto& [plural, singular, kind, namespaced] :
       std::vector<std::tuple<std::string, std::string, std::string, bool>>{
           {"roles", "role", "Role", true},
           {"rolebindings", "rolebinding", "RoleBinding", true},
           {"clusterroles", "clusterrole", "ClusterRole", false},
           {"clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false}}) {
    out.push_back(make("rbac.authorization.k8s.io", "v1", plural, singular, kind, namespaced, {}));
  }
  for (const auto& [group, plural, singular, kind] : std::vector<std::array<std::string, 4>>{
           {"authentication.k8s.io", "tokenreviews", "tokenreview", "TokenReview"},
           {"authorization.k8s.io", "subjectaccessreviews", "subjectaccessreview",
            "SubjectAccessReview"}}) {
    ResourceType review = make(group, "v1", plural, singular, kind, false, {}, Special::kReview);
    review.verbs = {"create"};
    out.push_back(review);
  }
  out.push_back(make("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                     "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false,
                     {}));
  out.push_back(make("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies",
                     "validatingadmissionpolicy", "ValidatingAdmissionPolicy", false, {}));
  out.push_back(make("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
                     "validatingadmissionpolicybinding", "ValidatingAdmissionPolicyBinding", false,
                     {}));
  out.push_back(make("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy",
                     true, {"netpol"}));

  ResourceType crd =
      make("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
           "CustomResourceDefinition", false, {"crd", "crds"}, Special::kCustomResourceDefinition);
  crd.status_subresource = true;
  crd.subresources = {status_sub(crd)};
  out.push_back(crd);
  return out;
}

namespace {

std::vector<std::string> string_list(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

tl::expected<ResourceType, std::string> resource_type_from_crd(const nlohmann::json& crd) {
  const auto& spec = member(crd, "spec");
  if (!spec.is_object()) return tl::unexpected(std::string("spec: Required value"));
  ResourceType t;
  t.group = str(spec, "group");
  if (t.group.empty()) return tl::unexpected(std::string("spec.group: Required value"));
  const auto& names = member(spec, "names");
  t.plural = str(names, "plural");
  t.kind = str(names, "kind");
  if (t.plural.empty()) return tl::unexpected(std::string("spec.names.plural: Required value"));
  if (t.kind.empty()) return tl::unexpected(std::string("spec.names.kind: Required value"));
  t.singular = str(names, "singular", lower(t.kind));
  t.list_kind = str(names, "listKind", t.kind + "List");
  t.short_names = string_list(member(names, "shortNames"));
  t.categories = string_list(member(names, "categories"));
  const std::string scope = str(spec, "scope");
  if (scope != "Namespaced" && scope != "Cluster") {
    return tl::unexpected(std::string("spec.scope: Unsupported value: \"" + scope +
                                      "\": supported values: \"Cluster\", \"Namespaced\""));
  }
  t.namespaced = scope == "Namespaced";
  t.verbs = all_verbs();
  t.special = Special::kCustomResource;
  const auto& versions = member(spec, "versions");
  if (!versions.is_array() || versions.empty()) {
    return tl::unexpected(std::string("spec.versions: Required value"));
  }
  // Storage version first: it is the version objects are written in.
  std::string storage;
  std::vector<std::string> served;
  for (const auto& v : versions) {
    const std::string name = str(v, "name");
    if (name.empty()) return tl::unexpected(std::string("spec.versions[].name: Required value"));
    if (flag(v, "storage", false)) {
      storage = name;
      t.schema = crd_storage_schema(crd);
    }
    if (!flag(v, "served", true)) continue;
    served.push_back(name);
    if (flag(v, "storage", false) || t.columns.empty()) {
      if (member(v, "subresources").contains("status")) {
        t.status_subresource = true;
      }
      std::vector<PrinterColumn> columns;
      for (const auto& c : member(v, "additionalPrinterColumns")) {
        PrinterColumn col;
        col.name = str(c, "name");
        col.type = str(c, "type", "string");
        col.format = str(c, "format");
        col.description = str(c, "description");
        col.json_path = str(c, "jsonPath");
        col.priority = static_cast<int>(integer(c, "priority", 0));
        columns.push_back(std::move(col));
      }
      if (!columns.empty()) t.columns = std::move(columns);
    }
  }
  if (storage.empty()) {
    return tl::unexpected(
        std::string("spec.versions: Invalid value: must have exactly one "
                    "version marked as storage version"));
  }
  if (served.empty()) return tl::unexpected(std::string("spec.versions: no served version"));
  t.versions.push_back(storage);
  for (auto& v : served) {
    if (v != storage) t.versions.push_back(v);
  }
  if (t.status_subresource) t.subresources = {status_sub(t)};
  return t;
}

}  // namespace fairway::apiserver
