#include "sim/apiserver/faults.h"

#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {

Faults::Faults() : rng_(std::random_device{}()) {}

FaultDecision Faults::decide(std::string_view target) {
  std::lock_guard lock(mu_);
  FaultDecision d;
  d.delay_ms = s_.delay_ms;
  if (d.delay_ms > 0) ++counters_.delayed;
  if (!s_.path_contains.empty() && target.find(s_.path_contains) == std::string_view::npos) {
    return d;
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (s_.reset_next > 0 || (s_.reset_fraction > 0 && unit(rng_) < s_.reset_fraction)) {
    if (s_.reset_next > 0) --s_.reset_next;
    ++counters_.reset;
    d.action = FaultDecision::Action::kReset;
    return d;
  }
  if (s_.fail_next > 0 || (s_.fail_fraction > 0 && unit(rng_) < s_.fail_fraction)) {
    if (s_.fail_next > 0) --s_.fail_next;
    ++counters_.failed;
    d.action = FaultDecision::Action::kFail;
    d.code = s_.fail_code;
    d.retry_after_seconds = s_.retry_after_seconds;
  }
  return d;
}

FaultSettings Faults::settings() const {
  std::lock_guard lock(mu_);
  return s_;
}

void Faults::set(const FaultSettings& settings) {
  std::lock_guard lock(mu_);
  s_ = settings;
}

void Faults::fail_next(int n, int code, int retry_after_seconds) {
  std::lock_guard lock(mu_);
  s_.fail_next = n;
  s_.fail_code = code;
  s_.retry_after_seconds = retry_after_seconds;
}

void Faults::fail_fraction(double fraction, int code, int retry_after_seconds) {
  std::lock_guard lock(mu_);
  s_.fail_fraction = fraction;
  s_.fail_code = code;
  s_.retry_after_seconds = retry_after_seconds;
}

void Faults::delay(int ms) {
  std::lock_guard lock(mu_);
  s_.delay_ms = ms;
}

void Faults::reset_next(int n) {
  std::lock_guard lock(mu_);
  s_.reset_next = n;
}

void Faults::drop_watches_every(int seconds) {
  std::lock_guard lock(mu_);
  s_.drop_watches_every_seconds = seconds;
}

void Faults::count_dropped_watches(size_t n) {
  std::lock_guard lock(mu_);
  counters_.watches_dropped += n;
}

FaultCounters Faults::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

nlohmann::json Faults::to_json() const {
  std::lock_guard lock(mu_);
  return {{"failNext", s_.fail_next},
          {"failFraction", s_.fail_fraction},
          {"failCode", s_.fail_code},
          {"retryAfterSeconds", s_.retry_after_seconds},
          {"delayMs", s_.delay_ms},
          {"resetNext", s_.reset_next},
          {"resetFraction", s_.reset_fraction},
          {"dropWatchesEverySeconds", s_.drop_watches_every_seconds},
          {"pathContains", s_.path_contains},
          {"counters",
           {{"failed", counters_.failed},
            {"reset", counters_.reset},
            {"delayed", counters_.delayed},
            {"watchesDropped", counters_.watches_dropped}}}};
}

tl::expected<void, std::string> Faults::update_from_json(const nlohmann::json& body) {
  if (!body.is_object()) return tl::unexpected(std::string("the body must be a JSON object"));
  FaultSettings next = flag(body, "clear", false) ? FaultSettings{} : settings();
  const auto read_int = [&](const char* key, int& out, int lo, int hi) -> bool {
    const nlohmann::json& v = member(body, key);
    if (v.is_null()) return true;
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) return false;
    out = static_cast<int>(v.get<int64_t>());
    return true;
  };
  const auto read_fraction = [&](const char* key, double& out) -> bool {
    const nlohmann::json& v = member(body, key);
    if (v.is_null()) return true;
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) return false;
    out = v.get<double>();
    return true;
  };
  if (!read_int("failNext", next.fail_next, 0, 1'000'000))
    return tl::unexpected(std::string("failNext: 0..1000000"));
  if (!read_fraction("failFraction", next.fail_fraction))
    return tl::unexpected(std::string("failFraction: 0..1"));
  if (!read_int("failCode", next.fail_code, 400, 599))
    return tl::unexpected(std::string("failCode: 400..599"));
  if (!read_int("retryAfterSeconds", next.retry_after_seconds, 0, 3600))
    return tl::unexpected(std::string("retryAfterSeconds: 0..3600"));
  if (!read_int("delayMs", next.delay_ms, 0, 600'000))
    return tl::unexpected(std::string("delayMs: 0..600000"));
  if (!read_int("resetNext", next.reset_next, 0, 1'000'000))
    return tl::unexpected(std::string("resetNext: 0..1000000"));
  if (!read_fraction("resetFraction", next.reset_fraction))
    return tl::unexpected(std::string("resetFraction: 0..1"));
  if (!read_int("dropWatchesEverySeconds", next.drop_watches_every_seconds, 0, 86'400)) {
    return tl::unexpected(std::string("dropWatchesEverySeconds: 0..86400"));
  }
  if (const nlohmann::json& v = member(body, "pathContains"); !v.is_null()) {
    if (!v.is_string()) return tl::unexpected(std::string("pathContains: a string"));
    next.path_contains = v.get<std::string>();
  }
  set(next);
  return {};
}

}  // namespace fairway::apiserver
