#include "sim/apiserver/rbac.h"

#include <algorithm>
#include <optional>

#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

std::vector<std::string> strings(const json& list) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool matches_exact_or_star(const json& list, const std::string& value) {
  const auto words = strings(list);
  return has(words, "*") || has(words, value);
}

bool resource_matches(const json& rule, const AccessAttributes& a) {
  const std::string combined =
      a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  for (const std::string& resource : strings(member(rule, "resources"))) {
    if (resource == "*" || resource == combined) return true;
    if (!a.subresource.empty() && resource == "*/" + a.subresource) return true;
  }
  return false;
}

bool non_resource_matches(const json& rule, const std::string& path) {
  for (const std::string& url : strings(member(rule, "nonResourceURLs"))) {
    if (url == "*" || url == path) return true;
    if (url.ends_with('*') && path.starts_with(std::string_view(url).substr(0, url.size() - 1)))
      return true;
  }
  return false;
}

bool rule_allows(const json& rule, const AccessAttributes& a) {
  if (!matches_exact_or_star(member(rule, "verbs"), a.verb)) return false;
  if (!a.resource_request) return non_resource_matches(rule, a.path);
  if (!matches_exact_or_star(member(rule, "apiGroups"), a.api_group)) return false;
  if (!resource_matches(rule, a)) return false;
  const auto names = strings(member(rule, "resourceNames"));
  return names.empty() || has(names, a.name);
}

// The subject's description in RBAC's reasons, when it names the requester; nullopt otherwise.
std::optional<std::string> matching_subject(const json& binding, const AccessSubject& subject) {
  const std::string binding_namespace = str(member(binding, "metadata"), "namespace");
  const json& subjects = member(binding, "subjects");
  if (!subjects.is_array()) return std::nullopt;
  for (const json& s : subjects) {
    const std::string kind = str(s, "kind");
    const std::string name = str(s, "name");
    if (kind == "User" && name == subject.user) return "User \"" + name + "\"";
    if (kind == "Group" && has(subject.groups, name)) return "Group \"" + name + "\"";
    if (kind == "ServiceAccount") {
      std::string ns = str(s, "namespace");
      if (ns.empty()) ns = binding_namespace;
      if (subject.user == "system:serviceaccount:" + ns + ":" + name)
        return "ServiceAccount \"" + name + "/" + ns + "\"";
    }
  }
  return std::nullopt;
}

const json* find_role(const std::vector<json>& roles, const std::string& name,
                      const std::string& ns) {
  for (const json& role : roles) {
    const json& metadata = member(role, "metadata");
    if (str(metadata, "name") == name && str(metadata, "namespace") == ns) return &role;
  }
  return nullptr;
}

// The reason when one of `binding`'s role's rules allows the request.
std::optional<std::string> binding_allows(const RbacObjects& rbac, const json& binding,
                                          const std::string& binding_kind,
                                          const AccessSubject& subject, const AccessAttributes& a) {
  const auto who = matching_subject(binding, subject);
  if (!who) return std::nullopt;
  const json& ref = member(binding, "roleRef");
  const std::string role_kind = str(ref, "kind");
  const std::string role_name = str(ref, "name");
  const std::string ns = str(member(binding, "metadata"), "namespace");
  const json* role = role_kind == "ClusterRole" ? find_role(rbac.cluster_roles, role_name, "")
                     : role_kind == "Role"      ? find_role(rbac.roles, role_name, ns)
                                                : nullptr;
  if (role == nullptr) return std::nullopt;
  const json& rules = member(*role, "rules");
  if (!rules.is_array()) return std::nullopt;
  for (const json& rule : rules) {
    if (!rule_allows(rule, a)) continue;
    const std::string name = str(member(binding, "metadata"), "name");
    const std::string binding_name = ns.empty() ? name : name + "/" + ns;
    return "RBAC: allowed by " + binding_kind + " \"" + binding_name + "\" of " + role_kind +
           " \"" + role_name + "\" to " + *who;
  }
  return std::nullopt;
}

}  // namespace

AccessDecision authorize(const RbacObjects& rbac, const AccessSubject& subject,
                         const AccessAttributes& attributes) {
  if (has(subject.groups, "system:masters")) return {true, ""};
  for (const json& binding : rbac.cluster_role_bindings) {
    if (auto reason = binding_allows(rbac, binding, "ClusterRoleBinding", subject, attributes))
      return {true, *reason};
  }
  if (attributes.resource_request && !attributes.namespace_.empty()) {
    for (const json& binding : rbac.role_bindings) {
      if (str(member(binding, "metadata"), "namespace") != attributes.namespace_) continue;
      if (auto reason = binding_allows(rbac, binding, "RoleBinding", subject, attributes))
        return {true, *reason};
    }
  }
  return {false, ""};
}

}  // namespace fairway::apiserver
