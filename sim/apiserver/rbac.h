#pragma once
// kube-apiserver's authorizers for SubjectAccessReviews (authorization.k8s.io/v1): the group
// system:masters is allowed everything (the privileged-group authorizer in front of RBAC); every
// other subject is decided by RBAC over the stored ClusterRoles, ClusterRoleBindings, Roles and
// RoleBindings, as kube's RBAC authorizer does:
//   - ClusterRoleBindings grant their role's rules everywhere; RoleBindings (to a Role of their
//     namespace, or to a ClusterRole) only to resource requests in their namespace, never to
//     non-resource URLs;
//   - subjects: User (by name), Group (by membership), ServiceAccount (the user
//     "system:serviceaccount:NAMESPACE:NAME"; a RoleBinding's subject without a namespace is in
//     the binding's);
//   - rules: verbs and apiGroups match exactly or "*"; resources match "*", "RESOURCE",
//     "RESOURCE/SUBRESOURCE" or "*/SUBRESOURCE"; resourceNames, when listed, must name the
//     object; nonResourceURLs match "*", exactly, or by prefix before a trailing "*".
// Allowed answers carry RBAC's reason (`RBAC: allowed by ClusterRoleBinding "b" of ClusterRole
// "r" to User "u"`); a denial has none (RBAC has no opinion, and no other authorizer allows).
// Pure: the RBAC objects are passed in.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fairway::apiserver {

struct AccessSubject {
  std::string user;
  std::vector<std::string> groups;
};

struct AccessAttributes {
  bool resource_request = true;
  std::string verb;
  std::string api_group;
  std::string resource;
  std::string subresource;
  std::string namespace_;
  std::string name;
  std::string path;  // non-resource requests
};

struct RbacObjects {
  std::vector<nlohmann::json> cluster_roles;
  std::vector<nlohmann::json> cluster_role_bindings;
  std::vector<nlohmann::json> roles;
  std::vector<nlohmann::json> role_bindings;
};

struct AccessDecision {
  bool allowed = false;
  std::string reason;
};

AccessDecision authorize(const RbacObjects& rbac, const AccessSubject& subject,
                         const AccessAttributes& attributes);

}  // namespace fairway::apiserver
