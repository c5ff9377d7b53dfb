// The secure port end to end within the process: HTTPS with a self-signed certificate made in
// memory, and every route behind the delegated authentication and authorisation gate (a
// scripted ReviewClient stands in for the API server).
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "k8s-client/rest_client.h"
#include "scheduler/http/self_signed.h"
#include "scheduler/service/endpoints.h"

namespace fairway {
namespace {

class ScriptedReviews : public http::ReviewClient {
 public:
  std::atomic<int> access_reviews{0};
  tl::expected<http::TokenReviewResult, std::string> review_token(
      const std::string& token) override {
    if (token == "reader") return http::TokenReviewResult{true, {"reader", "", {}, {}}, ""};
    if (token == "other") return http::TokenReviewResult{true, {"other", "", {}, {}}, ""};
    return http::TokenReviewResult{false, {}, "invalid bearer token"};
  }
  tl::expected<http::AccessReviewResult, std::string> review_access(const http::UserInfo& user,
                                                                    const std::string&,
                                                                    const std::string&) override {
    ++access_reviews;
    return http::AccessReviewResult{user.username == "reader", ""};
  }
};

int status(uint16_t port, const std::string& path, const std::string& token,
           std::string* body = nullptr) {
  k8s::ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.insecure_skip_tls_verify = true;
  config.token = token;
  k8s::RestClient client(config);
  const auto response = client.get(path);
  if (response && body) *body = response->body;
  return response ? response->status : 0;
}

TEST(SecureEndpoints, EveryPageIsBehindTheGateButTheProbes) {
  Inbox inbox;
  metrics::SchedulerMetrics metrics;
  ScriptedReviews reviews;
  std::chrono::steady_clock::time_point now{};
  http::DelegatedAuth auth({}, reviews, [&now] { return now; });
  Endpoints endpoints(
      EndpointOptions{.bind_address = "0",
                      .probe_bind_address = "",
                      .secure_bind_address = "127.0.0.1:0",
                      .tls_cert_file = "",
                      .tls_key_file = "",
                      .secure_auth = &auth,
                      .debug = true,
                      .per_node_metrics = true,
                      .loop_timeout = std::chrono::milliseconds(50)},
      metrics, inbox,
      Endpoints::Probes{
          .synced = [] { return true; }, .leader = [] { return true; }, .preflight = {}});
  ASSERT_TRUE(endpoints.start());
  EXPECT_EQ(endpoints.port(), 0);  // no plain port with bind_address "0"
  ASSERT_NE(endpoints.secure_port(), 0);
  const uint16_t port = endpoints.secure_port();
  std::string body;
  EXPECT_EQ(status(port, "/metrics", "reader", &body), 200);
  EXPECT_NE(body.find("fairway_"), std::string::npos);
  EXPECT_EQ(status(port, "/metrics", "other", &body), 403);
  EXPECT_EQ(nlohmann::json::parse(body)["message"],
            "forbidden: User \"other\" cannot get path \"/metrics\"");
  EXPECT_EQ(status(port, "/metrics", "forged"), 401);
  EXPECT_EQ(status(port, "/metrics", ""), 403);  // system:anonymous
  EXPECT_EQ(status(port, "/debug/queues", "other"), 403);
  EXPECT_EQ(status(port, "/debug/pods/ns/p", ""), 403);
  EXPECT_EQ(status(port, "/nope", "other"), 403);  // the gate runs before the routes
  EXPECT_EQ(status(port, "/nope", "reader"), 404);
  const int reviewed = reviews.access_reviews;
  EXPECT_EQ(status(port, "/healthz", ""), 200);
  EXPECT_EQ(status(port, "/readyz", "other"), 200);
  EXPECT_EQ(reviews.access_reviews, reviewed);  // always-allowed paths ask no one
  EXPECT_EQ(status(port, "/healthz", "forged"), 401);
  endpoints.stop();
}

TEST(SecureEndpoints, SelfSignedCertificateVerifiesAsLocalhost) {
  const auto pair = http::self_signed_certificate({"fairway.example"});
  ASSERT_TRUE(pair.has_value());
  EXPECT_NE(pair->certificate.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(pair->private_key.find("PRIVATE KEY"), std::string::npos);
  // Verified against itself as the CA, by name: the certificate is well-formed and names
  // localhost.
  http::Server server(http::ServerOptions{.bind_address = "127.0.0.1:0",
                                          .tls_cert_pem = pair->certificate,
                                          .tls_key_pem = pair->private_key});
  server.route("/x", [](const http::Request&) { return http::text(200, "x"); });
  ASSERT_TRUE(server.start());
  k8s::ClusterConfig config;
  config.server = "https://localhost:" + std::to_string(server.port());
  config.ca_pem = pair->certificate;
  k8s::RestClient client(config);
  const auto response = client.get("/x");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  server.stop();
}

}  // namespace
}  // namespace fairway
