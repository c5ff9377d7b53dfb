#include "k8s-client/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace fairway::k8s {
namespace {

namespace fs = std::filesystem;
using Unexpected = tl::unexpected<std::string>;

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

tl::expected<std::string, std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unexpected(fmt::format("cannot read {}", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Unexpected(fmt::format("cannot read {}", path.string()));
  return text.str();
}

// Standard base64 (kubeconfig *-data fields); whitespace is skipped, padding optional.
tl::expected<std::string, std::string> base64_decode(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t accumulator = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int value = value_of(c);
    if (value < 0 || padding) return Unexpected("invalid base64");
    accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return Unexpected("invalid base64 length");
  return out;
}

// One kubeconfig file, parsed into named entries; each entry remembers its file's folder so
// relative paths resolve against the file that defined them.
struct Entry {
  YAML::Node node;
  fs::path folder;
  std::string file;
};
struct Merged {
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::string current_context;
};

tl::expected<void, std::string> merge_file(const std::string& path, Merged& merged) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Unexpected(fmt::format("kubeconfig {}: cannot read the file", path));
  } catch (const YAML::Exception& e) {
    return Unexpected(fmt::format("kubeconfig {}: {}", path, e.what()));
  }
  if (root.IsNull()) return {};  // an empty file is an empty config, as for kubectl
  if (!root.IsMap()) return Unexpected(fmt::format("kubeconfig {}: not a YAML mapping", path));
  const fs::path folder = fs::absolute(fs::path(path)).parent_path();
  auto collect = [&](const char* list_name, const char* item_name,
                     std::map<std::string, Entry>& into) -> tl::expected<void, std::string> {
    const YAML::Node list = root[list_name];
    if (!list || list.IsNull()) return {};
    if (!list.IsSequence()) {
      return Unexpected(fmt::format("kubeconfig {}: {}: expected a list", path, list_name));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node item = list[i];
      // operator[] on a scalar throws in yaml-cpp: check the shape first (found by fuzzing).
      if (!item.IsMap()) {
        return Unexpected(
            fmt::format("kubeconfig {}: {}[{}]: expected a mapping", path, list_name, i));
      }
      const YAML::Node name = item["name"];
      if (!name || !name.IsScalar()) {
        return Unexpected(fmt::format("kubeconfig {}: {}[{}].name: missing", path, list_name, i));
      }
      // First definition wins, as when kubectl merges $KUBECONFIG.
      into.emplace(name.Scalar(), Entry{item[item_name], folder, path});
    }
    return {};
  };
  if (auto r = collect("clusters", "cluster", merged.clusters); !r) return r;
  if (auto r = collect("users", "user", merged.users); !r) return r;
  if (auto r = collect("contexts", "context", merged.contexts); !r) return r;
  const YAML::Node current = root["current-context"];
  if (merged.current_context.empty() && current && current.IsScalar()) {
    merged.current_context = current.Scalar();
  }
  return {};
}

// Reads a scalar field; absent → empty. `where` names it in errors: "users[alice].user.token".
tl::expected<std::string, std::string> scalar(const Entry& entry, const char* field,
                                              const std::string& where) {
  if (!entry.node || !entry.node.IsMap()) return std::string();
  const YAML::Node value = entry.node[field];
  if (!value || value.IsNull()) return std::string();
  if (!value.IsScalar()) {
    return Unexpected(
        fmt::format("kubeconfig {}: {}.{}: expected a string", entry.file, where, field));
  }
  return value.Scalar();
}

// certificate-authority / certificate-authority-data and friends: a file (relative to the
// kubeconfig) or base64 inline data; data wins, as in client-go.
tl::expected<std::string, std::string> file_or_data(const Entry& entry, const char* file_field,
                                                    const char* data_field,
                                                    const std::string& where) {
  auto data = scalar(entry, data_field, where);
  if (!data) return data;
  if (!data->empty()) {
    auto decoded = base64_decode(*data);
    if (!decoded) {
      return Unexpected(
          fmt::format("kubeconfig {}: {}.{}: {}", entry.file, where, data_field, decoded.error()));
    }
    return decoded;
  }
  auto file = scalar(entry, file_field, where);
  if (!file) return file;
  if (file->empty()) return std::string();
  fs::path path(*file);
  if (path.is_relative()) path = entry.folder / path;
  auto content = read_file(path);
  if (!content) {
    return Unexpected(
        fmt::format("kubeconfig {}: {}.{}: {}", entry.file, where, file_field, content.error()));
  }
  return content;
}

tl::expected<bool, std::string> boolean(const Entry& entry, const char* field,
                                        const std::string& where) {
  auto text = scalar(entry, field, where);
  if (!text) return tl::unexpected(text.error());
  if (text->empty() || *text == "false") return false;
  if (*text == "true") return true;
  return Unexpected(fmt::format("kubeconfig {}: {}.{}: expected true or false, got \"{}\"",
                                entry.file, where, field, *text));
}

std::vector<std::string> split_paths(const std::string& list) {
  std::vector<std::string> paths;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = list.find(':', start);
    std::string part =
        list.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!part.empty()) paths.push_back(std::move(part));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return paths;
}

}  // namespace

namespace {
tl::expected<ClusterConfig, std::string> load_kubeconfig_unguarded(const std::string& path,
                                                                   const std::string& context);
}  // namespace

// yaml-cpp throws on shapes the reader did not expect; the promise is errors as values.
tl::expected<ClusterConfig, std::string> load_kubeconfig(const std::string& path,
                                                         const std::string& context) {
  try {
    return load_kubeconfig_unguarded(path, context);
  } catch (const YAML::Exception& e) {
    return Unexpected(fmt::format("kubeconfig {}: {}", path, e.what()));
  }
}

namespace {
tl::expected<ClusterConfig, std::string> load_kubeconfig_unguarded(const std::string& path,
                                                                   const std::string& context) {
  const std::vector<std::string> files = split_paths(path);
  if (files.empty()) return Unexpected("kubeconfig: no file given");
  Merged merged;
  for (const std::string& file : files) {
    // In a $KUBECONFIG list, missing files are skipped (kubectl does the same); a single
    // explicitly named file must exist.
    if (files.size() > 1 && !fs::exists(file)) continue;
    if (auto r = merge_file(file, merged); !r) return tl::unexpected(r.error());
  }
  const std::string& name = context.empty() ? merged.current_context : context;
  if (name.empty()) {
    return Unexpected(
        fmt::format("kubeconfig {}: no context given and current-context is not set", path));
  }
  auto ctx = merged.contexts.find(name);
  if (ctx == merged.contexts.end()) {
    return Unexpected(fmt::format("kubeconfig {}: context \"{}\" not found", path, name));
  }
  const std::string ctx_where = fmt::format("contexts[{}].context", name);
  auto cluster_name = scalar(ctx->second, "cluster", ctx_where);
  if (!cluster_name) return tl::unexpected(cluster_name.error());
  auto user_name = scalar(ctx->second, "user", ctx_where);
  if (!user_name) return tl::unexpected(user_name.error());
  auto ns = scalar(ctx->second, "namespace", ctx_where);
  if (!ns) return tl::unexpected(ns.error());

  ClusterConfig config;
  config.namespace_ = *ns;
  auto cluster = merged.clusters.find(*cluster_name);
  if (cluster == merged.clusters.end()) {
    return Unexpected(fmt::format("kubeconfig {}: {}.cluster: cluster \"{}\" not found",
                                  ctx->second.file, ctx_where, *cluster_name));
  }
  const Entry& c = cluster->second;
  const std::string c_where = fmt::format("clusters[{}].cluster", *cluster_name);
  auto server = scalar(c, "server", c_where);
  if (!server) return tl::unexpected(server.error());
  if (server->empty()) {
    return Unexpected(fmt::format("kubeconfig {}: {}.server: missing", c.file, c_where));
  }
  if (!server->starts_with("https://") && !server->starts_with("http://")) {
    return Unexpected(fmt::format("kubeconfig {}: {}.server: \"{}\" is not an http(s) URL", c.file,
                                  c_where, *server));
  }
  config.server = *server;
  auto ca = file_or_data(c, "certificate-authority", "certificate-authority-data", c_where);
  if (!ca) return tl::unexpected(ca.error());
  config.ca_pem = std::move(*ca);
  auto insecure = boolean(c, "insecure-skip-tls-verify", c_where);
  if (!insecure) return tl::unexpected(insecure.error());
  config.insecure_skip_tls_verify = *insecure;
  if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
    // client-go refuses this pair too: which one was meant is anyone's guess.
    return Unexpected(fmt::format(
        "kubeconfig {}: {}: certificate-authority and insecure-skip-tls-verify together: "
        "specifying a root certificates file with the insecure flag is not allowed",
        c.file, c_where));
  }
  auto sni = scalar(c, "tls-server-name", c_where);
  if (!sni) return tl::unexpected(sni.error());
  config.tls_server_name = *sni;
  if (auto proxy = scalar(c, "proxy-url", c_where); proxy && !proxy->empty()) {
    return Unexpected(
        fmt::format("kubeconfig {}: {}.proxy-url: proxies are not supported", c.file, c_where));
  }

  if (user_name->empty()) return config;  // anonymous
  auto user = merged.users.find(*user_name);
  if (user == merged.users.end()) {
    return Unexpected(fmt::format("kubeconfig {}: {}.user: user \"{}\" not found", ctx->second.file,
                                  ctx_where, *user_name));
  }
  const Entry& u = user->second;
  const std::string u_where = fmt::format("users[{}].user", *user_name);
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (u.node && u.node.IsMap() && u.node[unsupported]) {
      return Unexpected(
          fmt::format("kubeconfig {}: {}.{}: not supported (use a token or client "
                      "certificate)",
                      u.file, u_where, unsupported));
    }
  }
  auto cert = file_or_data(u, "client-certificate", "client-certificate-data", u_where);
  if (!cert) return tl::unexpected(cert.error());
  config.client_cert_pem = std::move(*cert);
  auto key = file_or_data(u, "client-key", "client-key-data", u_where);
  if (!key) return tl::unexpected(key.error());
  config.client_key_pem = std::move(*key);
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return Unexpected(
        fmt::format("kubeconfig {}: {}: client-certificate and client-key must be "
                    "given together",
                    u.file, u_where));
  }
  auto token = scalar(u, "token", u_where);
  if (!token) return tl::unexpected(token.error());
  config.token = *token;
  auto token_file = scalar(u, "tokenFile", u_where);
  if (!token_file) return tl::unexpected(token_file.error());
  if (!token_file->empty()) {
    fs::path token_path(*token_file);
    if (token_path.is_relative()) token_path = u.folder / token_path;
    if (!fs::exists(token_path)) {
      return Unexpected(fmt::format("kubeconfig {}: {}.tokenFile: {} does not exist", u.file,
                                    u_where, token_path.string()));
    }
    config.token_file = token_path.string();
  }
  return config;
}
}  // namespace

tl::expected<ClusterConfig, std::string> in_cluster_config_at(
    const std::string& service_account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return Unexpected(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  ClusterConfig config;
  const std::string host_text(host);
  // An IPv6 service address needs brackets in a URL.
  const bool ipv6 = host_text.find(':') != std::string::npos;
  config.server = fmt::format("https://{}:{}", ipv6 ? "[" + host_text + "]" : host_text, port);
  const fs::path dir(service_account_dir);
  const fs::path token_path = dir / "token";
  if (auto token = read_file(token_path); !token) {
    return Unexpected("in-cluster config: " + token.error());
  }
  config.token_file = token_path.string();  // bound tokens rotate: the client re-reads it
  auto ca = read_file(dir / "ca.crt");
  if (!ca) return Unexpected("in-cluster config: " + ca.error());
  config.ca_pem = std::move(*ca);
  if (auto ns = read_file(dir / "namespace")) {
    config.namespace_ = *ns;
    while (!config.namespace_.empty() &&
           (config.namespace_.back() == '\n' || config.namespace_.back() == ' ')) {
      config.namespace_.pop_back();
    }
  }
  return config;
}

tl::expected<ClusterConfig, std::string> in_cluster_config() {
  return in_cluster_config_at(kServiceAccountDir);
}

tl::expected<ClusterConfig, std::string> resolve_config(const std::string& kubeconfig_flag,
                                                        const std::string& context) {
  if (!kubeconfig_flag.empty()) return load_kubeconfig(kubeconfig_flag, context);
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    return load_kubeconfig(env, context);
  }
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST"); host != nullptr && *host != '\0') {
    return in_cluster_config();
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    const fs::path path = fs::path(home) / ".kube" / "config";
    if (fs::exists(path)) return load_kubeconfig(path.string(), context);
  }
  return Unexpected(
      "no Kubernetes configuration: pass --kubeconfig, set $KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

}  // namespace fairway::k8s
