#pragma once
// A thread-safe Kubernetes REST client: HTTPS (Boost.Beast + OpenSSL), HTTP/1.1 keep-alive over a
// small pool of connections, bearer token / client certificate auth, client-side rate limit
// (token bucket: qps, burst), 429 honouring Retry-After, reconnect on broken connections.
// Blocking calls: callers that must not block run them on their own threads.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "k8s-client/config.h"

namespace fairway::k8s {

struct RestOptions {
  double qps = 50;       // --kube-api-qps (kube-scheduler's default)
  int burst = 100;       // --kube-api-burst
  int pool_size = 4;     // kept-alive connections for ordinary requests
  std::chrono::seconds request_timeout{30};
  int max_retries_429 = 5;
  std::string user_agent = "fairway";
};

struct Response {
  int status = 0;  // HTTP status
  std::string body;
  std::string content_type;
  bool ok() const { return status >= 200 && status < 300; }
};

// A transport failure (DNS, connect, TLS, timeout); HTTP errors come back as Responses.
struct TransportError {
  std::string message;
};

// Called with each complete line of a watch stream (one JSON event per line); return false to
// close the stream.
using LineHandler = std::function<bool(std::string_view line)>;

class RestClient {
 public:
  RestClient(ClusterConfig config, RestOptions options = {});
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // method: GET, POST, PUT, PATCH, DELETE. path includes the query string.
  tl::expected<Response, TransportError> request(std::string_view method, std::string_view path,
                                                 std::string_view body = {},
                                                 std::string_view content_type = "application/json");
  tl::expected<Response, TransportError> get(std::string_view path) { return request("GET", path); }

  // A long-running GET (watch) on its own connection. Reads incrementally and calls on_line per
  // line until the server closes, on_line returns false, or stop() is called. A non-2xx answer
  // is returned as the Response (with its body) without calling on_line.
  tl::expected<Response, TransportError> stream(std::string_view path, const LineHandler& on_line);

  // Closes every open stream and fails pending requests (shutdown).
  void stop();

  // Counters for metrics: requests by verb/code are reported to this hook if set.
  using RequestObserver = std::function<void(std::string_view verb, std::string_view path, int code,
                                             std::chrono::nanoseconds latency)>;
  void set_observer(RequestObserver observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fairway::k8s
