#include "scheduler/service/scheduler_service.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "k8s-client/objects.h"
#include "k8s-client/reflector.h"
#include "k8s-client/resource_paths.h"
#include "scheduler/service/actuator.h"
#include "scheduler/service/endpoints.h"
#include "scheduler/service/explanations.h"
#include "scheduler/service/inbox.h"
#include "scheduler/service/inferred_groups.h"
#include "scheduler/service/informer_handler.h"
#include "scheduler/service/informers.h"
#include "scheduler/service/kube_reviews.h"
#include "scheduler/service/leadership.h"
#include "scheduler/service/log.h"
#include "scheduler/service/preflight.h"
#include "scheduler/service/service_metrics.h"
#include "scheduler/service/status.h"
#include "scheduler/state/admission_policy.h"
#include "scheduler/webhook/webhook_server.h"

namespace fairway {
namespace {

constexpr auto kStatusPeriod = std::chrono::seconds(1);
constexpr auto kUsagePeriod = std::chrono::seconds(1);

// Logs a queue's Warning condition when it appears, changes or clears: once per change, not
// per cycle. `logged`: the last warning logged per queue (reason and message).
void log_queue_warnings(const std::unordered_map<std::string, nlohmann::json>& statuses,
                        std::unordered_map<std::string, std::string>& logged) {
  for (const auto& [name, status] : statuses) {
    std::string now;
    const nlohmann::json* warning = nullptr;
    if (const auto conditions = status.find("conditions");
        conditions != status.end() && conditions->is_array()) {
      for (const auto& condition : *conditions) {
        if (condition.is_object() && condition.value("type", "") == "Warning") warning = &condition;
      }
    }
    if (warning != nullptr)
      now = warning->value("reason", "") + ": " + warning->value("message", "");
    auto it = logged.find(name);
    if ((it == logged.end() ? std::string() : it->second) == now) continue;
    if (warning != nullptr) {
      log::warn("queue warning", {{"queue", name},
                                  {"reason", warning->value("reason", "")},
                                  {"message", warning->value("message", "")}});
      logged[name] = now;
    } else {
      log::info("queue warning cleared", {{"queue", name}});
      logged.erase(it);
    }
  }
  std::erase_if(logged, [&statuses](const auto& entry) { return !statuses.contains(entry.first); });
}

// Writes the status of Queues and PodGroups whose status changed since the last write.
void publish_status(ClusterState& state, const CycleResult& result,
                    const std::unordered_map<std::string, PlacementQuality>& placements,
                    std::unordered_map<std::string, std::string>& written,
                    std::unordered_map<std::string, std::string>& warnings_logged,
                    Actuator& actuator) {
  std::unordered_set<std::string> current;
  auto publish = [&](const std::string& path, nlohmann::json status) {
    current.insert(path);
    std::string body = nlohmann::json{{"status", std::move(status)}}.dump();
    auto& last = written[path];
    if (last == body) return;
    last = body;
    actuator.patch_status(path, std::move(body));
  };
  auto queues =
      queue_statuses(state.queue_tree(), result.shares, state.registry(), state.queue_usage(),
                     state.usage_history(),
                     capacity_problems(state.queue_tree(), state.capacity(), state.registry()));
  std::erase_if(queues, [&state](const auto& entry) {
    return !state.queue_specs().contains(entry.first);  // the implicit default has no object
  });
  log_queue_warnings(queues, warnings_logged);
  for (auto& [name, status] : queues) {
    publish(fmt::format("/apis/scheduling.fairway.dev/v1alpha1/queues/{}/status", name),
            std::move(status));
  }
  for (auto& [key, status] : pod_group_statuses(state, result, placements)) {
    const auto slash = key.find('/');
    publish(fmt::format("/apis/scheduling.fairway.dev/v1alpha1/namespaces/{}/podgroups/{}/status",
                        key.substr(0, slash), key.substr(slash + 1)),
            std::move(status));
  }
  // Objects that are gone: forget what was written for them, so the map stays bounded.
  if (written.size() > 2 * current.size() + 1024) {
    std::erase_if(written,
                  [&current](const auto& entry) { return !current.contains(entry.first); });
  }
}

}  // namespace

SchedulerService::SchedulerService(k8s::ClusterConfig cluster, SchedulerOptions options)
    : cluster_(std::move(cluster)),
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

int SchedulerService::run(std::stop_token stop) {
  k8s::RestOptions rest;
  rest.qps = options_.kube_api_qps;
  rest.burst = options_.kube_api_burst;
  rest.pool_size = options_.bind_workers + 2;
  // The identity in the user agent tells replicas apart in API server audit logs (and lets the
  // soak test prove that a replica that lost its Lease writes nothing).
  rest.user_agent = fmt::format("fairway-scheduler ({})", options_.lease.identity);
  k8s::RestClient client(cluster_, rest);
  // Events and status writes get their own client with a budget of their own, of the same
  // size (--kube-api-qps/--kube-api-burst), as kube-scheduler's event client has its own rate
  // limiter: under a storm of Events or conditions, binds keep their whole budget.
  k8s::RestOptions writer_rest = rest;
  writer_rest.pool_size = 2;
  k8s::RestClient writer_client(cluster_, writer_rest);
  auto observe_request = [this](std::string_view verb, std::string_view path, int code,
                                std::chrono::nanoseconds latency) {
    metrics_.observe_api_request(verb, path, code, latency);
  };
  client.set_observer(observe_request);
  writer_client.set_observer(observe_request);
  // Leader election has a client of its own, as kube-scheduler does: renewals never queue
  // behind a burst of binds in the main client's rate limiter or pool, and a renewal stuck on a
  // dead connection is abandoned in time for the next attempt to land before the renew deadline.
  k8s::RestOptions lease_rest = rest;
  lease_rest.pool_size = 1;
  lease_rest.qps = 10;
  lease_rest.burst = 20;
  lease_rest.request_timeout = std::max(
      std::chrono::seconds(1), options_.lease.renew_deadline - options_.lease.retry_period);
  k8s::RestClient lease_client(cluster_, lease_rest);
  lease_client.set_observer(observe_request);

  Inbox inbox;
  StateConfig state_config;
  state_config.scheduler_name = options_.scheduler_name;
  state_config.intent = options_.intent;
  state_config.reservation_namespace = options_.reservations.namespace_;
  state_config.usage = options_.usage;
  state_config.gpu_device_classes = options_.gpu_device_classes;
  ClusterState state(state_config);

  // Every kind the state is built from, watched; their threads run until the end of run().
  Informers informers(client, inbox, metrics_, options_.discovery_interval);
  auto all_synced = [&informers] { return informers.synced(); };

  Leadership leadership(lease_client, options_.leader_elect, options_.lease,
                        [&inbox] { inbox.nudge(); });
  auto may_write = [&leadership] { return leadership.may_write(); };
  auto fence = leadership.fence();
  client.set_write_fence(fence);
  writer_client.set_write_fence(fence);

  // What fairway needs besides itself (preflight.h): checked now, logged with the fix, then
  // re-checked while something is missing; the leader creates the reservation namespace and
  // PriorityClass when a fractional pod first needs them, where RBAC lets it. /readyz and
  // fractional pods say what is still missing.
  PreflightMonitor preflight(
      writer_client,
      PreflightConfig{.leader_elect = options_.leader_elect,
                      .lease_namespace = options_.lease.lease_namespace,
                      .reservations = options_.reservations,
                      .webhook_enabled = !options_.webhook_bind_address.empty() &&
                                         options_.webhook_bind_address != "0" &&
                                         !options_.webhook_cert_file.empty() &&
                                         !options_.webhook_key_file.empty(),
                      .scheduler_name = options_.scheduler_name},
      may_write);
  preflight.start();

  Actuator::Hooks hooks;
  hooks.may_write = may_write;
  hooks.on_failed = [&inbox](const Binding& binding, const std::string& why) {
    log::info("forgetting placement", {{"pod", binding.pod}, {"reason", why}});
    inbox.post([pod = binding.pod, volumes = binding.volume_bindings,
                claims = binding.claim_allocations](ClusterState& s) {
      s.forget(pod);
      s.forget_volumes(volumes);
      s.forget_claims(claims);
    });
  };
  hooks.on_bound = [this](const Binding& binding) {
    if (binding.pod_created_ms > 0) {
      const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
      metrics_.observe_pod_scheduled(static_cast<double>(wall_ms - binding.pod_created_ms) /
                                     1000.0);
    }
    const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    int64_t unset = 0;
    stats_.first_bind_ns.compare_exchange_strong(unset, now);
    stats_.last_bind_ns = now;
    ++stats_.binds_completed;
  };
  ReservationManager::Hooks reservation_hooks{
      hooks.may_write, hooks.on_failed, hooks.on_bound, {}, {}};
  VolumeBinderOptions volume_options;
  volume_options.timeout = options_.volume_bind_timeout;
  // Events, pod conditions and status patches go through writer_client (its own budget).
  Actuator actuator(client, options_.bind_workers, std::move(hooks), volume_options,
                    &writer_client);
  add_actuator_sources(metrics_, actuator.stats());
  add_preemption_sources(metrics_, eviction_stats_);
  add_reservation_sources(metrics_, reservation_stats_);

  std::unique_ptr<http::Server> webhook = start_webhook(inbox);
  std::unique_ptr<KubeReviewClient> reviews;
  std::unique_ptr<http::DelegatedAuth> secure_auth;
  if (!options_.secure_bind_address.empty()) {
    reviews = std::make_unique<KubeReviewClient>(cluster_, rest.user_agent);
    secure_auth = std::make_unique<http::DelegatedAuth>(
        options_.secure_auth, *reviews, [] { return std::chrono::steady_clock::now(); });
  }
  // After secure_auth: stopped before it goes.
  std::unique_ptr<Endpoints> endpoints =
      start_endpoints(inbox, secure_auth.get(),
                      Endpoints::Probes{.synced = [this] { return stats_.synced.load(); },
                                        .leader = may_write,
                                        .preflight = [&preflight] { return preflight.results(); }});
  PreemptionPass preemption(
      cluster_, rest, options_.preemption, eviction_stats_, may_write,
      [&inbox](std::function<void()> work) {
        inbox.post([work = std::move(work)](ClusterState&) { work(); });
      },
      observe_request);
  preemption.set_write_fence(fence);
  if (endpoints) endpoints->set_nominations(&preemption.nominations());
  reservation_hooks.on_rollback = [&actuator](const Binding& binding, const std::string& why) {
    actuator.explain({binding.pod, binding.uid, "ReservationFailed",
                      "shared GPU placement rolled back: " + why});
  };
  // A shared-GPU bind is the ReservationManager's; its Scheduled Event is written like any other.
  reservation_hooks.on_bound = [&actuator, counted = reservation_hooks.on_bound](const Binding& b) {
    if (counted) counted(b);
    actuator.scheduled(b);
  };
  reservation_hooks.blocker = [&preflight] { return preflight.reservation_blocker(); };
  ReservationManager reservations(client, options_.reservations, reservation_stats_,
                                  std::move(reservation_hooks));
  std::unique_ptr<UtilizationMonitor> utilization;
  if (options_.utilization.enabled()) {
    utilization =
        std::make_unique<UtilizationMonitor>(options_.utilization, inbox, utilization_stats_, [] {
          return std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
              .count();
        });
    add_utilization_sources(metrics_, utilization_stats_);
    if (endpoints) endpoints->set_utilization(utilization.get());
    preemption.set_idle_gpu_pods(utilization->idle_gpu_pods());
  }

  log::info("scheduler started", {{"scheduler_name", options_.scheduler_name},
                                  {"server", cluster_.server},
                                  {"leader_elect", options_.leader_elect ? "true" : "false"}});

  // The loop. Explanations are written only when a pod's message changes; Queue status only
  // when it changes, and at most once per status_period.
  Explanations explanations(actuator);
  if (endpoints) endpoints->set_explanations(&explanations.by_pod());
  CycleOptions cycle_options = options_.cycle;
  cycle_options.clock_ns = [] {
    return std::chrono::steady_clock::now().time_since_epoch().count();
  };
  std::chrono::nanoseconds snapshot_time{0};  // applying changes since the last cycle
  std::chrono::nanoseconds plan_time{-1};     // the latest preemption pass; negative: none ran
  std::unordered_map<std::string, std::string> status_written;         // by path
  std::unordered_map<std::string, std::string> queue_warnings_logged;  // by queue name
  InferredGroupWrites inferred_writes;  // fairway's PodGroups of inferred gangs
  auto last_status = std::chrono::steady_clock::now() - kStatusPeriod;
  auto last_usage = std::chrono::steady_clock::now() - kUsagePeriod;
  std::optional<CycleResult> status_due;  // the last cycle, its status not yet published
  // Where each gang was placed (the cycle that placed it may not be the one published).
  std::unordered_map<std::string, PlacementQuality> placements;
  bool dirty = true;
  auto last_cycle = std::chrono::steady_clock::now() - options_.schedule_period;
  std::stop_callback wake_on_stop(stop, [&inbox] { inbox.nudge(); });
  while (!stop.stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    auto next = dirty ? std::max(now, last_cycle + options_.schedule_period)
                      : now + std::chrono::seconds(1);
    if (status_due) next = std::min(next, std::max(now, last_status + kStatusPeriod));
    next = std::min(next, std::max(now, preemption.next_due()));
    // Synced is read before taking: a reflector posts its whole list and only then reports
    // synced, so a state built from what is taken now holds every listed object (read after,
    // a list still being posted could be cut in two and a cycle run on part of the cluster).
    const bool synced = all_synced();
    auto changes = inbox.take(next);
    const auto apply_start = std::chrono::steady_clock::now();
    for (auto& change : changes) change(state);
    snapshot_time += std::chrono::steady_clock::now() - apply_start;
    inbox.answer(state);
    stats_.events_applied += changes.size();
    dirty = dirty || !changes.empty();

    if (synced && !stats_.synced)
      log::info("informers synced", {{"pods", std::to_string(state.pod_count())}});
    stats_.synced = synced;
    // Every replica keeps the history, so a new leader goes on from its own (wall clock: the
    // history is persisted in Queue status and must mean the same after a restart). At most
    // once a second: the loop may wake far more often, and a half-life is hours.
    if (synced && std::chrono::steady_clock::now() - last_usage >= kUsagePeriod) {
      last_usage = std::chrono::steady_clock::now();
      state.advance_usage(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
    }
    if (utilization && synced) utilization->refresh(state, std::chrono::steady_clock::now());
    const bool leading = may_write();
    if (stats_.leader && !leading) {
      // Writes decided in the lost term may never have gone out (fenced): explain and publish
      // afresh when leading again rather than trust what this replica remembers writing.
      explanations.forget_all();
      status_written.clear();
      inferred_writes.asked.clear();
    }
    stats_.leader = leading;
    if (status_due && may_write() &&
        std::chrono::steady_clock::now() - last_status >= kStatusPeriod) {
      last_status = std::chrono::steady_clock::now();
      std::erase_if(placements, [&state](const auto& entry) {
        return state.find_pod_group(entry.first) == nullptr;
      });
      publish_status(state, *status_due, placements, status_written, queue_warnings_logged,
                     actuator);
      status_due.reset();
    }
    if (synced && may_write() && !changes.empty()) {
      reservations.observe(state);
      reservations.reconcile(state);
    }
    if (synced && may_write()) {
      const uint64_t passes = eviction_stats_.passes.load();
      const auto plan_start = std::chrono::steady_clock::now();
      preemption.maybe_run(state);
      if (eviction_stats_.passes.load() != passes) {
        plan_time = std::chrono::steady_clock::now() - plan_start;
      }
    }
    if (!dirty || !synced || !may_write()) continue;
    if (std::chrono::steady_clock::now() < last_cycle + options_.schedule_period) continue;

    last_cycle = std::chrono::steady_clock::now();
    dirty = false;
    CycleResult result = run_cycle(state, preemption.cycle_options(cycle_options));
    ++stats_.cycles;
    const auto bind_start = std::chrono::steady_clock::now();
    assume_all(state, result);
    stats_.pods_bound += result.bindings.size();
    if (!result.bindings.empty() || !result.pending.empty()) {
      log::debug("cycle", {{"bound", std::to_string(result.bindings.size())},
                           {"pending_jobs", std::to_string(result.pending.size())}});
    }
    for (Binding& binding : result.bindings) {
      explanations.placed(binding);
      if (!binding.shares.empty()) {
        reservations.submit(std::move(binding), state);  // reservation pod, ConfigMap, bind
      } else {
        actuator.bind(std::move(binding));
      }
    }
    metrics_.observe_cycle(result,
                           {.snapshot = snapshot_time,
                            .fairshare = std::chrono::nanoseconds(result.stats.fairshare_ns),
                            .allocate = std::chrono::nanoseconds(result.stats.allocate_ns),
                            .plan = plan_time,
                            .bind = std::chrono::steady_clock::now() - bind_start});
    snapshot_time = std::chrono::nanoseconds(0);
    plan_time = std::chrono::nanoseconds(-1);
    explanations.publish(result.pending, state);
    for (PlacementQuality& quality : result.placements) {
      std::string job = quality.job;
      placements.insert_or_assign(std::move(job), std::move(quality));
    }
    publish_inferred_groups(state, inferred_writes, actuator, std::chrono::steady_clock::now());
    result.bindings.clear();  // handed to the actuator already
    status_due = std::move(result);
    explanations.prune(state);
  }

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
  preemption.stop();
  actuator.stop();
  reservations.stop();
  leadership.release();  // stops writing; the elector releases the Lease
  writer_client.stop();
  lease_client.stop();
  informers.request_stop();
  client.stop();
  informers.join();
  metrics_.remove_sources(kInformerSources);
  return 0;
}

}  // namespace fairway
