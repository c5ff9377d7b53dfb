#pragma once
// The REST surface of the embedded API server, without sockets: one HTTP request in, a response
// or an open watch out. Routing (/api, /apis, namespaced and cluster paths, subresources),
// authentication, discovery, query parameters, content negotiation (JSON or meta/v1 Table) and
// the fault control endpoint live here; Server only moves bytes.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sim/apiserver/faults.h"
#include "sim/apiserver/kubernetes_version.h"
#include "sim/apiserver/reviews.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {

struct HttpRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string target;  // path + query
  std::string body;
  std::string content_type;
  std::string accept;
  std::string authorization;  // the Authorization header
  std::string user_agent;     // the User-Agent header (for the audit log and hook)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A watch to stream: chunked newline-delimited JSON until the watcher finishes or the timeout.
struct WatchStream {
  std::shared_ptr<Watcher> watcher;
  std::chrono::seconds timeout{1800};
  bool bookmarks = false;
  std::string content_type = "application/json";
};

using ApiReply = std::variant<HttpResponse, WatchStream>;

struct ApiHandlerOptions {
  std::string token;  // required bearer token; empty: no authentication
  // --token-auth-file's users: known to TokenReviews (reviews.h), and authenticated on API
  // requests, which RBAC then authorizes (rbac.h) as kube-apiserver's authorizers do.
  std::vector<TokenUser> token_users;
  std::string server_address;  // "127.0.0.1:6443", for /api's serverAddressByClientCIDRs
  // The release answered as: /version, discovery and routing serve what it serves (e.g. before
  // 1.22 an Eviction sent as policy/v1 is refused with kube-apiserver's 400).
  KubernetesVersion kubernetes_version;
};

class ApiHandler {
 public:
  ApiHandler(Store& store, Faults& faults, ApiHandlerOptions options);

  // notify: called when a watch opened by this request has lines to send (any thread).
  ApiReply handle(const HttpRequest& request, std::function<void()> notify = nullptr);

  // Whether a path is subject to fault injection (/api, /apis).
  static bool is_api_path(std::string_view target);

  void set_server_address(std::string address) { options_.server_address = std::move(address); }
  void set_token(std::string token) { options_.token = std::move(token); }
  void set_kubernetes_version(KubernetesVersion v) { options_.kubernetes_version = v; }
  void set_token_users(std::vector<TokenUser> users) { options_.token_users = std::move(users); }

 private:
  struct Impl;
  Store& store_;
  Faults& faults_;
  ApiHandlerOptions options_;
};

HttpResponse error_response(const ApiError& error);

}  // namespace fairway::apiserver
