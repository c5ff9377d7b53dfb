#pragma once
// What a request asks for, in the words of Kubernetes RBAC: verb, API group, resource,
// subresource, namespace and name, resolved from the HTTP method and path the way
// kube-apiserver's RequestInfoResolver does (GET on a collection is list, or watch with
// ?watch=true; DELETE on a collection is deletecollection). The embedded API server records
// these in its audit log (--audit-log) so a test can check that a Role grants every call a
// client made. Pure: no I/O.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace fairway::apiserver {

struct RequestInfo {
  bool resource_request = false;  // /api/v1/... or /apis/GROUP/VERSION/...; else a non-resource URL
  std::string verb;               // get list watch create update patch delete deletecollection; for
                                  // non-resource URLs the lower-case HTTP method
  std::string api_group;          // "" for core/v1
  std::string api_version;        // "v1", "v1alpha1"
  std::string namespace_;   // empty for cluster-scoped resources and all-namespace collections
  std::string resource;     // plural, e.g. "pods"
  std::string subresource;  // e.g. "binding", "status", "eviction"
  std::string name;
  std::string path;  // without the query
};

RequestInfo resolve_request_info(std::string_view method, std::string_view target);

// One line of the audit log (JSON): who asked, what, and the answer's HTTP status.
nlohmann::json audit_line(const RequestInfo& info, std::string_view user_agent, int code);

}  // namespace fairway::apiserver
