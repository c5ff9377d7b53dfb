#pragma once
// A small HTTP/1.1 server for fairway's own endpoints (/metrics, /healthz, /readyz, /debug/...,
// and the admission webhook): a route table of path → handler, plain HTTP or TLS from a
// certificate and key file, keep-alive, and a deadline on every read and write so that a slow
// or silent client cannot hold a connection forever.
//
// Why one type-erased handler signature: Beast's composed operations are templates, and each
// distinct handler type would instantiate them again. Here they are instantiated once per stream
// type (plain, TLS) in http_server.cpp, and routes are plain std::function values, so adding a
// route costs no compile time.
//
// Threads: `threads` I/O threads run the accepts and sessions; a handler runs on one of them and
// may block (e.g. waiting for the scheduling loop to answer a debug query): the other threads
// keep serving. Handlers must be thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace fairway::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without the query, e.g. "/debug/pods/ns/name"
  std::string query;   // after '?', undecoded; empty when none
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

// A response with a body and a content type, for handlers' brevity.
Response text(int status, std::string body);
Response json(int status, std::string body);

struct ServerOptions {
  // "host:port", ":port" (every IPv4 address), "[v6]:port"; port 0 picks a free one.
  std::string bind_address = ":8080";
  // Both set: serve HTTPS with this PEM certificate chain and key. Both empty: plain HTTP.
  std::string tls_cert_file{};
  std::string tls_key_file{};
  // Or a certificate chain and key held in memory (PEM), e.g. self-signed at start
  // (self_signed.h); never reloaded. The files win when both are given.
  std::string tls_cert_pem{};
  std::string tls_key_pem{};
  int threads = 2;
  std::chrono::seconds io_timeout{30};  // per read and per write
  // A larger request body is answered 413 "Request entity too large: limit is N" before it is
  // read, and the connection closed. The default is kube-apiserver's (3 MiB, k8s/json_limits.h).
  size_t max_body_bytes = size_t{3} << 20;
  // Asked before routing, for every request (unknown paths too, as kube-apiserver's filters
  // run before its mux): a response refuses the request, nullopt lets it through. The secure
  // port's delegated authentication and authorisation (delegated_auth.h).
  std::function<std::optional<Response>(const Request&)> gate{};
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes are matched on the path: exact routes first, then the longest prefix route (a path
  // that ends in '/', e.g. "/debug/pods/"). Unknown paths answer 404. Add routes before start().
  void route(std::string path, Handler handler);
  void route_prefix(std::string prefix, Handler handler);

  // Binds and starts the I/O threads. Errors: bad address, port in use, unreadable cert/key.
  tl::expected<void, std::string> start();
  // The bound port (after start), useful with port 0.
  uint16_t port() const;
  // Closes the listener and open connections and joins the threads. Idempotent.
  void stop();

  // Which handler serves `path` (nullptr: none). Exposed for tests of the route table.
  const Handler* find(std::string_view path) const;

  struct Impl;  // opaque: keeps Boost out of this header

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits a bind address into host and port ("" host means every IPv4 address).
tl::expected<std::pair<std::string, uint16_t>, std::string> parse_bind_address(
    std::string_view address);

}  // namespace fairway::http
