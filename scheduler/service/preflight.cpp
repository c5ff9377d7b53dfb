#include "scheduler/service/preflight.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <string_view>

#include "k8s-client/api_error.h"
#include "scheduler/service/log.h"

namespace fairway {
namespace {

using State = Lookup::State;
using Response = tl::expected<k8s::Response, k8s::TransportError>;

constexpr const char* kFairwayGroupVersion = "scheduling.fairway.dev/v1alpha1";
constexpr std::string_view kFractional = "fractional GPU pods cannot be placed";
constexpr const char* kCrdFix =
    "kubectl apply -f charts/fairway/crds/ (helm install installs them)";

Lookup lookup_from(const Response& response) {
  Lookup out;
  if (response && response->ok()) {
    out.state = State::kFound;
  } else if (response && response->status == 404) {
    out.state = State::kMissing;
  } else {
    out.state = response && response->status == 403 ? State::kForbidden : State::kError;
    out.error = k8s::describe_api_error(response);
  }
  return out;
}

// GETs `path`; when missing and `create` is given, POSTs it to `collection`: 201 (or a 409 from a
// racing replica) is kCreated, a refusal (403 Forbidden when RBAC says no) stays kMissing with
// the server's words.
Lookup get_or_create(k8s::RestClient& client, const std::string& path,
                     const std::string& collection, const nlohmann::json* create) {
  Lookup out = lookup_from(client.get(path));
  if (out.state != State::kMissing || create == nullptr) return out;
  // fieldManager names who created it, as kubectl's "kubectl-create" does.
  const Response created =
      client.request("POST", collection + "?fieldManager=fairway", create->dump());
  if (created && (created->ok() || created->status == 409)) {
    out.state = State::kCreated;
  } else {
    out.create_error = k8s::describe_api_error(created);
  }
  return out;
}

// object[outer][inner] when it is a string; "" for anything else (odd input is not a crash).
std::string string_member(const nlohmann::json& object, const char* outer, const char* inner) {
  const auto it = object.find(outer);
  if (it == object.end() || !it->is_object()) return {};
  const auto value = it->find(inner);
  return value != it->end() && value->is_string() ? value->get<std::string>() : std::string();
}

bool present(const Lookup& lookup) {
  return lookup.state == State::kFound || lookup.state == State::kCreated;
}

// The common rows: PASS when present, else the detail for what was seen and `fix`.
CheckResult object_check(std::string name, const Lookup& lookup, const std::string& what,
                         const std::string& consequence, std::string fix) {
  CheckResult row{.name = std::move(name)};
  row.pass = present(lookup);
  switch (lookup.state) {
    case State::kFound:
      row.detail = what + " exists";
      return row;
    case State::kCreated:
      row.created = true;
      row.detail = what + " created by fairway";
      return row;
    case State::kMissing:
      row.missing = true;
      row.detail = what + " not found";
      if (!lookup.create_error.empty())
        row.detail += "; fairway may not create it (" + lookup.create_error + ")";
      break;
    case State::kForbidden:
      row.detail = "cannot read " + what + ": " + lookup.error;
      break;
    case State::kError:
      row.detail = "cannot read " + what + ": " + lookup.error;
      break;
    case State::kUnchecked:
      row.detail = what + " not checked";
      break;
  }
  if (!consequence.empty()) row.detail += ": " + consequence;
  row.fix = std::move(fix);
  return row;
}

void add_crd_checks(const ClusterFacts& facts, std::vector<CheckResult>& rows) {
  for (const std::string& resource : fairway_crd_resources()) {
    CheckResult row{.name = "crd/" + resource, .required = true};
    const bool served = std::find(facts.served_resources.begin(), facts.served_resources.end(),
                                  resource) != facts.served_resources.end();
    if (facts.fairway_group.state == State::kFound && served) {
      row.pass = true;
      row.detail = fmt::format("{} {} served", kFairwayGroupVersion, resource);
    } else if (facts.fairway_group.state == State::kFound ||
               facts.fairway_group.state == State::kMissing) {
      row.detail = fmt::format("{} {} not served (CRD {}.scheduling.fairway.dev not installed)",
                               kFairwayGroupVersion, resource, resource);
      row.fix = kCrdFix;
    } else {
      row.detail = fmt::format("cannot read discovery of {}: {}", kFairwayGroupVersion,
                               facts.fairway_group.error);
      row.fix = "grant get on the discovery endpoints (system:discovery) and check the server";
    }
    rows.push_back(std::move(row));
  }
}

CheckResult webhook_check(const PreflightConfig& config, const ClusterFacts& facts) {
  CheckResult row{.name = "webhook"};
  if (!config.webhook_enabled) {
    row.pass = true;
    row.detail = "admission webhook not served by this scheduler: nothing to register";
    return row;
  }
  if (!facts.fairway_webhooks.empty()) {
    row.pass = true;
    std::string names;
    for (const std::string& name : facts.fairway_webhooks)
      names += (names.empty() ? "" : ", ") + name;
    row.detail = "MutatingWebhookConfiguration registers " + names;
    return row;
  }
  if (facts.webhook_configurations.state == State::kFound) {
    row.detail =
        "no MutatingWebhookConfiguration has a *.fairway.dev webhook: fractional GPU pods are "
        "not wired to their reservation";
  } else {
    row.detail = "cannot list MutatingWebhookConfigurations: " + facts.webhook_configurations.error;
  }
  row.fix =
      "install the chart's templates/webhook.yaml (helm upgrade --install), or run the scheduler "
      "with --webhook-bind-address=0";
  return row;
}

}  // namespace

std::vector<CheckResult> evaluate(const PreflightConfig& config, const ClusterFacts& facts) {
  std::vector<CheckResult> rows;
  const std::string lease_ns = config.lease_namespace;
  if (config.leader_elect) {
    CheckResult lease = object_check(
        "lease-namespace", facts.lease_namespace, "namespace " + lease_ns,
        "with --leader-elect fairway stays standby until it exists",
        fmt::format("kubectl create namespace {} (or --leader-elect-resource-namespace, "
                    "or --leader-elect=false with one replica)",
                    lease_ns));
    lease.required = true;
    rows.push_back(std::move(lease));
  } else {
    rows.push_back({.name = "lease-namespace",
                    .pass = true,
                    .detail = "leader election off (--leader-elect=false): no Lease"});
  }
  add_crd_checks(facts, rows);

  const ReservationOptions& r = config.reservations;
  const std::string fractional(kFractional);
  rows.push_back(object_check(
      "reservation-namespace", facts.reservation_namespace, "namespace " + r.namespace_, fractional,
      fmt::format("kubectl create namespace {} (the chart creates it: reservation.createNamespace)",
                  r.namespace_)));
  if (r.priority_class.empty()) {
    rows.push_back({.name = "reservation-priorityclass",
                    .pass = true,
                    .detail = "no PriorityClass for reservation pods (--reservation-priority-class "
                              "is empty)"});
  } else {
    rows.push_back(object_check("reservation-priorityclass", facts.reservation_priority_class,
                                "PriorityClass " + r.priority_class, fractional,
                                fmt::format("kubectl create priorityclass {} --value=1000000000 "
                                            "--preemption-policy=Never (the chart creates it: "
                                            "reservation.priorityClass.create)",
                                            r.priority_class)));
  }
  rows.push_back(object_check(
      "reservation-serviceaccount", facts.reservation_service_account,
      fmt::format("ServiceAccount {}/{}", r.namespace_, r.service_account), fractional,
      fmt::format("install the chart's templates/reservation.yaml (the ServiceAccount and the "
                  "Role that lets the agent annotate its pod), or kubectl create serviceaccount "
                  "{} -n {}",
                  r.service_account, r.namespace_)));
  rows.push_back(webhook_check(config, facts));
  return rows;
}

std::string reservation_blocker(const std::vector<CheckResult>& results) {
  std::string missing;
  for (const CheckResult& row : results) {
    // Only what is known to be missing blocks: a check that could not read (403 on a GET,
    // a timeout) must not stop pods that may well be placeable.
    if (row.pass || !row.missing || !row.name.starts_with("reservation-")) continue;
    std::string_view detail = row.detail;
    if (detail.ends_with(kFractional)) detail.remove_suffix(kFractional.size() + 2);  // ": "
    missing += (missing.empty() ? "" : "; ") + std::string(detail);
  }
  if (missing.empty()) return {};
  return std::string(kFractional) + ": " + missing;
}

bool required_checks_pass(const std::vector<CheckResult>& results) {
  return std::all_of(results.begin(), results.end(),
                     [](const CheckResult& row) { return row.pass || !row.required; });
}

ClusterFacts read_cluster_facts(k8s::RestClient& client, const PreflightConfig& config,
                                bool create_missing) {
  ClusterFacts facts;
  if (config.leader_elect) {
    facts.lease_namespace = lookup_from(client.get("/api/v1/namespaces/" + config.lease_namespace));
  }
  const Response discovery = client.get(std::string("/apis/") + kFairwayGroupVersion);
  facts.fairway_group = lookup_from(discovery);
  if (facts.fairway_group.state == State::kFound) {
    const auto list = nlohmann::json::parse(discovery->body, nullptr, false);
    if (list.is_object() && list.contains("resources") && list["resources"].is_array()) {
      for (const auto& resource : list["resources"]) {
        if (resource.is_object() && resource.contains("name") && resource["name"].is_string())
          facts.served_resources.push_back(resource["name"].get<std::string>());
      }
    }
  }

  const ReservationOptions& r = config.reservations;
  // What the chart's templates/reservation.yaml creates, for the two fairway may create itself.
  const nlohmann::json ns_body = {
      {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", r.namespace_}}}};
  const nlohmann::json pc_body = {
      {"apiVersion", "scheduling.k8s.io/v1"},
      {"kind", "PriorityClass"},
      {"metadata", {{"name", r.priority_class}}},
      {"value", 1000000000},
      {"preemptionPolicy", "Never"},
      {"globalDefault", false},
      {"description", "fairway GPU reservation pods (one per shared GPU)."}};
  facts.reservation_namespace =
      get_or_create(client, "/api/v1/namespaces/" + r.namespace_, "/api/v1/namespaces",
                    create_missing ? &ns_body : nullptr);
  if (!r.priority_class.empty()) {
    facts.reservation_priority_class = get_or_create(
        client, "/apis/scheduling.k8s.io/v1/priorityclasses/" + r.priority_class,
        "/apis/scheduling.k8s.io/v1/priorityclasses", create_missing ? &pc_body : nullptr);
  }
  facts.reservation_service_account = lookup_from(client.get(
      fmt::format("/api/v1/namespaces/{}/serviceaccounts/{}", r.namespace_, r.service_account)));

  if (config.webhook_enabled) {
    const Response configs =
        client.get("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations");
    facts.webhook_configurations = lookup_from(configs);
    if (facts.webhook_configurations.state == State::kFound) {
      const auto list = nlohmann::json::parse(configs->body, nullptr, false);
      const auto items =
          list.is_object() ? list.value("items", nlohmann::json::array()) : nlohmann::json::array();
      for (const auto& item : items) {
        if (!item.is_object() || !item.contains("webhooks") || !item["webhooks"].is_array())
          continue;
        const std::string config_name = string_member(item, "metadata", "name");
        for (const auto& webhook : item["webhooks"]) {
          if (!webhook.is_object() || !webhook.contains("name") || !webhook["name"].is_string())
            continue;
          const std::string name = webhook["name"].get<std::string>();
          if (name.ends_with(".fairway.dev"))
            facts.fairway_webhooks.push_back(config_name + "/" + name);
        }
      }
    }
  }
  return facts;
}

std::string render_checks(const std::vector<CheckResult>& results) {
  std::vector<std::array<std::string, 4>> table = {{"CHECK", "STATUS", "DETAIL", "FIX"}};
  for (const CheckResult& row : results) {
    table.push_back({row.name, row.pass ? "PASS" : "FAIL", row.detail, row.pass ? "" : row.fix});
  }
  std::array<size_t, 4> widths{};
  for (const auto& line : table) {
    for (size_t i = 0; i < 4; ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::string out;
  for (const auto& line : table) {
    std::string text;
    for (size_t i = 0; i < 4; ++i) {
      text += line[i];
      if (i < 3) text += std::string(widths[i] - line[i].size() + 3, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  }
  return out;
}

PreflightMonitor::PreflightMonitor(k8s::RestClient& client, PreflightConfig config,
                                   std::function<bool()> may_create,
                                   std::chrono::milliseconds recheck, const Clock& clock)
    : client_(client),
      config_(std::move(config)),
      may_create_(std::move(may_create)),
      recheck_(recheck),
      clock_(clock) {}

PreflightMonitor::~PreflightMonitor() {
  stop();
}

void PreflightMonitor::start() {
  check(false);
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

void PreflightMonitor::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  {
    std::lock_guard lock(mutex_);  // the thread is waiting, or has not yet looked at the token
  }
  wake_.notify_all();
  thread_.join();
}

std::vector<CheckResult> PreflightMonitor::results() const {
  std::lock_guard lock(mutex_);
  return results_;
}

std::string PreflightMonitor::reservation_blocker() {
  {
    std::lock_guard lock(mutex_);
    std::string why = fairway::reservation_blocker(results_);
    const auto now = clock_.now();
    const bool may_try = last_create_ == Clock::time_point{} || now - last_create_ >= recheck_;
    if (why.empty() || !may_try || !may_create_ || !may_create_()) return why;
    last_create_ = now;
  }
  check(true);
  std::lock_guard lock(mutex_);
  return fairway::reservation_blocker(results_);
}

void PreflightMonitor::check(bool create_missing) {
  std::lock_guard serial(check_mutex_);
  auto results = evaluate(config_, read_cluster_facts(client_, config_, create_missing));
  std::vector<std::string> failures;
  for (const CheckResult& row : results) {
    if (row.created) log::info("preflight: created", {{"check", row.name}, {"detail", row.detail}});
    if (row.pass) continue;
    failures.push_back(row.name + ": " + row.detail);
    if (std::find(reported_.begin(), reported_.end(), failures.back()) == reported_.end()) {
      log::warn("preflight check failed", {{"check", row.name},
                                           {"required", row.required ? "true" : "false"},
                                           {"detail", row.detail},
                                           {"fix", row.fix}});
    }
  }
  if (failures.empty() && !reported_.empty()) log::info("preflight checks pass", {});
  reported_ = std::move(failures);
  std::lock_guard lock(mutex_);
  results_ = std::move(results);
}

void PreflightMonitor::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      wait_until(clock_, wake_, lock, clock_.now() + recheck_,
                 [&] { return stop.stop_requested(); });
    }
    if (stop.stop_requested()) return;
    recheck();
  }
}

void PreflightMonitor::recheck() {
  bool failing = false;
  {
    std::lock_guard lock(mutex_);
    failing = !std::all_of(results_.begin(), results_.end(),
                           [](const CheckResult& row) { return row.pass; });
  }
  if (!failing && ++quiet_ < 10) return;
  quiet_ = 0;
  check(false);
}

}  // namespace fairway
