#pragma once
// Preflight: what fairway needs from the cluster besides itself, checked at start, every
// re-check while something is missing, in /readyz, and by `fairway doctor` (docs/operations.md,
// "Troubleshooting"). Two halves:
//
//  - evaluate(): pure, from what was read (ClusterFacts) to one row per check (PASS/FAIL, the
//    detail, and the fix for a failure);
//  - read_cluster_facts(): the thin reader over a RestClient (discovery and a few GETs). With
//    `create_missing`, it creates the reservation namespace and PriorityClass as the chart would,
//    where RBAC allows: a 403 is the answer "no", reported with the fix.
//
// A check is `required` when fairway cannot schedule without it (the CRDs; the Lease namespace
// with --leader-elect): /readyz answers 503 then. The others only disable a feature (fractional
// GPUs; the webhook): /readyz stays 200 and names them, and fractional pods are told what is
// missing (reservation_blocker()) instead of being retried against a 404 or 403 for ever.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "k8s-client/rest_client.h"
#include "scheduler/service/reservations.h"
#include "scheduler/state/clock.h"

namespace fairway {

// Where one object stands, from a GET (or a create) of it.
struct Lookup {
  enum class State { kUnchecked, kFound, kCreated, kMissing, kForbidden, kError };
  State state = State::kUnchecked;
  std::string error;  // kForbidden, kError: the server's words (never raw JSON)
  // kMissing: fairway tried to create it and was refused with this (e.g. 403 Forbidden).
  std::string create_error;
};

struct PreflightConfig {
  bool leader_elect = true;
  std::string lease_namespace = "fairway-system";
  ReservationOptions reservations;
  bool webhook_enabled = false;
  std::string scheduler_name = "fairway";
};

struct ClusterFacts {
  Lookup lease_namespace;
  // Discovery of scheduling.fairway.dev/v1alpha1: the resources it serves (plural names).
  Lookup fairway_group;
  std::vector<std::string> served_resources;
  Lookup reservation_namespace;
  Lookup reservation_priority_class;
  Lookup reservation_service_account;
  // The MutatingWebhookConfigurations whose webhooks fairway serves (named *.fairway.dev).
  Lookup webhook_configurations;
  std::vector<std::string> fairway_webhooks;  // "CONFIG/WEBHOOK"
};

struct CheckResult {
  std::string name{};  // e.g. "crd/queues"
  bool pass = false;
  bool required = false;
  bool created = false;  // fairway created the missing object in this check
  bool missing = false;  // the object is known not to exist (not merely unreadable)
  std::string detail{};
  std::string fix{};  // for a failure: the command or change that fixes it
};

// The CRDs fairway needs, by plural name of scheduling.fairway.dev/v1alpha1.
inline const std::vector<std::string>& fairway_crd_resources() {
  static const std::vector<std::string> kResources = {"queues", "podgroups", "topologies"};
  return kResources;
}

std::vector<CheckResult> evaluate(const PreflightConfig& config, const ClusterFacts& facts);

// The failed checks that stop fractional GPU pods, as one sentence for their condition and
// Event; empty when they can be placed.
std::string reservation_blocker(const std::vector<CheckResult>& results);
// /readyz: 503 when a required check failed; the body names every failed check.
bool required_checks_pass(const std::vector<CheckResult>& results);

ClusterFacts read_cluster_facts(k8s::RestClient& client, const PreflightConfig& config,
                                bool create_missing);

// The doctor's table: CHECK, STATUS, DETAIL, FIX, columns aligned as kubectl aligns its own.
std::string render_checks(const std::vector<CheckResult>& results);

// The scheduler's side: checks at start, then again every `recheck` while a check fails (every
// 10 rechecks when all pass, so a namespace deleted later is noticed), logging each failure
// when it first appears or changes. Reading only: the reservation namespace and PriorityClass
// are created the first time a fractional pod needs them (reservation_blocker()), by the leader
// (`may_create()`; a standby writes nothing), at most once per `recheck`; so a cluster without
// fractional pods gets nothing it does not use, and an install whose RBAC forbids it (the
// chart's: it creates them itself) sees one refused create per period, not one per pod.
class PreflightMonitor {
 public:
  PreflightMonitor(k8s::RestClient& client, PreflightConfig config,
                   std::function<bool()> may_create,
                   std::chrono::milliseconds recheck = std::chrono::seconds(30),
                   const Clock& clock = SystemClock::instance());
  ~PreflightMonitor();
  PreflightMonitor(const PreflightMonitor&) = delete;
  PreflightMonitor& operator=(const PreflightMonitor&) = delete;

  // Checks once now (the start), then keeps checking on a thread of its own.
  void start();
  void stop();
  // What the monitor's thread does once per recheck period: checks again while something
  // fails, and every tenth period anyway. Tests call it by hand instead of waiting.
  void recheck();
  std::vector<CheckResult> results() const;
  // Why fractional pods cannot be placed now (empty: they can); first creates what is missing
  // where it may. Called by the reservation workers.
  std::string reservation_blocker();

 private:
  void check(bool create_missing);
  void loop(std::stop_token stop);

  k8s::RestClient& client_;
  PreflightConfig config_;
  std::function<bool()> may_create_;
  std::chrono::milliseconds recheck_;
  const Clock& clock_;
  int quiet_ = 0;  // periods since the last check while all passed; recheck()'s caller only
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::vector<CheckResult> results_;  // under mutex_
  Clock::time_point last_create_{};   // under mutex_
  std::mutex check_mutex_;  // one check at a time (the monitor's thread, a reservation worker)
  std::vector<std::string> reported_;  // the failures last logged; under check_mutex_
  std::jthread thread_;
};

}  // namespace fairway
