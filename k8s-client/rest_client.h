#pragma once
// A thread-safe Kubernetes REST client: HTTPS (Boost.Beast + OpenSSL), HTTP/1.1 keep-alive over a
// small pool of connections, bearer token / client certificate auth, client-side rate limit
// (token bucket: qps, burst), 429 honouring Retry-After, reconnect on broken connections.
// Blocking calls: callers that must not block run them on their own threads.
//
// Why synchronous: every caller (reflectors, the actuator's bind workers, leader election) is a
// thread that waits on the answer anyway, and a blocking API keeps their code straight-line.
// Underneath, each connection owns a small io_context and runs Beast's async operations to
// completion on the calling thread: that is what gives requests a deadline and lets stop() (from
// any thread) close a connection that is blocked in a read.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "k8s-client/config.h"
#include "scheduler/state/clock.h"

namespace fairway::k8s {

struct RestOptions {
  double qps = 50;    // --kube-api-qps (kube-scheduler's default)
  int burst = 100;    // --kube-api-burst
  int pool_size = 4;  // kept-alive connections for ordinary requests
  std::chrono::seconds request_timeout{30};
  int max_retries_429 = 5;
  std::string user_agent = "fairway";
  // A stream with no bytes for this long is closed as a transport error; zero: never (the
  // server's timeoutSeconds and TCP keepalive bound a watch instead).
  std::chrono::seconds stream_idle_timeout{0};
  // What the rate limit, Retry-After waits, token reloads and latencies are measured on.
  const Clock* clock = &SystemClock::instance();
};

struct Response {
  int status = 0;  // HTTP status
  std::string body;
  std::string content_type;
  std::string retry_after;  // the Retry-After header, if any (429s are retried before returning)
  bool ok() const { return status >= 200 && status < 300; }
};

// A transport failure (DNS, connect, TLS, timeout); HTTP errors come back as Responses.
// A query parameter's value escaped for a URL: resourceVersion and continue tokens are opaque,
// but may hold characters that need escaping.
std::string url_escape(std::string_view text);

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
  tl::expected<Response, TransportError> request(
      std::string_view method, std::string_view path, std::string_view body = {},
      std::string_view content_type = "application/json");
  tl::expected<Response, TransportError> get(std::string_view path) { return request("GET", path); }

  // A long-running GET (watch) on its own connection. Reads incrementally and calls on_line per
  // line until the server closes, on_line returns false, or stop() is called. A non-2xx answer
  // is returned as the Response (with its body) without calling on_line.
  tl::expected<Response, TransportError> stream(std::string_view path, const LineHandler& on_line);
  // The same, also closed when `stop` is requested (one watch, not the whole client). A stream
  // closed by either stop ends with the Response (2xx, empty body), not an error.
  tl::expected<Response, TransportError> stream(std::string_view path, const LineHandler& on_line,
                                                std::stop_token stop);

  // Closes every open stream and fails pending requests (shutdown).
  void stop();
  // Whether stop() was called: every request fails at once from then on.
  bool stopped() const;
  // The clock this client waits on (RestOptions::clock); its reflectors back off on it too.
  const Clock& clock() const;

  // Counters for metrics: requests by verb/code are reported to this hook if set. Called once per
  // HTTP exchange (each 429 retry counts) with the path without its query, code 0 for transport
  // failures; streams report verb "WATCH" when their headers arrive. Called on the caller's thread.
  using RequestObserver = std::function<void(std::string_view verb, std::string_view path, int code,
                                             std::chrono::nanoseconds latency)>;
  void set_observer(RequestObserver observer);

  // Called right before each attempt of a request other than GET goes out, after any wait for
  // the rate limiter, a 429's Retry-After, a pooled connection or a handshake, with the request
  // ready to write: false fails the request with a TransportError
  // ("write fenced") without sending it. The scheduler fences on holding its Lease, so that a
  // write decided while leading is not sent after a wait or a pause that outlived the lease.
  using WriteFence = std::function<bool(std::string_view method, std::string_view path)>;
  void set_write_fence(WriteFence fence);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fairway::k8s
