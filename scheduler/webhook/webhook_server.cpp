#include "scheduler/webhook/webhook_server.h"

namespace fairway::webhook {

void add_webhook_routes(http::Server& server, AdmissionConfig config) {
  server.route("/mutate", [config = std::move(config)](const http::Request& request) {
    if (request.method != "POST") return http::text(405, "POST an AdmissionReview");
    auto answer = review_pod_admission(request.body, config);
    if (!answer) return http::text(answer.error().status, answer.error().message + "\n");
    return http::json(200, std::move(*answer));
  });
  server.route("/healthz", [](const http::Request&) { return http::text(200, "ok"); });
}

tl::expected<std::unique_ptr<http::Server>, std::string> start_webhook_server(
    const std::string& bind_address, const std::string& cert_file, const std::string& key_file,
    AdmissionConfig config) {
  if (cert_file.empty() || key_file.empty()) {
    return tl::unexpected(
        std::string("the webhook is served over TLS only: a certificate and key "
                    "file are needed"));
  }
  auto server = std::make_unique<http::Server>(http::ServerOptions{
      .bind_address = bind_address, .tls_cert_file = cert_file, .tls_key_file = key_file});
  add_webhook_routes(*server, std::move(config));
  if (auto started = server->start(); !started) {
    return tl::unexpected("admission webhook: " + started.error());
  }
  return server;
}

}  // namespace fairway::webhook
