#include "k8s-client/leader_election.h"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>

#include "k8s-client/api_error.h"
#include "k8s-client/objects.h"

namespace fairway::k8s {
namespace {

using nlohmann::json;

std::string now_micro_time(const Clock& clock) {
  return format_rfc3339(clock.wall_ms(), true);  // metav1.MicroTime
}

// A period stretched by up to 20%, like client-go's wait.JitterUntil(…, 1.2, …) — spreads
// replicas that start together.
std::chrono::milliseconds jittered(std::chrono::milliseconds period) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double factor = 1.0 + 0.2 * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(period.count()) * factor));
}

std::string string_or_empty(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t int_or_zero(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

// The lease record as last seen, and when (on our clock) it last changed.
struct LeaderElector::Observed {
  std::string holder;
  std::string renew_time;
  int64_t transitions = 0;
  int64_t duration_seconds = 0;
  Clock::time_point changed_at{};

  // When another holder's lease runs out on our clock (time_point{} when nobody else holds it).
  Clock::time_point expires(const std::string& us) const {
    if (holder.empty() || holder == us || duration_seconds <= 0) return {};
    return changed_at + std::chrono::seconds(duration_seconds);
  }
};

LeaderElector::LeaderElector(RestClient& client, LeaderElectionConfig config,
                             std::function<void()> on_started_leading,
                             std::function<void()> on_stopped_leading)
    : client_(client),
      config_(std::move(config)),
      on_started_(std::move(on_started_leading)),
      on_stopped_(std::move(on_stopped_leading)) {}

const Clock& LeaderElector::clock() const {
  return config_.clock != nullptr ? *config_.clock : SystemClock::instance();
}

Clock::time_point LeaderElector::now() const {
  return clock().now();
}

int64_t LeaderElector::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(now().time_since_epoch()).count();
}

bool LeaderElector::is_leader() const {
  if (!leader_.load()) return false;
  const int64_t age = now_ns() - renewed_at_ns_.load();
  return age < std::chrono::duration_cast<std::chrono::nanoseconds>(config_.renew_deadline).count();
}

void LeaderElector::set_leader(bool leader) {
  leader_.store(leader);
}

void LeaderElector::problem(const std::string& warning) {
  if (!config_.on_problem) return;
  const auto at = now();
  if (warning == last_problem_ && last_problem_at_ != Clock::time_point{} &&
      at - last_problem_at_ < config_.problem_interval) {
    return;
  }
  last_problem_ = warning;
  last_problem_at_ = at;
  config_.on_problem(warning);
}

bool LeaderElector::try_acquire_or_renew(Observed& observed) {
  const std::string collection =
      fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases", config_.lease_namespace);
  const std::string path = collection + "/" + config_.lease_name;
  const std::string renew_time = now_micro_time(clock());
  const int64_t duration = config_.lease_duration.count();

  auto current = client_.get(path);
  if (!current) return false;
  if (current->status == 404) {
    const json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", duration},
          {"acquireTime", renew_time},
          {"renewTime", renew_time},
          {"leaseTransitions", 0}}},
    };
    auto created = client_.request("POST", collection, lease.dump());
    if (created && (created->status == 404 || created->status == 403)) {
      // Waiting changes nothing here: the namespace is missing (kube-apiserver answers 404
      // "namespaces \"fairway-system\" not found"), or RBAC refuses. Say so, or a replica
      // stays standby for ever without a word.
      problem(fmt::format(
          "cannot create the leader election Lease {}/{}: {}; this replica stays standby until "
          "it can ({})",
          config_.lease_namespace, config_.lease_name, describe_api_error(created),
          created->status == 404
              ? fmt::format("create the namespace: kubectl create namespace {}, or set "
                            "--leader-elect-resource-namespace, or run with --leader-elect=false",
                            config_.lease_namespace)
              : "grant the scheduler's ServiceAccount create/get/update on "
                "coordination.k8s.io leases in that namespace"));
    }
    if (!created || !created->ok()) return false;  // 409: another replica created it first
    observed = Observed{config_.identity, renew_time, 0, duration, now()};
    return true;
  }
  if (!current->ok()) {
    if (current->status == 403 || current->status == 401) {
      problem(fmt::format("cannot read the leader election Lease {}/{}: {}",
                          config_.lease_namespace, config_.lease_name,
                          describe_api_error(current)));
    }
    return false;
  }
  json lease = json::parse(current->body, nullptr, false);
  if (lease.is_discarded() || !lease.is_object()) return false;
  json& spec = lease["spec"];
  if (!spec.is_object()) spec = json::object();
  Observed seen{string_or_empty(spec, "holderIdentity"),
                string_or_empty(spec, "renewTime"),
                int_or_zero(spec, "leaseTransitions"),
                int_or_zero(spec, "leaseDurationSeconds"),
                {}};
  // Expiry is judged from when WE saw the record last change, not from its renewTime: the
  // replicas' clocks need not agree.
  if (seen.holder != observed.holder || seen.renew_time != observed.renew_time ||
      observed.changed_at == Clock::time_point{}) {
    seen.changed_at = now();
    observed = seen;
  }
  const bool ours = seen.holder == config_.identity;
  const auto held_for =
      std::chrono::seconds(seen.duration_seconds > 0 ? seen.duration_seconds : duration);
  if (!seen.holder.empty() && !ours && now() < observed.changed_at + held_for) {
    return false;  // someone else holds a live lease
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = duration;
  spec["renewTime"] = renew_time;
  if (!ours || !spec.contains("acquireTime") || spec["acquireTime"].is_null()) {
    spec["acquireTime"] = renew_time;
  }
  spec["leaseTransitions"] = ours ? seen.transitions : seen.transitions + 1;
  // The resourceVersion read above stays in metadata: the PUT fails with 409 if anyone wrote
  // in between.
  auto updated = client_.request("PUT", path, lease.dump());
  if (!updated || !updated->ok()) return false;
  observed = Observed{config_.identity, renew_time, spec["leaseTransitions"].get<int64_t>(),
                      duration, now()};
  return true;
}

void LeaderElector::release() {
  const std::string path = fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}",
                                       config_.lease_namespace, config_.lease_name);
  auto current = client_.get(path);
  if (!current || !current->ok()) return;
  json lease = json::parse(current->body, nullptr, false);
  if (lease.is_discarded() || !lease.is_object() || !lease["spec"].is_object()) return;
  json& spec = lease["spec"];
  if (string_or_empty(spec, "holderIdentity") != config_.identity) return;
  // As client-go's ReleaseOnCancel: empty holder, 1 s duration, so a successor need not wait.
  const std::string now = now_micro_time(clock());
  spec.erase("holderIdentity");
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = now;
  spec["acquireTime"] = now;
  client_.request("PUT", path, lease.dump());
}

// A standby looks at the Lease four times per retry period (client-go: once), so the holder's
// last renewal is seen within a quarter period of happening, and tries again the moment that
// lease runs out instead of at its next tick: a dead leader is replaced about lease_duration
// after its last renewal. Leaders renew once per retry period, as in client-go.
void LeaderElector::run(std::stop_token stop) {
  Observed observed;
  const auto look_period =
      std::max(std::chrono::milliseconds(50),
               std::chrono::duration_cast<std::chrono::milliseconds>(config_.retry_period) / 4);
  while (!stop.stop_requested()) {
    // Acquire.
    for (;;) {
      // The renewal is dated from before the request: the lease runs from the renewTime we send.
      const int64_t attempt_ns = now_ns();
      if (try_acquire_or_renew(observed)) {
        renewed_at_ns_.store(attempt_ns);
        break;
      }
      auto wait = jittered(look_period);
      // Wake when a live lease runs out (one that already has is tried at the normal pace, so
      // failing requests are not hammered).
      if (const auto expiry = observed.expires(config_.identity); expiry > now()) {
        wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(expiry - now()));
      }
      if (!sleep_unless_stopped(clock(), stop, wait)) break;
    }
    if (stop.stop_requested()) break;
    set_leader(true);
    if (on_started_) on_started_();

    // Renew every retry_period; give up once renew_deadline passes without a success.
    bool lost = false;
    while (!stop.stop_requested()) {
      if (!sleep_unless_stopped(clock(), stop, config_.retry_period)) {
        break;
      }
      const int64_t attempt_ns = now_ns();
      if (try_acquire_or_renew(observed)) {
        renewed_at_ns_.store(attempt_ns);
        continue;
      }
      const int64_t since = now_ns() - renewed_at_ns_.load();
      if (since >=
          std::chrono::duration_cast<std::chrono::nanoseconds>(config_.renew_deadline).count()) {
        lost = true;
        break;
      }
    }
    set_leader(false);
    if (!lost) release();  // stopping while leader
    if (on_stopped_) on_stopped_();
  }
}

}  // namespace fairway::k8s
