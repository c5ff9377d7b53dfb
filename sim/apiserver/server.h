#pragma once
// The embedded Kubernetes API server: ApiHandler + Store behind Boost.Beast on Asio, HTTP/1.1
// keep-alive, a few worker threads, TLS with a self-signed certificate made at start, bearer
// token authentication, loopback only. Writes a kubeconfig that kubectl and fairway's own
// client use unchanged. Everything blocking-free: a slow watcher never holds up a writer.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "sim/apiserver/faults.h"
#include "sim/apiserver/kubernetes_version.h"
#include "sim/apiserver/resource_claim_controller.h"
#include "sim/apiserver/reviews.h"
#include "sim/apiserver/store.h"

namespace fairway::apiserver {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port (see Server::port())
  bool tls = true;    // false: plain HTTP (debugging)
  std::string token;  // empty: a random one
  bool require_token = true;
  // kube-apiserver's --token-auth-file users (sim/apiserver/reviews.h): answered in
  // TokenReviews, and authenticated on API requests that RBAC then authorizes.
  std::vector<TokenUser> token_users;
  std::chrono::milliseconds bookmark_interval{60'000};
  int threads = 4;
  StoreOptions store;
  bool load_fairway_crds = true;  // the CRDs compiled in from charts/fairway/crds
  int verbosity = 0;
  // The release to answer as (/version, discovery, routing): e.g. {19} serves policy/v1beta1
  // only and refuses a policy/v1 Eviction with 400, as kube-apiserver 1.19 does.
  KubernetesVersion kubernetes_version;
  // Non-empty: append one JSON line per API request served (user agent, RBAC verb, group,
  // resource, subresource, namespace, name, HTTP status) to this file, so a test can check that
  // the chart's RBAC grants every call a client made (tests/integration/helm_chart.sh).
  std::string audit_log_path;
  // kube-controller-manager's resourceclaim controller from 1.34, when resource.k8s.io/v1 is
  // served (sim/apiserver/resource_claim_controller.h); false: none, as on a cluster whose
  // controller-manager is down.
  bool resource_claim_controller = true;
  // Log lines (level, message); level 0 is always interesting, higher is chattier.
  std::function<void(int, std::string_view)> log;
  // Called (on a server thread) for every answered API request that is not a watch: who wrote
  // what, for tests that must prove which client made a request (e.g. no write from a scheduler
  // replica after it lost its Lease). Requests failed or reset by fault injection are not seen.
  struct AuditRecord {
    std::string_view method;
    std::string_view target;
    int status = 0;
    std::string_view user_agent;
  };
  std::function<void(const AuditRecord&)> audit;
};

class Server {
 public:
  static tl::expected<std::unique_ptr<Server>, std::string> start(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting, ends watches, joins the worker threads. Idempotent.
  void stop();

  uint16_t port() const;
  std::string url() const;  // "https://127.0.0.1:PORT"
  const std::string& token() const;
  const std::string& ca_pem() const;  // empty in plain-HTTP mode

  std::string kubeconfig() const;
  tl::expected<void, std::string> write_kubeconfig(const std::string& path) const;

  Store& store();
  Faults& faults();
  // The resourceclaim controller, or nullptr where none runs (before 1.34, or turned off).
  ResourceClaimController* resource_claim_controller();
  // Fault injection: end every open watch now; forget the history (410 for older versions).
  size_t drop_watches();
  void compact();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Converts YAML (one document) to JSON with plain-scalar typing (ints, floats, bools, null).
tl::expected<nlohmann::json, std::string> yaml_to_json(std::string_view yaml_text);
// The same for every document of a multi-document stream (`---`), empty documents skipped.
tl::expected<std::vector<nlohmann::json>, std::string> yaml_documents_to_json(
    std::string_view yaml_text);
// Creates the CRDs compiled into the binary. Returns how many.
tl::expected<size_t, std::string> load_embedded_crds(Store& store);

}  // namespace fairway::apiserver
