#include "scheduler/service/kube_reviews.h"

namespace fairway {
namespace {

std::vector<std::string> strings(const nlohmann::json& value) {
  std::vector<std::string> out;
  if (!value.is_array()) return out;
  for (const auto& item : value) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

std::string string_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

tl::expected<nlohmann::json, std::string> status_of(const std::string& body, const char* kind) {
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("status") || !parsed["status"].is_object()) {
    return tl::unexpected(std::string(kind) + " answer has no status");
  }
  return parsed["status"];
}

}  // namespace

nlohmann::json token_review_body(const std::string& token) {
  return {{"apiVersion", "authentication.k8s.io/v1"},
          {"kind", "TokenReview"},
          {"spec", {{"token", token}}}};
}

nlohmann::json access_review_body(const http::UserInfo& user, const std::string& path,
                                  const std::string& verb) {
  nlohmann::json spec = {{"nonResourceAttributes", {{"path", path}, {"verb", verb}}},
                         {"user", user.username},
                         {"groups", user.groups}};
  if (!user.uid.empty()) spec["uid"] = user.uid;
  if (!user.extra.empty()) spec["extra"] = user.extra;
  return {{"apiVersion", "authorization.k8s.io/v1"},
          {"kind", "SubjectAccessReview"},
          {"spec", std::move(spec)}};
}

tl::expected<http::TokenReviewResult, std::string> read_token_review(const std::string& body) {
  auto status = status_of(body, "TokenReview");
  if (!status) return tl::unexpected(status.error());
  http::TokenReviewResult result;
  result.authenticated = status->value("authenticated", false) == true;
  result.error = string_at(*status, "error");
  if (!result.authenticated) return result;
  const auto& user = status->contains("user") ? (*status)["user"] : nlohmann::json();
  result.user.username = string_at(user, "username");
  result.user.uid = string_at(user, "uid");
  if (user.is_object() && user.contains("groups")) result.user.groups = strings(user["groups"]);
  if (user.is_object() && user.contains("extra") && user["extra"].is_object()) {
    for (const auto& [key, values] : user["extra"].items())
      result.user.extra[key] = strings(values);
  }
  // An authenticated answer without a user name is not one kube-apiserver gives: refuse it.
  if (result.user.username.empty()) {
    return tl::unexpected(std::string("TokenReview authenticated a user without a name"));
  }
  return result;
}

tl::expected<http::AccessReviewResult, std::string> read_access_review(const std::string& body) {
  auto status = status_of(body, "SubjectAccessReview");
  if (!status) return tl::unexpected(status.error());
  http::AccessReviewResult result;
  const auto allowed = status->find("allowed");
  if (allowed == status->end() || !allowed->is_boolean()) {
    return tl::unexpected(std::string("SubjectAccessReview answer has no status.allowed"));
  }
  result.allowed = allowed->get<bool>();
  result.reason = string_at(*status, "reason");
  // As client-go's webhook authorizer: not allowed is no opinion, whatever status.denied and
  // status.evaluationError say; the delegating authorizer then refuses.
  return result;
}

KubeReviewClient::KubeReviewClient(k8s::ClusterConfig cluster, std::string user_agent)
    : rest_(std::make_unique<k8s::RestClient>(
          std::move(cluster), k8s::RestOptions{.qps = 50,
                                               .burst = 100,
                                               .pool_size = 2,
                                               .request_timeout = std::chrono::seconds(10),
                                               .max_retries_429 = 1,
                                               .user_agent = std::move(user_agent),
                                               .stream_idle_timeout = std::chrono::seconds(0)})) {}

tl::expected<std::string, std::string> KubeReviewClient::post(const std::string& path,
                                                              const nlohmann::json& body) {
  auto response = rest_->request("POST", path, body.dump());
  if (!response) return tl::unexpected(response.error().message);
  if (!response->ok()) {
    return tl::unexpected("POST " + path + ": HTTP " + std::to_string(response->status));
  }
  return std::move(response->body);
}

tl::expected<http::TokenReviewResult, std::string> KubeReviewClient::review_token(
    const std::string& token) {
  auto body = post("/apis/authentication.k8s.io/v1/tokenreviews", token_review_body(token));
  if (!body) return tl::unexpected(body.error());
  return read_token_review(*body);
}

tl::expected<http::AccessReviewResult, std::string> KubeReviewClient::review_access(
    const http::UserInfo& user, const std::string& path, const std::string& verb) {
  auto body = post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                   access_review_body(user, path, verb));
  if (!body) return tl::unexpected(body.error());
  return read_access_review(*body);
}

}  // namespace fairway
