// `fairway apiserver`: the embedded Kubernetes API server alone, on loopback, until SIGINT or
// SIGTERM. The edge: flags, signals and printing; the server is sim/apiserver.

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "scheduler/cmd/commands.h"
#include "sim/apiserver/server.h"
#include "sim/dev/bootstrap.h"
#include "sim/dev/fake_gpu_agent.h"

namespace fairway::cmd {
namespace {

constexpr const char* kApiserverUsage = R"(Usage: fairway apiserver [flags]

Runs the embedded Kubernetes API server (the one `fairway sim` and the tests use) until SIGINT or
SIGTERM: core/v1 pods, nodes, namespaces, configmaps, secrets, serviceaccounts, services,
events, bindings, evictions, persistentvolumes, persistentvolumeclaims; storageclasses, csinodes;
leases, priorityclasses, poddisruptionbudgets; apps/v1 and batch/v1 workloads, RBAC, webhook
configurations, networkpolicies (stored, no controllers); TokenReviews and SubjectAccessReviews
(answered from the tokens and the stored RBAC); CRDs and the fairway CRDs (queues,
podgroups, topologies). Admission as a default cluster (NamespaceLifecycle, Priority); JSON and
protobuf request bodies. kubectl (1.20 to current) and helm work against it with the kubeconfig
it writes.

Flags:
  --port N                  port to listen on; 0 picks a free one (default 0)
  --bind-address ADDR       address to listen on (default 127.0.0.1)
  --kubeconfig-out PATH     where to write a kubeconfig for this server (default: none)
  --token T                 bearer token clients must send (default: a random one); to a
                            TokenReview it is the user "admin" in the group system:masters
  --token-auth-file PATH    more users for TokenReviews, in kube-apiserver's static token file
                            format: token,user,uid[,"group1,group2"] per line
  --insecure-http           plain HTTP, no TLS (debugging)
  --bookmark-interval D     interval of watch BOOKMARK events, e.g. 60s, 1s, 500ms (default 60s)
  --history-window N        watch events kept for resuming watches (default 10000)
  --threads N               worker threads (default 4)
  --kubernetes-version V    the release to answer as: /version and discovery serve what it
                            serves, e.g. 1.19 (policy/v1beta1 only), 1.24 (policy/v1 and
                            v1beta1), 1.35 (the default); 1.19 to 1.35
  --audit-log PATH          append one JSON line per API request (user agent, RBAC verb, group,
                            resource, subresource, namespace, name, code) to PATH
  --dev                     a cluster for trying fairway (docs/quick-start.md): create what
                            the Helm chart installs (namespaces fairway-system and
                            fairway-reservation, the PriorityClass and ServiceAccount
                            fairway-reservation, the default Queue) and run a stand-in node
                            agent that gives each reservation pod a fake GPU of its node, as
                            the device plugin and `fairway reservation-agent` would
  -v, --v N                 log verbosity (0: start/stop only; 4: every request)
  -h, --help                this text

Fault injection: POST /fairway-sim/faults with the token, e.g.
  {"failNext": 3, "failCode": 429, "retryAfterSeconds": 1}, {"delayMs": 200}, {"resetNext": 1},
  {"dropWatches": true}, {"dropWatchesEverySeconds": 10}, {"compact": true}, {"clear": true}.
)";

struct ApiserverFlags {
  apiserver::ServerOptions options;
  std::string kubeconfig_out;
  bool dev = false;
  bool help = false;
};

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) return std::nullopt;
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else {
    return std::nullopt;
  }
  if (ms < 1 || ms > 86'400'000) return std::nullopt;
  return std::chrono::milliseconds(std::llround(ms));
}

std::optional<long> parse_int(std::string_view text, long lo, long hi) {
  long v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
    return std::nullopt;
  return v;
}

tl::expected<ApiserverFlags, std::string> parse_flags(std::span<const std::string> args) {
  ApiserverFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      continue;
    }
    if (!arg.starts_with("-"))
      return tl::unexpected(fmt::format("unexpected argument \"{}\"", arg));
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (name == "--dev") {
      if (value && *value != "true" && *value != "false") {
        return tl::unexpected(fmt::format("flag --dev takes true or false"));
      }
      flags.dev = !value || *value == "true";
      continue;
    }
    if (name == "--insecure-http") {
      if (value && *value != "true" && *value != "false") {
        return tl::unexpected(fmt::format("flag --insecure-http takes true or false"));
      }
      flags.options.tls = value && *value == "false";
      continue;
    }
    static const std::string_view kValued[] = {"--port",
                                               "--bind-address",
                                               "--kubeconfig-out",
                                               "--token",
                                               "--bookmark-interval",
                                               "--history-window",
                                               "--threads",
                                               "--audit-log",
                                               "-v",
                                               "--token-auth-file",
                                               "--v",
                                               "--kubernetes-version"};
    if (std::find(std::begin(kValued), std::end(kValued), name) == std::end(kValued)) {
      return tl::unexpected(fmt::format("unknown flag \"{}\"", name));
    }
    if (!value) {
      if (i + 1 >= args.size()) return tl::unexpected(fmt::format("flag {} needs a value", name));
      value = args[++i];
    }
    if (name == "--port") {
      const auto port = parse_int(*value, 0, 65535);
      if (!port) return tl::unexpected(fmt::format("--port: \"{}\" is not a port", *value));
      flags.options.port = static_cast<uint16_t>(*port);
    } else if (name == "--bind-address") {
      flags.options.bind_address = *value;
    } else if (name == "--kubeconfig-out") {
      flags.kubeconfig_out = *value;
    } else if (name == "--token") {
      if (value->empty()) return tl::unexpected(std::string("--token must not be empty"));
      flags.options.token = *value;
    } else if (name == "--token-auth-file") {
      std::ifstream file(*value);
      if (!file) return tl::unexpected("--token-auth-file: cannot read " + *value);
      std::stringstream text;
      text << file.rdbuf();
      auto users = apiserver::parse_token_file(text.str());
      if (!users) return tl::unexpected("--token-auth-file " + *value + ": " + users.error());
      flags.options.token_users = std::move(*users);
    } else if (name == "--bookmark-interval") {
      const auto d = parse_duration(*value);
      if (!d)
        return tl::unexpected(fmt::format("--bookmark-interval: \"{}\" is not a duration", *value));
      flags.options.bookmark_interval = *d;
    } else if (name == "--history-window") {
      const auto n = parse_int(*value, 1, 10'000'000);
      if (!n)
        return tl::unexpected(fmt::format("--history-window: \"{}\" is not 1..10000000", *value));
      flags.options.store.history_window = static_cast<size_t>(*n);
    } else if (name == "--audit-log") {
      if (value->empty()) return tl::unexpected(std::string("--audit-log needs a path"));
      flags.options.audit_log_path = *value;
    } else if (name == "--kubernetes-version") {
      auto version = apiserver::KubernetesVersion::parse(*value);
      if (!version) return tl::unexpected("--kubernetes-version: " + version.error());
      flags.options.kubernetes_version = *version;
    } else if (name == "--threads") {
      const auto n = parse_int(*value, 1, 256);
      if (!n) return tl::unexpected(fmt::format("--threads: \"{}\" is not 1..256", *value));
      flags.options.threads = static_cast<int>(*n);
    } else {  // -v, --v
      const auto n = parse_int(*value, 0, 10);
      if (!n) return tl::unexpected(fmt::format("-v: \"{}\" is not 0..10", *value));
      flags.options.verbosity = static_cast<int>(*n);
    }
  }
  return flags;
}

// --dev: the chart's objects, then the stand-in node agent (sim/dev), both as API clients of the
// server like any other; done before the kubeconfig is written, so whoever waits for it finds
// them.
tl::expected<std::unique_ptr<dev::FakeGpuAgent>, std::string> start_dev_mode(
    const apiserver::Server& server, std::ostream& err) {
  k8s::ClusterConfig config;
  config.server = server.url();
  config.ca_pem = server.ca_pem();
  config.token = server.token();
  {
    k8s::RestOptions rest;
    rest.user_agent = "fairway-apiserver-dev";
    k8s::RestClient client(config, rest);
    auto created = dev::bootstrap_chart_objects(client, {});
    client.stop();
    if (!created) return tl::unexpected("--dev: " + created.error());
  }
  dev::FakeGpuAgentOptions options;
  options.reservation_namespace = std::string(dev::kReservationNamespace);
  options.log = [&err](std::string_view line) {
    err << "fairway apiserver: dev node agent: " << line << "\n";
    err.flush();
  };
  return std::make_unique<dev::FakeGpuAgent>(std::move(config), std::move(options));
}

}  // namespace

int apiserver(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  auto flags = parse_flags(args);
  if (!flags) {
    err << "fairway apiserver: " << flags.error() << "\n\n" << kApiserverUsage;
    return 2;
  }
  if (flags->help) {
    out << kApiserverUsage;
    return 0;
  }
  flags->options.log = [&err](int, std::string_view message) {
    err << "fairway apiserver: " << message << "\n";
    err.flush();
  };
  // Block the stop signals before the worker threads start, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

  auto server = apiserver::Server::start(flags->options);
  if (!server) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    err << "fairway apiserver: " << server.error() << "\n";
    return 1;
  }
  out << "fairway apiserver listening on " << (*server)->url() << "\n";
  std::unique_ptr<dev::FakeGpuAgent> agent;
  if (flags->dev) {
    auto started = start_dev_mode(**server, err);
    if (!started) {
      err << "fairway apiserver: " << started.error() << "\n";
      (*server)->stop();
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      return 1;
    }
    agent = std::move(*started);
    out << "dev mode: namespaces fairway-system and fairway-reservation, PriorityClass "
           "fairway-reservation, Queue default created; fake GPUs are given to reservation pods\n";
  }
  if (!flags->kubeconfig_out.empty()) {
    if (auto ok = (*server)->write_kubeconfig(flags->kubeconfig_out); !ok) {
      err << "fairway apiserver: " << ok.error() << "\n";
      agent.reset();
      (*server)->stop();
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      return 1;
    }
    out << "kubeconfig written to " << flags->kubeconfig_out << "\n";
    out << "try: kubectl --kubeconfig " << flags->kubeconfig_out << " get queues\n";
  } else {
    out << "token: " << (*server)->token() << "\n";
  }
  out.flush();

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  out << "fairway apiserver: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
      << ", shutting down\n";
  agent.reset();  // its watch ends before the server goes
  (*server)->stop();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return 0;
}

}  // namespace fairway::cmd
