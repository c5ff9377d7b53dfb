#include "scheduler/service/event_correlator.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace fairway {
namespace {

constexpr std::string_view kCombinedPrefix = "(combined from similar events): ";

// Fields joined with a byte no Kubernetes name or reason holds, so keys cannot collide.
std::string join_key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view part : parts) {
    key.append(part);
    key.push_back('\x1f');
  }
  return key;
}

// client-go's EventAggregatorByReasonFunc: everything but the message.
std::string similar_key(const EventIdentity& e) {
  return join_key({e.source, e.kind, e.namespace_, e.name, e.uid, e.api_version, e.type, e.reason});
}

}  // namespace

bool reports_completed_action(const std::string& reason) {
  // Scheduled: a bind; the rest name evictions done (evictions.cpp, on victim and preemptor).
  static constexpr std::array<std::string_view, 8> kCompleted = {
      "Scheduled",  "Preempted",  "Reclaimed",     "Consolidated",
      "Preempting", "Reclaiming", "Consolidating", "GangIncomplete"};
  return std::find(kCompleted.begin(), kCompleted.end(), reason) != kCompleted.end();
}

template <typename Value>
Value& EventCorrelator::Lru<Value>::touch(const std::string& key, const Value& fresh) {
  if (auto it = index_.find(key); it != index_.end()) {
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->second;
  }
  if (capacity_ > 0 && index_.size() >= capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  entries_.emplace_front(key, fresh);
  index_.emplace(key, entries_.begin());
  return entries_.front().second;
}

template <typename Value>
Value* EventCorrelator::Lru<Value>::find(const std::string& key) {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &it->second->second;
}

CorrelatedEvent EventCorrelator::correlate(const EventIdentity& event, const std::string& message,
                                           int64_t now_ms) {
  CorrelatedEvent out;
  out.last_ms = now_ms;
  out.message = message;

  // 1. Aggregate similar Events (same everything but the message) once there are many.
  const std::string similar = similar_key(event);
  out.key = similar + message;
  Similar& group = similar_.touch(similar, Similar{});
  if (now_ms - group.last_ms > options_.aggregate_interval_ms) group.messages.clear();
  group.messages.insert(message);
  group.last_ms = now_ms;
  if (group.messages.size() >= options_.aggregate_max_events) {
    group.messages.erase(group.messages.begin());  // never grows past the maximum
    out.key = similar;
    out.message = std::string(kCombinedPrefix) + message;
  }

  // 2. Count repeats: the Event already written for this key is patched, not written anew.
  Written& written = counts_.touch(out.key, Written{});
  if (written.count == 0) written.first_ms = now_ms;
  ++written.count;
  out.count = written.count;
  out.first_ms = written.first_ms;
  out.name = written.name;
  out.write =
      written.name.empty() ? CorrelatedEvent::Write::kCreate : CorrelatedEvent::Write::kPatch;

  // 3. Limit per (source, object, type, reason); a completed action is always told.
  if (!reports_completed_action(event.reason) && !take_token(similar, now_ms)) {
    out.write = CorrelatedEvent::Write::kSkip;
  }
  return out;
}

void EventCorrelator::remember_name(const std::string& key, const std::string& name) {
  if (Written* written = counts_.find(key)) written->name = name;
}

void EventCorrelator::forget_name(const std::string& key) {
  if (Written* written = counts_.find(key)) written->name.clear();
}

bool EventCorrelator::take_token(const std::string& key, int64_t now_ms) {
  const double burst = static_cast<double>(std::max(options_.spam_burst, 1));
  Bucket& bucket = buckets_.touch(key, Bucket{burst, now_ms});
  if (now_ms > bucket.updated_ms && options_.spam_refill_ms > 0) {
    const double earned = static_cast<double>(now_ms - bucket.updated_ms) /
                          static_cast<double>(options_.spam_refill_ms);
    bucket.tokens = std::min(burst, bucket.tokens + earned);
  }
  bucket.updated_ms = std::max(bucket.updated_ms, now_ms);
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

}  // namespace fairway
