#pragma once
// Each queue's past use of each resource, for fair share over time (docs/scheduling.md, "Fair
// share over time"). Pure: time comes in as milliseconds of the wall clock (it is persisted in
// Queue status, so it must mean the same after a restart).
//
// With half-life H (τ = H / ln 2) and the queue's allocation a(s), the cluster's capacity c(s):
//   used(t)     = ∫ a(s) · 2^(-(t-s)/H) ds     capacity(t) = ∫ c(s) · 2^(-(t-s)/H) ds
//   share(t)    = used(t) / capacity(t)
// the share of the cluster the queue held, recent time weighing most (a day-old hour counts half
// with H = 24h). Between two advances a and c are taken as constant at their values when
// advanced, so each advance is exact for a step function: x ← x · d + v · τ · (1 - d), d =
// 2^(-Δ/H). The capacity starts at its steady state (c · τ, as if the cluster had always been
// there, idle), so a new cluster's first minutes do not count as a whole window of history.
//
// Restoring after a restart: Queue.status.usage holds a share and the time it was computed; the
// queue's used() is rebuilt from it against the capacity's steady state, and the time since is
// filled with what the queue holds when first advanced (the pods bound at restart are, as far as
// fairway can know, the ones that ran through the gap).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "queues/fair_share.h"
#include "queues/resources.h"

namespace fairway {

using WallMs = int64_t;  // milliseconds since the Unix epoch

class UsageHistory {
 public:
  struct Published {
    std::vector<double> shares;  // per ResourceId, rounded (usage_share_text)
    WallMs at = 0;               // when these rounded shares were computed
  };

  explicit UsageHistory(int64_t half_life_ms);

  // Moves every queue's history to `now`, charging each what it holds (allocated, by queue
  // name), and the cluster its capacity. A `now` before the last advance is taken as the last.
  void advance(WallMs now, const std::unordered_map<std::string, QueueUsage>& usage,
               const ResourceVector& capacity);
  // Seeds a queue's history from its persisted status, once: a queue already known (restored or
  // advanced) keeps its own, so fairway's own status writes echoed back change nothing.
  void restore(const std::string& queue, std::span<const double> shares, WallMs at);

  // The queue's share of the cluster's capacity of each resource (per ResourceId); empty when
  // it has none.
  std::vector<double> shares(const std::string& queue) const;
  // The shares rounded for status, and when they last changed: a status holding them is
  // rewritten only when a rounded share moves, not at every advance.
  const Published* published(const std::string& queue) const;
  int64_t half_life_ms() const { return half_life_ms_; }

 private:
  struct Entry {
    std::vector<double> used;  // per ResourceId, canonical units × milliseconds
    WallMs at = 0;
    Published published;
    uint64_t round = 0;  // the advance that last moved it
    bool holds = false;  // its queue held something at that advance
  };
  double decay(int64_t elapsed_ms) const;
  void advance_entry(Entry& entry, WallMs now, const ResourceVector* allocated);
  void publish(Entry& entry, WallMs now);
  void plant_seeds(WallMs now);

  int64_t half_life_ms_;
  double tau_ms_;                 // half-life / ln 2: the integral of the decay kernel
  std::vector<double> capacity_;  // per ResourceId, canonical units × milliseconds
  WallMs at_ = 0;
  bool started_ = false;
  uint64_t round_ = 0;  // advances so far
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_set<std::string> known_;  // queues ever restored or advanced
  // Restored before the capacity was known: (queue, shares, at), seeded at the first advance.
  std::vector<std::tuple<std::string, std::vector<double>, WallMs>> seeds_;
};

// A usage share as written in Queue.status.usage: four significant digits without an exponent
// ("0.1250", "0.001230"), "0" below a millionth. parse_usage_share reads it back (nullopt when
// it is not a finite number >= 0; above 1 is possible for a while after the cluster shrinks).
std::string usage_share_text(double share);
// The share usage_share_text writes, as a number (what status shows, compared without text).
double rounded_share(double share);
std::optional<double> parse_usage_share(std::string_view text);

}  // namespace fairway
