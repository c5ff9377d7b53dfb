#pragma once
// Where the API server is and how to authenticate: from a kubeconfig or from inside a pod.

#include <chrono>
#include <string>
#include <tl/expected.hpp>

namespace fairway::k8s {

struct ClusterConfig {
  std::string server;  // "https://127.0.0.1:6443" (http:// allowed for tests)
  std::string ca_pem;  // empty: the system CA bundle
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // SNI / verification name override
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // bearer token, used when token_file is empty
  std::string token_file;  // re-read every token_reload (bound service-account tokens rotate)
  std::chrono::seconds token_reload{60};
  std::string namespace_;  // the context's namespace (kubeconfig) or the pod's (in-cluster)
};

// Reads a kubeconfig file: the named context, else current-context. Resolves relative file paths
// against the kubeconfig's folder; *-data fields are base64. `path` may be a ':'-separated list
// like $KUBECONFIG: files are merged, the first to define a name (or current-context) wins.
// Credential plugins (exec, auth-provider) and basic auth are rejected with an error.
tl::expected<ClusterConfig, std::string> load_kubeconfig(const std::string& path,
                                                         const std::string& context = "");
// KUBERNETES_SERVICE_HOST/PORT, /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}.
tl::expected<ClusterConfig, std::string> in_cluster_config();
// The same, with the service-account folder given (tests; projected volumes elsewhere).
tl::expected<ClusterConfig, std::string> in_cluster_config_at(
    const std::string& service_account_dir);
// --kubeconfig if given, else $KUBECONFIG, else in-cluster (when KUBERNETES_SERVICE_HOST is set),
// else ~/.kube/config.
tl::expected<ClusterConfig, std::string> resolve_config(const std::string& kubeconfig_flag,
                                                        const std::string& context = "");

}  // namespace fairway::k8s
