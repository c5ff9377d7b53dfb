#pragma once
// Fault injection switches for reliability tests: fail requests (410 / 429 with Retry-After /
// 500), delay responses, reset connections, drop open watches (now or every N seconds) and
// compact the history so older resourceVersions get 410. Settable from C++ and over HTTP
// (POST /fairway-sim/faults, bearer token required). Only /api and /apis requests are affected.

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace fairway::apiserver {

struct FaultSettings {
  int fail_next = 0;                   // fail this many requests, then stop
  double fail_fraction = 0;            // fail this fraction of requests (0..1)
  int fail_code = 500;                 // 410, 429 or 500 (any 4xx/5xx accepted)
  int retry_after_seconds = 1;         // Retry-After on 429 and 5xx
  int delay_ms = 0;                    // delay every response by this much
  int reset_next = 0;                  // reset (TCP RST) this many connections' requests
  double reset_fraction = 0;           // reset this fraction of requests
  int drop_watches_every_seconds = 0;  // 0: off
  // Non-empty: failures and resets hit only requests whose target contains this text (e.g.
  // "/eviction"); delays still hit every request.
  std::string path_contains;
};

struct FaultDecision {
  enum class Action { kNone, kFail, kReset } action = Action::kNone;
  int code = 0;
  int retry_after_seconds = 0;
  int delay_ms = 0;
};

struct FaultCounters {
  uint64_t failed = 0;
  uint64_t reset = 0;
  uint64_t delayed = 0;
  uint64_t watches_dropped = 0;
};

class Faults {
 public:
  Faults();
  // Decides what happens to one request (consumes fail_next / reset_next).
  FaultDecision decide(std::string_view target = {});

  FaultSettings settings() const;
  void set(const FaultSettings& settings);
  void clear() { set(FaultSettings{}); }
  void fail_next(int n, int code, int retry_after_seconds = 1);
  void fail_fraction(double fraction, int code, int retry_after_seconds = 1);
  void delay(int ms);
  void reset_next(int n);
  void drop_watches_every(int seconds);
  void count_dropped_watches(size_t n);
  FaultCounters counters() const;

  // JSON form for the HTTP control endpoint: the settings' camelCase names.
  nlohmann::json to_json() const;
  // Applies the settings present in `body` (others unchanged; {"clear": true} resets first).
  tl::expected<void, std::string> update_from_json(const nlohmann::json& body);

 private:
  mutable std::mutex mu_;
  FaultSettings s_;
  FaultCounters counters_;
  std::mt19937_64 rng_;
};

}  // namespace fairway::apiserver
