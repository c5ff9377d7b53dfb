#pragma once
// The secure port's reviews, sent to the API server (the edge of delegated_auth.h): POST
// /apis/authentication.k8s.io/v1/tokenreviews and /apis/authorization.k8s.io/v1/
// subjectaccessreviews, as kube-scheduler's delegating authenticator and authorizer send them.
// They go through a REST client of their own: not the scheduler's, whose writes are fenced on
// holding the Lease (a standby replica serves its metrics too) and whose rate limit belongs to
// scheduling. Called on the HTTP server's threads, never on the scheduling loop.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "k8s-client/rest_client.h"
#include "scheduler/http/delegated_auth.h"

namespace fairway {

// The request bodies, and the answers read back (pure; unit tested).
nlohmann::json token_review_body(const std::string& token);
nlohmann::json access_review_body(const http::UserInfo& user, const std::string& path,
                                  const std::string& verb);
tl::expected<http::TokenReviewResult, std::string> read_token_review(const std::string& body);
tl::expected<http::AccessReviewResult, std::string> read_access_review(const std::string& body);

class KubeReviewClient : public http::ReviewClient {
 public:
  KubeReviewClient(k8s::ClusterConfig cluster, std::string user_agent);
  tl::expected<http::TokenReviewResult, std::string> review_token(
      const std::string& token) override;
  tl::expected<http::AccessReviewResult, std::string> review_access(
      const http::UserInfo& user, const std::string& path, const std::string& verb) override;

 private:
  tl::expected<std::string, std::string> post(const std::string& path, const nlohmann::json& body);
  std::unique_ptr<k8s::RestClient> rest_;
};

}  // namespace fairway
