#pragma once
// What to write for an Event, decided as client-go's EventCorrelator (tools/record/events_cache.go)
// decides it for the core/v1 Events kube-scheduler and the controllers record, in three steps
// (docs/operations.md, "Events"):
//
//  1. Aggregate: Events on one object from one source with the same type and reason but different
//     messages are "similar". From the 10th distinct message within 10 minutes on, each one
//     becomes one Event "(combined from similar events): <latest message>" counted as a repeat.
//  2. Count: a repeat of an Event already written (same object, type, reason and message) is not
//     a new Event: the existing one is PATCHed with count + 1, lastTimestamp and message.
//  3. Limit: per (source, object, type, reason) a token bucket of 25, refilled one every 5
//     minutes; an Event without a token is not written (its occurrence is still counted, so the
//     next write carries the full count). Unlike client-go, whose bucket is per object only, the
//     reason is part of the key: five stale warnings never silence a different reason. And an
//     Event that reports an action fairway completed (Scheduled, Preempted, Reclaimed...) is
//     never dropped.
//
// Pure: time is a parameter (wall-clock milliseconds since the epoch, as the Event's timestamps
// are); every table is bounded (least recently used entries go first). Not thread-safe: the
// EventRecorder (event_recorder.h) serialises calls.

#include <cstdint>
#include <list>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace fairway {

struct EventCorrelatorOptions {
  int spam_burst = 25;
  int64_t spam_refill_ms = 300'000;  // one more Event every 5 minutes
  size_t aggregate_max_events = 10;  // distinct messages before they are combined
  int64_t aggregate_interval_ms = 600'000;
  size_t max_entries = 4096;  // per table, as client-go's LRU caches
};

// The identity of an Event's subject and kind: what client-go keys its caches on.
struct EventIdentity {
  std::string source = "fairway";  // source.component
  std::string kind;                // involvedObject
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string api_version;
  std::string type;  // Normal | Warning
  std::string reason;
};

// Reasons of Events that report an action fairway completed; never dropped by the limit.
bool reports_completed_action(const std::string& reason);

struct CorrelatedEvent {
  enum class Write { kSkip, kCreate, kPatch };
  Write write = Write::kSkip;
  std::string message;   // possibly "(combined from similar events): ..."
  int count = 1;         // occurrences so far, this one included
  int64_t first_ms = 0;  // firstTimestamp
  int64_t last_ms = 0;   // lastTimestamp (now)
  std::string name;      // kPatch: the Event to patch
  std::string key;       // for remember_name() once the server has named a created Event
};

class EventCorrelator {
 public:
  explicit EventCorrelator(EventCorrelatorOptions options = {}) : options_(options) {}

  CorrelatedEvent correlate(const EventIdentity& event, const std::string& message, int64_t now_ms);
  // The server's name for the Event created for `key` (POST with generateName), so that repeats
  // PATCH it; forget_name() when it is gone (a PATCH answered 404), so the next one creates.
  void remember_name(const std::string& key, const std::string& name);
  void forget_name(const std::string& key);

  size_t tracked() const { return counts_.size() + similar_.size() + buckets_.size(); }

 private:
  struct Similar {  // per aggregate key: the distinct messages of the current interval
    std::set<std::string> messages;
    int64_t last_ms = 0;
  };
  struct Written {  // per event key: what the server holds
    int count = 0;
    int64_t first_ms = 0;
    std::string name;  // empty until the create succeeded
  };
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };

  // A map whose least recently used entry goes when it is full.
  template <typename Value>
  class Lru {
   public:
    explicit Lru(size_t capacity) : capacity_(capacity) {}
    // The entry for `key`, created (with `fresh`) when absent; marks it most recently used.
    Value& touch(const std::string& key, const Value& fresh);
    Value* find(const std::string& key);
    size_t size() const { return index_.size(); }

   private:
    using Entries = std::list<std::pair<std::string, Value>>;
    size_t capacity_;
    Entries entries_;  // most recently used first
    std::unordered_map<std::string, typename Entries::iterator> index_;
  };

  bool take_token(const std::string& key, int64_t now_ms);

  EventCorrelatorOptions options_;
  Lru<Similar> similar_{options_.max_entries};
  Lru<Written> counts_{options_.max_entries};
  Lru<Bucket> buckets_{options_.max_entries};
};

}  // namespace fairway
