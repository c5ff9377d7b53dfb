// `fairway doctor`: every preflight check (scheduler/service/preflight.h) against a cluster, as a
// table with the fix for each failure. Read-only: it creates nothing (the scheduler itself
// creates the reservation namespace and PriorityClass where RBAC allows). Exit code 0 when every
// check passes, 1 otherwise, 2 for bad flags.
#include <fmt/format.h>

#include <ostream>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/service/preflight.h"

namespace fairway::cmd {

int doctor(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string kubeconfig;
  std::string context;
  PreflightConfig config;
  bool webhook = true;
  FlagSet flags("doctor");
  flags.add_string("kubeconfig", &kubeconfig,
                   "path to a kubeconfig; empty: $KUBECONFIG, then in-cluster");
  flags.add_string("context", &context, "kubeconfig context to use (default: current-context)");
  flags.add_bool("leader-elect", &config.leader_elect,
                 "the scheduler elects a leader (checks the Lease namespace)");
  flags.add_string("leader-elect-resource-namespace", &config.lease_namespace,
                   "namespace of the scheduler's Lease");
  flags.add_string("reservation-namespace", &config.reservations.namespace_,
                   "namespace of GPU reservation pods");
  flags.add_string("reservation-priority-class", &config.reservations.priority_class,
                   "PriorityClass of reservation pods");
  flags.add_bool("webhook", &webhook,
                 "the scheduler serves the admission webhook (checks its registration)");
  auto positional = flags.parse(args);
  if (!positional) {
    err << "fairway doctor: " << positional.error() << "\n\n" << flags.usage();
    return 2;
  }
  if (flags.help_requested()) {
    out << "Checks what fairway needs from a cluster and prints each check with its fix.\n\n"
        << flags.usage();
    return 0;
  }
  if (!positional->empty()) {
    err << "fairway doctor: unexpected argument \"" << positional->front() << "\"\n\n"
        << flags.usage();
    return 2;
  }
  config.webhook_enabled = webhook;
  auto cluster = k8s::resolve_config(kubeconfig, context);
  if (!cluster) {
    err << "fairway doctor: " << cluster.error() << "\n";
    return 1;
  }
  k8s::RestOptions rest;
  rest.request_timeout = std::chrono::seconds(15);
  rest.user_agent = "fairway-doctor";
  k8s::RestClient client(*cluster, rest);
  // One request answers whether the server is there at all: a table of "cannot read" rows
  // would bury that.
  if (const auto version = client.get("/version"); !version) {
    err << fmt::format("fairway doctor: cannot reach the API server at {}: {}\n", cluster->server,
                       version.error().message);
    return 1;
  }
  const auto results = evaluate(config, read_cluster_facts(client, config, false));
  out << render_checks(results);
  size_t failed = 0;
  for (const CheckResult& row : results) failed += row.pass ? 0 : 1;
  out << (failed == 0 ? std::string("all checks passed\n")
                      : fmt::format("{} of {} checks failed\n", failed, results.size()));
  return failed == 0 ? 0 : 1;
}

}  // namespace fairway::cmd
