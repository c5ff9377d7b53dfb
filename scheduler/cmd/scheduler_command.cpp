// `fairway scheduler`: flags in kube-scheduler's style, signals, then the service.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pthread.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <memory>
#include <ostream>
#include <random>
#include <ranges>
#include <thread>

#include "k8s-client/config.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/cmd/config_file.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/cmd/utilization_flags.h"
#include "scheduler/service/log.h"
#include "scheduler/service/scheduler_service.h"

namespace fairway::cmd {
namespace {

std::string default_identity() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return fmt::format("{}_{:08x}", host, random());
}

// "a,b,,c" → {a, b, c}: the comma-separated list flags.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  for (size_t start = 0; start < text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// What the flags fill: SchedulerOptions directly where a flag is one of its fields, else the
// text or unit the flag takes, turned into options once every flag is parsed (finish()).
struct SchedulerFlags {
  SchedulerOptions options;
  std::string kubeconfig;
  std::string context;
  std::string config_file;
  std::string scoring = "binpack";
  std::string metrics_bind_address = "127.0.0.1:8080";
  std::string health_probe_bind_address = "0";
  std::string bind_address = "0.0.0.0";
  int secure_port = 0;
  std::string always_allow_paths = "/healthz,/readyz,/livez";
  std::string sharing = "binpack";
  std::string webhook_bind_address = "0";
  std::string webhook_cert_file;
  std::string webhook_key_file;
  std::string webhook_trusted_users;
  std::chrono::milliseconds reservation_timeout;
  std::string lease_namespace;
  std::string lease_name;
  int verbosity = 0;
  std::chrono::milliseconds lease_duration;
  std::chrono::milliseconds renew_deadline;
  std::chrono::milliseconds retry_period;
  std::chrono::milliseconds usage_half_life;
  UtilizationFlags utilization;
  int non_preemptible_priority;
  std::chrono::milliseconds stale_gang_grace;
  std::string gpu_device_classes;

  SchedulerFlags()
      : reservation_timeout(options.reservations.timeout),
        lease_namespace(options.lease.lease_namespace),
        lease_name(options.lease.lease_name),
        lease_duration(options.lease.lease_duration),
        renew_deadline(options.lease.renew_deadline),
        retry_period(options.lease.retry_period),
        usage_half_life(options.usage.half_life_ms),
        utilization(options.utilization),
        non_preemptible_priority(options.preemption.planner.non_preemptible_priority),
        stale_gang_grace(options.preemption.planner.stale_gang_grace_ms),
        gpu_device_classes(fmt::format("{}", fmt::join(options.gpu_device_classes, ","))) {
    options.lease.identity = default_identity();
  }
};

// The cluster, leader election, the API client and the HTTP endpoints.
void add_serving_flags(FlagSet& flags, SchedulerFlags& f) {
  SchedulerOptions& options = f.options;
  flags.add_string("kubeconfig", &f.kubeconfig,
                   "path to a kubeconfig; empty: $KUBECONFIG, then in-cluster");
  flags.add_string("context", &f.context, "kubeconfig context to use (default: current-context)");
  flags.add_string("config", &f.config_file, "YAML file of flag values (flag-name: value)");
  flags.add_string("scheduler-name", &options.scheduler_name,
                   "pods with this spec.schedulerName are ours");
  flags.add_bool("leader-elect", &options.leader_elect,
                 "elect a leader on a Lease before scheduling");
  flags.add_duration("leader-elect-lease-duration", &f.lease_duration, "lease duration");
  flags.add_duration("leader-elect-renew-deadline", &f.renew_deadline,
                     "give up leadership if not renewed within");
  flags.add_duration("leader-elect-retry-period", &f.retry_period,
                     "interval between acquire/renew attempts");
  flags.add_string("leader-elect-resource-namespace", &f.lease_namespace, "namespace of the Lease");
  flags.add_string("leader-elect-resource-name", &f.lease_name, "name of the Lease");
  flags.add_double("kube-api-qps", &options.kube_api_qps, "requests per second to the API server");
  flags.add_int("kube-api-burst", &options.kube_api_burst, "burst of requests to the API server");
  flags.add_string("metrics-bind-address", &f.metrics_bind_address,
                   "host:port for /metrics, /healthz, /readyz and /debug/ (0: off); no "
                   "authentication, so localhost unless you open it (\":8080\": every interface)");
  flags.add_string("health-probe-bind-address", &f.health_probe_bind_address,
                   "host:port serving only /healthz and /readyz, for the kubelet (0: none)");
  flags.add_string("bind-address", &f.bind_address,
                   "IP address the secure port listens on (kube-scheduler's flag)");
  flags.add_int("secure-port", &f.secure_port,
                "HTTPS port for /metrics, /healthz, /readyz and /debug/ with delegated "
                "authentication (TokenReview) and authorization (SubjectAccessReview), as "
                "kube-scheduler's 10259 (0: off)");
  flags.add_string("tls-cert-file", &options.tls_cert_file,
                   "PEM certificate chain for the secure port (reloaded when it changes); with "
                   "--tls-private-key-file unset too, a self-signed certificate is made in memory");
  flags.add_string("tls-private-key-file", &options.tls_key_file,
                   "PEM private key matching --tls-cert-file");
  flags.add_string("authorization-always-allow-paths", &f.always_allow_paths,
                   "comma-separated paths the secure port serves without authorization (a "
                   "trailing * matches a prefix)");
  flags.add_bool("debug-endpoints", &options.debug_endpoints,
                 "serve /debug/queues and /debug/pods/ on the metrics address");
  flags.add_bool("per-node-metrics", &options.per_node_metrics,
                 "export per-node series (fairway_node_*); off for huge clusters");
}

// The cycle: its pace, binding, scoring and fair share over time.
void add_cycle_flags(FlagSet& flags, SchedulerFlags& f) {
  SchedulerOptions& options = f.options;
  flags.add_duration("schedule-period", &options.schedule_period, "at most one cycle per period");
  flags.add_duration("discovery-interval", &options.discovery_interval,
                     "how often API discovery is read again, so gang sources (workload CRDs, "
                     "other schedulers' PodGroups) and DRA kinds (resource.k8s.io/v1) served or "
                     "removed later are followed; 0: only at start");
  flags.add_int("bind-workers", &options.bind_workers, "concurrent binding requests");
  flags.add_duration("volume-bind-timeout", &options.volume_bind_timeout,
                     "how long a pod's PersistentVolumeClaims may take to be bound or "
                     "provisioned before the pod is bound (kube-scheduler's bindTimeoutSeconds)");
  flags.add_choice(
      "scoring", &f.scoring, {"binpack", "spread"},
      "node scoring: binpack puts a pod on the fullest node that holds it, spread on the emptiest",
      {{"bin-pack", "binpack"}});
  ScoreWeights& weights = options.cycle.score_weights;
  flags.add_double("score-weight-node-affinity", &weights.node_affinity,
                   "weight of preferred node affinity against resource packing");
  flags.add_double("score-weight-pod-affinity", &weights.pod_affinity,
                   "weight of preferred pod affinity and anti-affinity");
  flags.add_double("score-weight-topology-spread", &weights.topology_spread,
                   "weight of ScheduleAnyway topology spread constraints");
  flags.add_double("score-weight-taint-toleration", &weights.taint_toleration,
                   "weight of PreferNoSchedule taints");
  flags.add_duration("usage-half-life", &f.usage_half_life,
                     "fair share over time: how fast a queue's past use fades (a use this old "
                     "counts half)");
  flags.add_double("usage-strength", &options.usage.strength,
                   "fair share over time: how much past use moves a queue's share of what is "
                   "left after quotas (0: not at all; 1: a queue that used all of it while its "
                   "sibling used none gets half its weight)");
  f.utilization.add(flags, true);
}

// Preemption, GPU sharing and its reservation pods, DRA, the webhook, logging.
void add_gpu_flags(FlagSet& flags, SchedulerFlags& f) {
  SchedulerOptions& options = f.options;
  flags.add_duration(
      "preemption-period", &options.preemption.period,
      "how often the preempt/reclaim/consolidate pass runs while jobs wait; 0 disables");
  flags.add_duration("stale-gang-grace", &f.stale_gang_grace,
                     "a gang bound below its minMember this long (or its PodGroup's "
                     "scheduleTimeoutSeconds) has its bound pods evicted; 0 disables");
  flags.add_int(
      "non-preemptible-priority", &f.non_preemptible_priority,
      "pods with priority >= this are never evicted unless labelled fairway.dev/preemptible=true");
  flags.add_choice(
      "gpu-sharing-strategy", &f.sharing, {"binpack", "spread"},
      "fractional pods: binpack fills shared GPUs first, spread splits new ones first");
  flags.add_string("dra-gpu-device-classes", &f.gpu_device_classes,
                   "comma-separated DeviceClasses whose devices, claimed through "
                   "ResourceClaims, count as nvidia.com/gpu for queues (docs/dra.md)");
  flags.add_string("reservation-namespace", &options.reservations.namespace_,
                   "namespace of GPU reservation pods");
  flags.add_string("reservation-priority-class", &options.reservations.priority_class,
                   "PriorityClass of reservation pods (keeps them from being preempted alone)");
  flags.add_string("reservation-runtime-class", &options.reservations.runtime_class,
                   "RuntimeClass of reservation pods (e.g. nvidia); empty: the node's default");
  flags.add_duration("reservation-timeout", &f.reservation_timeout,
                     "how long to wait for a reservation pod to report its GPU UUID");
  flags.add_string("reservation-image", &options.reservations.image,
                   "image of reservation pods (runs `fairway reservation-agent`)");
  flags.add_string(
      "webhook-bind-address", &f.webhook_bind_address,
      "host:port of the mutating admission webhook (/mutate, HTTPS), e.g. :9443 (the chart "
      "sets it); 0: off");
  flags.add_string("webhook-tls-cert-file", &f.webhook_cert_file,
                   "webhook serving certificate (PEM)");
  flags.add_string("webhook-tls-key-file", &f.webhook_key_file, "webhook serving key (PEM)");
  flags.add_string("webhook-trusted-users", &f.webhook_trusted_users,
                   "comma-separated usernames whose pod writes the webhook does not judge: "
                   "fairway's own service account (system:serviceaccount:NS:NAME)");
  flags.add_int("v", &f.verbosity, "log verbosity (0 info, 2 debug, 4 trace)");
}

// The command line, over the --config file's values when one is named. An exit code when the
// command ends here (help, a bad flag), nullopt when it goes on.
std::optional<int> parse_command_line(FlagSet& flags, std::span<const std::string> args,
                                      const SchedulerFlags& f, std::ostream& out,
                                      std::ostream& err) {
  auto positional = flags.parse(args);
  if (positional && !f.config_file.empty()) {
    // Re-parse: file values first, then the command line over them.
    auto from_file = config_file_args(f.config_file);
    if (!from_file) {
      err << "fairway scheduler: " << from_file.error() << "\n";
      return 1;
    }
    std::vector<std::string> merged = *from_file;
    merged.insert(merged.end(), args.begin(), args.end());
    positional = flags.parse(merged);
  }
  if (!positional) {
    err << "fairway scheduler: " << positional.error() << "\n\n" << flags.usage();
    return 2;
  }
  if (flags.help_requested()) {
    out << flags.usage();
    return 0;
  }
  if (!positional->empty()) {
    err << "fairway scheduler: unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  }
  for (const std::string& warning : flags.warnings())
    err << "fairway scheduler: " << warning << "\n";
  return std::nullopt;
}

// Scoring, reservations, DRA device classes, the API client and the endpoints: checked and
// copied into the options. False (with the message written) when a value is out of range.
bool finish_serving(SchedulerFlags& f, std::ostream& err) {
  SchedulerOptions& options = f.options;
  if (f.scoring == "spread") options.cycle.strategy = ScoringStrategy::kSpread;
  const ScoreWeights& weights = options.cycle.score_weights;
  if (weights.node_affinity < 0 || weights.pod_affinity < 0 || weights.topology_spread < 0 ||
      weights.taint_toleration < 0) {
    err << "fairway scheduler: --score-weight-* must not be negative\n";
    return false;
  }
  if (f.sharing == "spread") options.cycle.gpu_sharing_strategy = ScoringStrategy::kSpread;
  if (f.reservation_timeout.count() <= 0 || options.reservations.namespace_.empty()) {
    err << "fairway scheduler: --reservation-timeout must be positive and --reservation-namespace "
           "set\n";
    return false;
  }
  options.reservations.timeout = f.reservation_timeout;
  options.gpu_device_classes.clear();
  for (const auto part : std::views::split(f.gpu_device_classes, ',')) {
    std::string name(part.begin(), part.end());
    if (!name.empty()) options.gpu_device_classes.insert(std::move(name));
  }
  if (options.kube_api_qps <= 0 || options.kube_api_burst <= 0 || options.bind_workers <= 0) {
    err << "fairway scheduler: --kube-api-qps, --kube-api-burst and --bind-workers must be "
           "positive\n";
    return false;
  }
  if (options.volume_bind_timeout.count() <= 0) {
    err << "fairway scheduler: --volume-bind-timeout must be positive\n";
    return false;
  }
  options.metrics_bind_address = f.metrics_bind_address;
  options.health_probe_bind_address = f.health_probe_bind_address;
  if (f.secure_port < 0 || f.secure_port > 65535) {
    err << "fairway scheduler: --secure-port must be between 0 and 65535\n";
    return false;
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    err << "fairway scheduler: --tls-cert-file and --tls-private-key-file go together\n";
    return false;
  }
  if (f.secure_port != 0) {
    // An IPv6 address is bracketed in the host:port form the server parses.
    const bool ipv6 = f.bind_address.find(':') != std::string::npos;
    options.secure_bind_address =
        (ipv6 ? "[" + f.bind_address + "]" : f.bind_address) + ":" + std::to_string(f.secure_port);
  }
  options.secure_auth.always_allow_paths = split_list(f.always_allow_paths);
  return true;
}

// Preemption, fair share over time, utilisation and leader election: checked and copied into
// the options, after finish_serving (the planner simulates with the cycle's options).
bool finish_policies(SchedulerFlags& f, std::ostream& err) {
  SchedulerOptions& options = f.options;
  if (options.preemption.period.count() < 0) {
    err << "fairway scheduler: --preemption-period must not be negative\n";
    return false;
  }
  if (options.discovery_interval.count() < 0) {
    err << "fairway scheduler: --discovery-interval must not be negative\n";
    return false;
  }
  if (f.stale_gang_grace.count() < 0) {
    err << "fairway scheduler: --stale-gang-grace must not be negative\n";
    return false;
  }
  options.preemption.planner.stale_gang_grace_ms = f.stale_gang_grace.count();
  if (f.usage_half_life.count() <= 0 || !(options.usage.strength >= 0) ||
      !std::isfinite(options.usage.strength)) {
    err << "fairway scheduler: --usage-half-life must be positive and --usage-strength a number "
           "not below 0\n";
    return false;
  }
  options.usage.half_life_ms = f.usage_half_life.count();
  if (auto chosen = f.utilization.options()) {
    options.utilization = std::move(*chosen);
  } else {
    err << "fairway scheduler: " << chosen.error() << "\n";
    return false;
  }
  options.preemption.planner.non_preemptible_priority = f.non_preemptible_priority;
  options.preemption.planner.cycle = options.cycle;
  options.lease.lease_namespace = f.lease_namespace;
  options.lease.lease_name = f.lease_name;
  options.lease.lease_duration = std::chrono::duration_cast<std::chrono::seconds>(f.lease_duration);
  options.lease.renew_deadline = std::chrono::duration_cast<std::chrono::seconds>(f.renew_deadline);
  options.lease.retry_period = std::chrono::duration_cast<std::chrono::seconds>(f.retry_period);
  if (options.lease.renew_deadline >= options.lease.lease_duration) {
    err << "fairway scheduler: --leader-elect-renew-deadline must be shorter than the lease "
           "duration\n";
    return false;
  }
  return true;
}

// Logging, the cluster's config, then the service until SIGINT or SIGTERM.
int run_service(SchedulerFlags& f, std::ostream& err) {
  log::init(f.verbosity);
  auto cluster = k8s::resolve_config(f.kubeconfig, f.context);
  if (!cluster) {
    err << "fairway scheduler: " << cluster.error() << "\n";
    return 1;
  }
  if (cluster->insecure_skip_tls_verify) {
    log::warn(
        "insecure-skip-tls-verify is set: the API server's certificate is not verified, so "
        "anyone on the path can read and change what fairway reads and writes; set "
        "certificate-authority(-data) instead",
        {{"server", cluster->server}});
  }

  // SIGINT/SIGTERM end the service gracefully: block them in every thread and wait for them on
  // one thread of our own.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::stop_source stop;
  std::thread waiter([&signals, &stop] {
    int received = 0;
    sigwait(&signals, &received);
    if (received != 0) {
      log::info("signal received, shutting down", {{"signal", std::to_string(received)}});
    }
    stop.request_stop();
  });

  SchedulerOptions& options = f.options;
  options.webhook_bind_address = f.webhook_bind_address;
  options.webhook_cert_file = f.webhook_cert_file;
  options.webhook_key_file = f.webhook_key_file;
  options.webhook_trusted_users = split_list(f.webhook_trusted_users);
  SchedulerService service(std::move(*cluster), std::move(options));
  const int code = service.run(stop.get_token());
  // Wake the waiter if the service ended on its own.
  if (!stop.stop_requested()) {
    stop.request_stop();
  }
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return code;
}

}  // namespace

int scheduler(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  SchedulerFlags f;
  FlagSet flags("scheduler");
  add_serving_flags(flags, f);
  add_cycle_flags(flags, f);
  add_gpu_flags(flags, f);
  if (const auto done = parse_command_line(flags, args, f, out, err)) return *done;
  if (!finish_serving(f, err) || !finish_policies(f, err)) return 2;
  return run_service(f, err);
}

}  // namespace fairway::cmd
