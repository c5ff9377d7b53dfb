#pragma once
// What the embedded API server serves: one ResourceType per (group, plural), built in (core/v1,
// coordination, scheduling, policy, apiextensions) or registered at run time from a
// CustomResourceDefinition. Discovery, routing, tables and the store all read this one record.

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "sim/apiserver/kubernetes_version.h"

namespace fairway::apiserver {

// Behaviour beyond plain CRUD that the store applies for some built-in kinds.
enum class Special {
  kNone,
  kNamespace,
  kPod,
  kNode,
  kEvent,
  kEventsV1,  // events.k8s.io/v1: a view of the core/v1 events (sim/apiserver/events_v1.h)
  kPodDisruptionBudget,
  kPriorityClass,
  kWorkload,  // scheduling.k8s.io/v1alpha1 (1.35): validated (sim/apiserver/workload_validation.h)
  kDra,  // resource.k8s.io/v1 (1.34+): defaulted and validated (sim/apiserver/dra_validation.h)
  kSecret,
  kCustomResourceDefinition,
  kCustomResource,
  kReview,  // TokenReview, SubjectAccessReview: create only, answered and not stored (reviews.h)
};

struct PrinterColumn {
  std::string name;
  std::string type;  // string, integer, number, boolean, date
  std::string format;
  std::string description;
  std::string json_path;  // ".spec.parent", ".status.allocated.nvidia\.com/gpu"
  int priority = 0;       // > 0: only with -o wide
};

struct Subresource {
  std::string name;  // "status", "binding", "eviction"
  std::string kind;  // kind of the body it takes
  std::string group;
  std::string version;
  std::vector<std::string> verbs;
};

struct ResourceType {
  std::string group;                  // "" for core
  std::vector<std::string> versions;  // served versions; the first is the storage version
  std::string plural;
  std::string singular;
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  std::vector<Subresource> subresources;
  bool status_subresource = false;
  std::vector<PrinterColumn> columns;  // CRD additionalPrinterColumns; empty: defaults
  Special special = Special::kNone;
  // Custom resources: the storage version's openAPIV3Schema (sim/apiserver/schema.h), if any.
  std::shared_ptr<const nlohmann::json> schema;
  // The releases each version is served in (absent: every modelled release).
  std::map<std::string, ServedRange> served_minors;

  // Identity in the store: "/pods", "scheduling.fairway.dev/queues".
  std::string key() const { return group + "/" + plural; }
  std::string api_version(const std::string& version) const {
    return group.empty() ? version : group + "/" + version;
  }
  std::string storage_api_version() const { return api_version(versions.front()); }
  bool serves(const std::string& version) const;
  // Whether `version` is served by a server answering as Kubernetes 1.<minor>.
  bool served_at(const std::string& version, int minor) const;
  bool has_subresource(const std::string& name) const;
};

using ResourceTypePtr = std::shared_ptr<const ResourceType>;

// The built-in resources, in discovery order.
std::vector<ResourceType> builtin_resource_types();

// The resource a CustomResourceDefinition (apiextensions.k8s.io/v1, as JSON) defines; an error
// message names the offending field.
tl::expected<ResourceType, std::string> resource_type_from_crd(const nlohmann::json& crd);

// The full set of CRUD verbs.
const std::vector<std::string>& all_verbs();

}  // namespace fairway::apiserver
