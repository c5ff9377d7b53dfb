#include "sim/apiserver/reviews.h"

#include <optional>
#include <set>

#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;

// One CSV line into fields: commas separate, double quotes group (and "" is a quote).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back().push_back(c);
    }
  }
  return out;
}

// An answered review: the request echoed with its status, as kube-apiserver returns it.
json answered(json body, json status) {
  json out = json::object();
  out["kind"] = body.value("kind", "");
  out["apiVersion"] = body.value("apiVersion", "");
  out["metadata"] = member(body, "metadata").is_object() ? body["metadata"] : json::object();
  if (!out["metadata"].contains("creationTimestamp"))
    out["metadata"]["creationTimestamp"] = nullptr;
  out["spec"] = member(body, "spec").is_object() ? body["spec"] : json::object();
  out["status"] = std::move(status);
  return out;
}

}  // namespace

tl::expected<std::vector<TokenUser>, std::string> parse_token_file(const std::string& text) {
  std::vector<TokenUser> users;
  std::set<std::string> tokens;
  size_t number = 0;
  for (size_t start = 0; start <= text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto fields = csv_fields(line);
    const std::string where = "token file line " + std::to_string(number);
    if (fields.size() < 3) return tl::unexpected(where + ": expected token,user,uid[,groups]");
    if (fields[0].empty() || fields[1].empty())
      return tl::unexpected(where + ": the token and the user name must not be empty");
    if (!tokens.insert(fields[0]).second)
      return tl::unexpected(where + ": duplicate token (each token names one user)");
    TokenUser user{fields[0], fields[1], fields[2], {}};
    if (fields.size() >= 4) {
      for (const auto& group : csv_fields(fields[3])) {
        if (!group.empty()) user.groups.push_back(group);
      }
    }
    users.push_back(std::move(user));
    if (end == text.size()) break;
  }
  return users;
}

tl::expected<json, ApiError> answer_token_review(const json& body, const std::string& admin_token,
                                                 const std::vector<TokenUser>& users) {
  const std::string token = str(member(body, "spec"), "token");
  if (token.empty())
    return tl::unexpected(bad_request("token is required for TokenReview in authentication"));
  std::optional<json> user;
  if (!admin_token.empty() && token == admin_token) {
    user = json{{"username", "admin"}, {"groups", {"system:masters", "system:authenticated"}}};
  }
  for (const TokenUser& candidate : users) {
    if (user || candidate.token != token) continue;
    json groups = candidate.groups;
    groups.push_back("system:authenticated");
    user = json{{"username", candidate.user}, {"uid", candidate.uid}, {"groups", groups}};
  }
  json status = json::object();
  if (user) {
    status["authenticated"] = true;
    status["user"] = *user;
  } else {
    status["user"] = json::object();
    status["error"] = "invalid bearer token";
  }
  return answered(body, std::move(status));
}

tl::expected<json, ApiError> answer_access_review(const json& body, const RbacObjects& rbac) {
  const json& spec = member(body, "spec");
  const json& resource = member(spec, "resourceAttributes");
  const json& non_resource = member(spec, "nonResourceAttributes");
  if (resource.is_object() == non_resource.is_object()) {
    return tl::unexpected(invalid("SubjectAccessReview", "authorization.k8s.io", "",
                                  "spec.resourceAttributes",
                                  "Invalid value: \"null\": exactly one of nonResourceAttributes "
                                  "or resourceAttributes must be specified"));
  }
  AccessSubject subject{str(spec, "user"), {}};
  if (member(spec, "groups").is_array()) {
    for (const auto& group : spec["groups"]) {
      if (group.is_string()) subject.groups.push_back(group.get<std::string>());
    }
  }
  if (subject.user.empty() && subject.groups.empty()) {
    return tl::unexpected(invalid("SubjectAccessReview", "authorization.k8s.io", "", "spec.user",
                                  "Invalid value: \"\": at least one of user or group must be "
                                  "specified"));
  }
  AccessAttributes attributes;
  if (resource.is_object()) {
    attributes.resource_request = true;
    attributes.verb = str(resource, "verb");
    attributes.api_group = str(resource, "group");
    attributes.resource = str(resource, "resource");
    attributes.subresource = str(resource, "subresource");
    attributes.namespace_ = str(resource, "namespace");
    attributes.name = str(resource, "name");
  } else {
    attributes.resource_request = false;
    attributes.verb = str(non_resource, "verb");
    attributes.path = str(non_resource, "path");
  }
  const AccessDecision decision = authorize(rbac, subject, attributes);
  json status = {{"allowed", decision.allowed}};
  if (!decision.reason.empty()) status["reason"] = decision.reason;
  return answered(body, std::move(status));
}

}  // namespace fairway::apiserver
