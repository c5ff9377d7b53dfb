#include "scheduler/service/scheduler_service.h"

#include <fmt/format.h>
#include <malloc.h>

#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "k8s-client/api_error.h"
#include "k8s-client/objects.h"
#include "k8s-client/reflector.h"
#include "k8s-client/resource_paths.h"
#include "scheduler/service/actuator.h"
#include "scheduler/service/endpoints.h"
#include "scheduler/service/inbox.h"
#include "scheduler/service/informer_handler.h"
#include "scheduler/service/informers.h"
#include "scheduler/service/kube_reviews.h"
#include "scheduler/service/leadership.h"
#include "scheduler/service/log.h"
#include "scheduler/service/preflight.h"
#include "scheduler/service/service_metrics.h"
#include "scheduler/state/admission_policy.h"
#include "scheduler/webhook/webhook_server.h"

namespace fairway {
namespace {

// A LIST of a large cluster is decoded from a body of hundreds of megabytes; glibc keeps what the
// decoding freed in its arenas, so without this the resident set would stay at that peak for
// the life of the process. Called after the first sync and after any step that applied a burst
// of changes (a relist): a few milliseconds each time.
void return_freed_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}
constexpr size_t kBurstOfChanges = 10'000;

// The Scheduler's configuration from the service's options.
SchedulerConfig scheduler_config(const SchedulerOptions& options) {
  SchedulerConfig config;
  config.state.scheduler_name = options.scheduler_name;
  config.state.intent = options.intent;
  config.state.reservation_namespace = options.reservations.namespace_;
  config.state.usage = options.usage;
  config.state.gpu_device_classes = options.gpu_device_classes;
  config.cycle = options.cycle;
  config.preemption = options.preemption;
  config.schedule_period = options.schedule_period;
  return config;
}

// The API clients of one replica. Binds take `main`. Events and status writes take `writer`,
// with a budget of its own of the same size (--kube-api-qps/--kube-api-burst), as
// kube-scheduler's event client has its own rate limiter: under a storm of Events or conditions,
// binds keep their whole budget. Leader election takes `lease`, as kube-scheduler does:
// renewals never queue behind a burst of binds, and a renewal stuck on a dead connection is
// abandoned in time for the next attempt to land before the renew deadline.
struct Clients {
  Clients(const k8s::ClusterConfig& cluster, const SchedulerOptions& options,
          const k8s::RestClient::RequestObserver& observe)
      : rest(main_options(options)),
        main(cluster, rest),
        writer(cluster, with_pool(rest, 2)),
        lease(cluster, lease_options(rest, options.lease)),
        eviction(cluster, eviction_rest_options(rest)) {
    for (k8s::RestClient* client : {&main, &writer, &lease, &eviction}) {
      client->set_observer(observe);
    }
  }
  static k8s::RestOptions main_options(const SchedulerOptions& options) {
    k8s::RestOptions rest;
    rest.qps = options.kube_api_qps;
    rest.burst = options.kube_api_burst;
    rest.pool_size = options.bind_workers + 2;
    // The identity in the user agent tells replicas apart in API server audit logs (and lets
    // the soak test prove that a replica that lost its Lease writes nothing).
    rest.user_agent = fmt::format("fairway-scheduler ({})", options.lease.identity);
    return rest;
  }
  static k8s::RestOptions with_pool(k8s::RestOptions rest, int pool_size) {
    rest.pool_size = pool_size;
    return rest;
  }
  static k8s::RestOptions lease_options(k8s::RestOptions rest,
                                        const k8s::LeaderElectionConfig& lease) {
    rest.pool_size = 1;
    rest.qps = 10;
    rest.burst = 20;
    rest.request_timeout =
        std::max(std::chrono::seconds(1), lease.renew_deadline - lease.retry_period);
    return rest;
  }

  k8s::RestOptions rest;
  k8s::RestClient main;
  k8s::RestClient writer;
  k8s::RestClient lease;
  k8s::RestClient eviction;  // the Evictor's: no 429 retries, a PodDisruptionBudget's is an answer
};

}  // namespace

SchedulerService::SchedulerService(k8s::ClusterConfig cluster, SchedulerOptions options,
                                   const Clock& clock)
    : cluster_(std::move(cluster)),
      clock_(clock),
      options_(std::move(options)),
      metrics_(metrics::MetricsOptions{.per_node = options_.per_node_metrics}) {}

std::unique_ptr<http::Server> SchedulerService::start_webhook(Inbox& inbox) {
  const std::string& address = options_.webhook_bind_address;
  if (address.empty() || address == "0") return nullptr;
  if (options_.webhook_cert_file.empty() || options_.webhook_key_file.empty()) {
    log::warn(
        "admission webhook not served: --webhook-tls-cert-file and --webhook-tls-key-file "
        "are needed",
        {{"address", address}});
    return nullptr;
  }
  webhook::AdmissionConfig config{.scheduler_name = options_.scheduler_name,
                                  .intent = options_.intent,
                                  .tenant_denials = {},
                                  .pod_group_denials = {},
                                  .trusted_users = options_.webhook_trusted_users};
  // Queue access and fairway-owned keys are checked against this replica's state. A loop that
  // does not answer in time admits: the cycle enforces the same rules (QueueNotAllowed).
  const auto context_for = [this](const ClusterState& state, const std::string& namespace_name) {
    return AdmissionContext{.queues = &state.queue_specs(),
                            .namespace_labels = state.namespace_labels(namespace_name),
                            .queue = nullptr,
                            .old_queue = nullptr,
                            .reservation_namespace = options_.reservations.namespace_};
  };
  // The queue is the one the state would charge the pod's job to (ClusterState::queue_of: its
  // PodGroup's, its own key, its owner's label, its namespace's): one rule, not a second copy.
  config.tenant_denials = [this, &inbox, context_for](const Pod& pod, const Pod* old_pod) {
    auto denials = ask_loop<std::vector<std::string>>(
        inbox, webhook_stopping_, std::chrono::seconds(2),
        [&pod, old_pod, &context_for](ClusterState& state) {
          AdmissionContext context = context_for(state, pod.namespace_);
          const PodQueue queue = state.queue_of(pod);
          std::optional<PodQueue> old_queue;
          if (old_pod != nullptr) old_queue = state.queue_of(*old_pod);
          context.queue = &queue;
          context.old_queue = old_queue ? &*old_queue : nullptr;
          return tenant_pod_denials(pod, old_pod, context);
        });
    return denials.value_or(std::vector<std::string>{});
  };
  config.pod_group_denials = [this, &inbox, context_for](const PodGroup& group) {
    auto denials = ask_loop<std::vector<std::string>>(
        inbox, webhook_stopping_, std::chrono::seconds(2),
        [&group, &context_for](ClusterState& state) {
          return tenant_pod_group_denials(group, context_for(state, group.namespace_));
        });
    return denials.value_or(std::vector<std::string>{});
  };
  auto started = webhook::start_webhook_server(address, options_.webhook_cert_file,
                                               options_.webhook_key_file, std::move(config));
  if (!started) {
    log::error("admission webhook not served", {{"address", address}, {"error", started.error()}});
    return nullptr;
  }
  log::info("admission webhook serving",
            {{"address", address}, {"port", std::to_string((*started)->port())}});
  return std::move(*started);
}

// /metrics, health and /debug on the plain and the secure address (endpoints.h); nullptr when
// neither is configured or the server cannot listen (logged: the scheduler runs without them).
std::unique_ptr<Endpoints> SchedulerService::start_endpoints(Inbox& inbox,
                                                             http::DelegatedAuth* secure_auth,
                                                             Endpoints::Probes probes) {
  const bool plain = !options_.metrics_bind_address.empty() && options_.metrics_bind_address != "0";
  if (!plain && secure_auth == nullptr) return nullptr;
  auto endpoints = std::make_unique<Endpoints>(
      EndpointOptions{.bind_address = options_.metrics_bind_address,
                      .probe_bind_address = options_.health_probe_bind_address,
                      .secure_bind_address = options_.secure_bind_address,
                      .tls_cert_file = options_.tls_cert_file,
                      .tls_key_file = options_.tls_key_file,
                      .secure_auth = secure_auth,
                      .debug = options_.debug_endpoints,
                      .per_node_metrics = options_.per_node_metrics},
      metrics_, inbox, std::move(probes));
  if (auto started = endpoints->start(); !started) {
    log::error("cannot serve metrics",
               {{"address", options_.metrics_bind_address}, {"error", started.error()}});
    return nullptr;
  }
  if (plain) {
    log::info("serving metrics and health", {{"address", options_.metrics_bind_address},
                                             {"port", std::to_string(endpoints->port())}});
  }
  if (secure_auth != nullptr) {
    log::info("serving securely (delegated authentication and authorization)",
              {{"address", options_.secure_bind_address},
               {"port", std::to_string(endpoints->secure_port())},
               {"certificate", options_.tls_cert_file.empty() ? "self-signed in memory"
                                                              : options_.tls_cert_file}});
  }
  if (endpoints->probe_port() != 0) {
    log::info("serving health probes", {{"address", options_.health_probe_bind_address},
                                        {"port", std::to_string(endpoints->probe_port())}});
  }
  return endpoints;
}

// The workers that carry decisions out, and what the loop reads besides the Scheduler.
struct SchedulerService::Edges {
  Scheduler& scheduler;
  Inbox& inbox;
  Informers& informers;
  Leadership& leadership;
  Actuator& actuator;
  ReservationManager& reservations;
  Evictor& evictor;
  UtilizationMonitor* utilization;
};

int SchedulerService::run(std::stop_token stop) {
  Clients clients(cluster_, options_,
                  [this](std::string_view verb, std::string_view path, int code,
                         std::chrono::nanoseconds latency) {
                    metrics_.observe_api_request(verb, path, code, latency);
                  });
  Inbox inbox;
  Scheduler scheduler(scheduler_config(options_), clock_);
  // Every kind the state is built from, watched; their threads run until the end of run().
  Informers informers(clients.main, inbox, metrics_, options_.discovery_interval);
  Leadership leadership(clients.lease, options_.leader_elect, options_.lease,
                        [&inbox] { inbox.nudge(); });
  auto may_write = [&leadership] { return leadership.may_write(); };
  auto fence = leadership.fence();
  for (k8s::RestClient* client : {&clients.main, &clients.writer, &clients.eviction}) {
    client->set_write_fence(fence);
  }

  // What fairway needs besides itself (preflight.h): checked now, logged with the fix, then
  // re-checked while something is missing; the leader creates the reservation namespace and
  // PriorityClass when a fractional pod first needs them, where RBAC lets it. /readyz and
  // fractional pods say what is still missing.
  PreflightMonitor preflight(clients.writer, preflight_config(), may_write);
  preflight.start();

  Actuator::Hooks hooks{may_write, forget_failed(inbox), count_bound()};
  VolumeBinderOptions volume_options;
  volume_options.timeout = options_.volume_bind_timeout;
  // Events, pod conditions and status patches go through the writer client (its own budget).
  RestClusterWriter bind_writer(clients.main);
  RestClusterWriter status_writer(clients.writer);
  Actuator actuator(bind_writer, options_.bind_workers, hooks, volume_options, &status_writer,
                    clock_);
  ReservationManager reservations(
      bind_writer, options_.reservations, reservation_stats_,
      ReservationManager::Hooks{
          .may_write = may_write,
          .on_failed = hooks.on_failed,
          // A shared-GPU bind is the ReservationManager's; its Scheduled Event is written like
          // any other.
          .on_bound =
              [&actuator, counted = hooks.on_bound](const Binding& b) {
                counted(b);
                actuator.scheduled(b);
              },
          .on_rollback =
              [&actuator](const Binding& binding, const std::string& why) {
                actuator.explain({binding.pod, binding.uid, "ReservationFailed",
                                  "shared GPU placement rolled back: " + why});
              },
          .blocker = [&preflight] { return preflight.reservation_blocker(); }},
      clock_);
  RestClusterWriter eviction_writer(clients.eviction);
  Evictor* refusing = nullptr;  // set below; refusals reach the loop only after it starts
  Evictor evictor(eviction_writer,
                  Evictor::Hooks{may_write, refusals_to(inbox, scheduler, refusing)},
                  eviction_stats_, clock_);
  refusing = &evictor;
  add_actuator_sources(metrics_, actuator.stats());
  add_preemption_sources(metrics_, eviction_stats_);
  add_reservation_sources(metrics_, reservation_stats_);

  std::unique_ptr<http::Server> webhook = start_webhook(inbox);
  std::unique_ptr<KubeReviewClient> reviews;
  std::unique_ptr<http::DelegatedAuth> secure_auth;
  if (!options_.secure_bind_address.empty()) {
    reviews = std::make_unique<KubeReviewClient>(cluster_, clients.rest.user_agent);
    secure_auth = std::make_unique<http::DelegatedAuth>(options_.secure_auth, *reviews,
                                                        [this] { return clock_.now(); });
  }
  // After secure_auth: stopped before it goes.
  std::unique_ptr<Endpoints> endpoints =
      start_endpoints(inbox, secure_auth.get(),
                      Endpoints::Probes{.synced = [this] { return stats_.synced.load(); },
                                        .leader = may_write,
                                        .preflight = [&preflight] { return preflight.results(); }});
  if (endpoints) {
    endpoints->set_nominations(&scheduler.nominations());
    endpoints->set_explanations(&scheduler.explanations());
  }
  std::unique_ptr<UtilizationMonitor> utilization = start_utilization(inbox, endpoints.get());
  if (utilization) scheduler.set_idle_gpu_pods(utilization->idle_gpu_pods());

  log::info("scheduler started", {{"scheduler_name", options_.scheduler_name},
                                  {"server", cluster_.server},
                                  {"leader_elect", options_.leader_elect ? "true" : "false"}});
  loop(stop, Edges{scheduler, inbox, informers, leadership, actuator, reservations, evictor,
                   utilization.get()});

  // Shutdown order: finish queued binds, release the lease (still needs the client), then close
  // the watches so the reflector threads return.
  log::info("scheduler stopping", {{"binds", std::to_string(actuator.stats().binds.load())}});
  webhook_stopping_ = true;
  if (webhook) webhook->stop();
  if (endpoints) endpoints->stop();  // its questions need the loop, which has ended
  metrics_.remove_sources(kActuatorSources);
  metrics_.remove_sources(kPreemptionSources);
  metrics_.remove_sources(kReservationSources);
  metrics_.remove_sources(kUtilizationSources);
  if (utilization) utilization->stop();
  evictor.close();          // plans not started are dropped
  clients.eviction.stop();  // the eviction in flight fails at once
  evictor.stop();
  actuator.stop();
  reservations.stop();
  leadership.release();  // stops writing; the elector releases the Lease
  clients.writer.stop();
  clients.lease.stop();
  informers.request_stop();
  clients.main.stop();
  informers.join();
  metrics_.remove_sources(kInformerSources);
  return 0;
}

// A placement whose writes failed: the loop forgets what it assumed, so the next cycle retries.
std::function<void(const Binding&, const std::string&)> SchedulerService::forget_failed(
    Inbox& inbox) {
  return [&inbox](const Binding& binding, const std::string& why) {
    log::info("forgetting placement", {{"pod", binding.pod}, {"reason", why}});
    inbox.post([pod = binding.pod, volumes = binding.volume_bindings,
                claims = binding.claim_allocations](ClusterState& s) {
      s.forget(pod);
      s.forget_volumes(volumes);
      s.forget_claims(claims);
    });
  };
}

// An accepted binding: the e2e latency metric and the service's bind counters.
std::function<void(const Binding&)> SchedulerService::count_bound() {
  return [this](const Binding& binding) {
    if (binding.pod_created_ms > 0) {
      metrics_.observe_pod_scheduled(
          static_cast<double>(clock_.wall_ms() - binding.pod_created_ms) / 1000.0);
    }
    const int64_t now = clock_.now().time_since_epoch().count();
    int64_t unset = 0;
    stats_.first_bind_ns.compare_exchange_strong(unset, now);
    stats_.last_bind_ns = now;
    ++stats_.binds_completed;
  };
}

PreflightConfig SchedulerService::preflight_config() const {
  return PreflightConfig{.leader_elect = options_.leader_elect,
                         .lease_namespace = options_.lease.lease_namespace,
                         .reservations = options_.reservations,
                         .webhook_enabled = !options_.webhook_bind_address.empty() &&
                                            options_.webhook_bind_address != "0" &&
                                            !options_.webhook_cert_file.empty() &&
                                            !options_.webhook_key_file.empty(),
                         .scheduler_name = options_.scheduler_name};
}

// A refused eviction goes back to the loop thread, which owns the pass's memory. `evictor`:
// whose back-off the pass waits out (set once it exists, before the loop starts).
std::function<void(const std::string&, const std::string&, int)> SchedulerService::refusals_to(
    Inbox& inbox, Scheduler& scheduler, Evictor*& evictor) {
  return [this, &inbox, &scheduler, &evictor](const std::string& preemptor, const std::string& pod,
                                              int status) {
    inbox.post([this, &scheduler, &evictor, preemptor, pod, status](ClusterState&) {
      scheduler.eviction_refused(preemptor, pod, status, k8s::retryable_api_error(status),
                                 evictor->backoff_left(pod), clock_.wall_ms());
    });
  };
}

std::unique_ptr<UtilizationMonitor> SchedulerService::start_utilization(Inbox& inbox,
                                                                        Endpoints* endpoints) {
  if (!options_.utilization.enabled()) return nullptr;
  auto utilization = std::make_unique<UtilizationMonitor>(
      options_.utilization, inbox, utilization_stats_, [this] { return clock_.wall_ms(); });
  add_utilization_sources(metrics_, utilization_stats_);
  if (endpoints) endpoints->set_utilization(utilization.get());
  return utilization;
}

// The loop thread: takes the watches' changes, steps the Scheduler, carries out its decisions.
void SchedulerService::loop(std::stop_token stop, Edges edges) {
  std::stop_callback wake_on_stop(stop, [&edges] { edges.inbox.nudge(); });
  while (!stop.stop_requested()) {
    // Synced is read before taking: a reflector posts its whole list and only then reports
    // synced, so a state built from what is taken now holds every listed object (read after,
    // a list still being posted could be cut in two and a cycle run on part of the cluster).
    const bool synced = edges.informers.synced();
    auto changes = edges.inbox.take(edges.scheduler.next_due(clock_.now()));
    const bool changed = !changes.empty();
    const size_t applied = changes.size();
    stats_.events_applied += applied;
    const bool leading = edges.leadership.may_write();
    edges.scheduler.set_synced(synced);
    edges.scheduler.set_leading(leading);
    Decisions decisions =
        edges.scheduler.step(Instant::of(clock_), std::move(changes), [&](ClusterState& state) {
          edges.inbox.answer(state);
          if (synced && !stats_.synced) {
            log::info("informers synced", {{"pods", std::to_string(state.pod_count())}});
            return_freed_memory();
          } else if (applied >= kBurstOfChanges) {
            return_freed_memory();
          }
          stats_.synced = synced;
          if (edges.utilization && synced) edges.utilization->refresh(state, clock_.now());
        });
    ClusterState& state = edges.scheduler.state();
    stats_.leader = leading;
    carry_out(decisions, edges);
    // After the step's reservations were submitted: a group a worker is about to use is busy,
    // never deleted as idle.
    if (synced && leading && changed) {
      edges.reservations.observe(state);
      edges.reservations.reconcile(state);
    }
  }
}

void SchedulerService::carry_out(Decisions& decisions, Edges& edges) {
  for (const QueueWarning& warning : decisions.queue_warnings) {
    if (warning.cleared) {
      log::info("queue warning cleared", {{"queue", warning.queue}});
    } else {
      log::warn(
          "queue warning",
          {{"queue", warning.queue}, {"reason", warning.reason}, {"message", warning.message}});
    }
  }
  for (ObjectWrite& patch : decisions.status_patches) {
    edges.actuator.patch_status(std::move(patch.path), std::move(patch.body));
  }
  if (decisions.pass.ran) {
    ++eviction_stats_.passes;
    eviction_stats_.last_pass_ns = decisions.pass.pass_ns;
    if (decisions.pass.out_of_time) {
      log::warn("preemption pass ran out of time",
                {{"budget_ms", std::to_string(options_.preemption.budget.count())},
                 {"plans", std::to_string(decisions.evictions.size())}});
    }
  }
  for (PreemptionPlan& plan : decisions.evictions) {
    ++eviction_stats_.plans;
    log::debug("preemption plan", {{"plan", plan.message}});
    edges.evictor.carry_out(std::move(plan), decisions.pass.decided);
  }
  snapshot_ns_ += decisions.apply_ns;
  if (decisions.pass.ran) plan_ns_ = decisions.pass.pass_ns;
  if (!decisions.cycle) return;
  const CycleResult& result = *decisions.cycle;
  ++stats_.cycles;
  stats_.pods_bound += decisions.binds.size();
  if (!decisions.binds.empty() || !result.pending.empty()) {
    log::debug("cycle", {{"bound", std::to_string(decisions.binds.size())},
                         {"pending_jobs", std::to_string(result.pending.size())}});
  }
  const auto bind_start = clock_.now();
  for (Binding& binding : decisions.binds) {
    edges.actuator.forget_explanation(binding.pod);
    if (!binding.shares.empty()) {
      edges.reservations.submit(std::move(binding), edges.scheduler.state());  // then the bind
    } else {
      edges.actuator.bind(std::move(binding));
    }
  }
  metrics_.observe_cycle(result, {.snapshot = std::chrono::nanoseconds(snapshot_ns_),
                                  .fairshare = std::chrono::nanoseconds(result.stats.fairshare_ns),
                                  .allocate = std::chrono::nanoseconds(result.stats.allocate_ns),
                                  .plan = std::chrono::nanoseconds(plan_ns_),
                                  .bind = clock_.now() - bind_start});
  snapshot_ns_ = 0;
  plan_ns_ = -1;
  for (Unschedulable& pending : decisions.explanations) {
    edges.actuator.explain(std::move(pending));
  }
  for (ObjectWrite& group : decisions.pod_groups) {
    edges.actuator.apply_object(std::move(group.path), std::move(group.body));
  }
}

}  // namespace fairway
