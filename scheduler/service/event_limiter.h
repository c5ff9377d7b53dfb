#pragma once
// Rate limit for Events, per involved object, in the spirit of client-go's EventCorrelator spam
// filter: each object has a token bucket (`burst` Events, then one more every `refill`), so a pod
// whose explanation flips every cycle cannot flood the API server or `kubectl describe`. Pure:
// time is a parameter; not thread-safe (the actuator's writer thread owns it).

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace fairway {

class EventLimiter {
 public:
  EventLimiter(int burst = 5, int64_t refill_ms = 60'000, size_t max_objects = 100'000)
      : burst_(burst), refill_ms_(refill_ms), max_objects_(max_objects) {}

  // Whether an Event about `object` (e.g. "Pod/ns/name") may be written at `now_ms`; takes a
  // token when it may.
  bool allow(const std::string& object, int64_t now_ms) {
    if (buckets_.size() >= max_objects_) forget_full(now_ms);
    auto [it, added] = buckets_.try_emplace(object, Bucket{static_cast<double>(burst_), now_ms});
    Bucket& bucket = it->second;
    if (!added) {
      const double earned =
          static_cast<double>(now_ms - bucket.updated_ms) / static_cast<double>(refill_ms_);
      bucket.tokens = std::min(static_cast<double>(burst_), bucket.tokens + std::max(earned, 0.0));
      bucket.updated_ms = now_ms;
    }
    if (bucket.tokens < 1.0) return false;
    bucket.tokens -= 1.0;
    return true;
  }

  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  // Objects whose bucket has refilled completely carry no state worth keeping.
  void forget_full(int64_t now_ms) {
    std::erase_if(buckets_, [&](const auto& entry) {
      return entry.second.tokens + static_cast<double>(now_ms - entry.second.updated_ms) /
                                       static_cast<double>(refill_ms_) >=
             burst_;
    });
  }

  int burst_;
  int64_t refill_ms_;
  size_t max_objects_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace fairway
