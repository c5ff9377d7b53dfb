#pragma once
// A minimal HTTPS listener for the admission webhook (POST /mutate), until the webhook is
// mounted on fairway's shared HTTP server (scheduler/http). Boost.Beast over OpenSSL, one
// accept thread, one short-lived thread per connection (the API server opens few), keep-alive.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace fairway::webhook {

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};
// Called with the request's method, target (path and query) and body, on a connection thread.
using HttpHandler = std::function<HttpAnswer(std::string_view method, std::string_view target,
                                             std::string_view body)>;

// The webhook's routes: POST /mutate (AdmissionReview), GET /healthz.
HttpAnswer serve_webhook(std::string_view method, std::string_view target, std::string_view body);

class WebhookServer {
 public:
  // `bind_address`: "HOST:PORT" or ":PORT" (all interfaces); port 0 picks a free one.
  static tl::expected<std::unique_ptr<WebhookServer>, std::string> start(
      const std::string& bind_address, const std::string& cert_file, const std::string& key_file,
      HttpHandler handler);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  uint16_t port() const;
  void stop();

  struct Impl;

 private:
  explicit WebhookServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fairway::webhook
