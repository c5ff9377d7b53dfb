#pragma once
// WorkQueue: the one work queue of the edge's workers (the actuator's binds and writes, the
// evictor's plans, the reservation manager's jobs).
//
// Items are FIFO (no key) or keyed. A keyed item replaces the queued item with its key (the
// latest write wins) and supersedes the one with its key being worked on: that one's retry is
// dropped. forget(key) drops both without queueing anything. An item may be due later (a retry,
// a back-off) on the injected Clock; among the items that are due, the oldest runs first.
//
// The handler runs an item and says whether to run it again and when (a retry, with its attempt
// count one higher). N worker threads run the handler; with none, nothing runs until the owner
// calls run_due() on its own thread, which is how unit tests drive a worker with a ManualClock:
// no threads, no sleeps.
//
// stop(kDrain) lets the workers finish the items due now first; stop(kDrop) hands the queued
// items back to the caller. Either way the workers are joined before it returns.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "scheduler/state/clock.h"

namespace fairway {

template <typename Item>
class WorkQueue {
 public:
  // Runs `item` (its `attempt`: 0, then one more per retry). nullopt: done; a duration: run it
  // again after that long, unless it was superseded meanwhile.
  using Handler = std::function<std::optional<Clock::duration>(Item& item, int attempt)>;
  enum class Stop { kDrain, kDrop };

  // `max_fifo`: at most this many FIFO items wait; more drop the oldest (0: no limit).
  WorkQueue(const Clock& clock, int workers, Handler handler, size_t max_fifo = 0)
      : clock_(clock), handler_(std::move(handler)), max_fifo_(max_fifo) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~WorkQueue() { stop(Stop::kDrop); }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `item`, due now. False once stopped (the item is not queued).
  bool add(Item item, std::string key = {}) {
    return add_after(std::move(item), Clock::duration::zero(), std::move(key));
  }
  bool add_after(Item item, Clock::duration delay, std::string key = {}) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
      if (!key.empty()) {
        drop_queued(key);
        if (auto it = working_.find(key); it != working_.end()) it->second = true;
      } else if (max_fifo_ > 0 && fifo_ >= max_fifo_) {
        drop_oldest_fifo();
      }
      push(Entry{std::move(item), std::move(key), clock_.now() + delay, 0});
    }
    ready_.notify_all();
    return true;
  }
  // Drops the queued item with `key` and the retry of the one being worked on.
  void forget(const std::string& key) {
    std::lock_guard lock(mutex_);
    drop_queued(key);
    if (auto it = working_.find(key); it != working_.end()) it->second = true;
  }

  // Runs every item that is due by the clock, on the calling thread (retries that come due
  // meanwhile included); returns how many ran. For owners without worker threads.
  size_t run_due() {
    size_t ran = 0;
    for (;;) {
      Entry entry;
      {
        std::lock_guard lock(mutex_);
        if (!take_due(entry)) return ran;
      }
      run(entry);
      ++ran;
    }
  }

  // Stops taking items without waiting: each worker ends after its current item (kDrop), or
  // once no more items are due (kDrain). add() fails from now on.
  void close(Stop how = Stop::kDrop) {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) drain_ = how == Stop::kDrain;
      stopping_ = true;
    }
    ready_.notify_all();
  }
  // close(), then joins the workers; returns the items that did not run.
  std::vector<Item> stop(Stop how = Stop::kDrop) {
    close(how);
    std::vector<Item> left;
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    std::lock_guard lock(mutex_);
    for (auto& [seq, entry] : entries_) left.push_back(std::move(entry.item));
    entries_.clear();
    by_key_.clear();
    fifo_ = 0;
    return left;
  }

  // Items waiting (due or not), not counting those being worked on.
  size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }
  // When the next item is due (time_point::max() when none waits).
  Clock::time_point next_due() const {
    std::lock_guard lock(mutex_);
    return next_due_locked();
  }

 private:
  struct Entry {
    Item item;
    std::string key;
    Clock::time_point due;
    int attempt = 0;
  };

  void push(Entry entry) {
    const uint64_t seq = next_seq_++;
    ++generation_;
    if (entry.key.empty()) {
      ++fifo_;
    } else {
      by_key_[entry.key] = seq;
    }
    entries_.emplace(seq, std::move(entry));
  }
  void drop_queued(const std::string& key) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      entries_.erase(it->second);
      by_key_.erase(it);
    }
  }
  void drop_oldest_fifo() {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (!it->second.key.empty()) continue;
      entries_.erase(it);
      --fifo_;
      return;
    }
  }
  Clock::time_point next_due_locked() const {
    auto due = Clock::time_point::max();
    for (const auto& [seq, entry] : entries_) due = std::min(due, entry.due);
    return due;
  }
  // Under mutex_: moves the oldest due item into `out` and marks its key as being worked on. An
  // item whose key is being worked on waits for that run to end: a key never runs twice at once.
  bool take_due(Entry& out) {
    const auto now = clock_.now();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.due > now) continue;
      if (!it->second.key.empty() && working_.contains(it->second.key)) continue;
      out = std::move(it->second);
      entries_.erase(it);
      if (out.key.empty()) {
        --fifo_;
      } else {
        by_key_.erase(out.key);
        working_[out.key] = false;
      }
      return true;
    }
    return false;
  }
  void run(Entry& entry) {
    const std::optional<Clock::duration> again = handler_(entry.item, entry.attempt);
    {
      std::lock_guard lock(mutex_);
      bool superseded = false;
      if (!entry.key.empty()) {
        superseded = working_[entry.key];
        working_.erase(entry.key);
        ++generation_;  // an item of this key may be taken now
      }
      if (again && !superseded && !stopping_) {
        entry.due = clock_.now() + *again;
        ++entry.attempt;
        push(std::move(entry));
      }
    }
    ready_.notify_all();
  }
  void work() {
    for (;;) {
      Entry entry;
      {
        std::unique_lock lock(mutex_);
        for (;;) {
          if (stopping_ && !drain_) return;
          if (take_due(entry)) break;
          if (stopping_) return;  // draining, and nothing more is due
          const uint64_t seen = generation_;
          wait_until(clock_, ready_, lock, next_due_locked(),
                     [&] { return stopping_ || generation_ != seen; });
        }
      }
      run(entry);
    }
  }

  const Clock& clock_;
  Handler handler_;
  const size_t max_fifo_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::map<uint64_t, Entry> entries_;                 // by arrival
  std::unordered_map<std::string, uint64_t> by_key_;  // keyed entries' place in entries_
  std::unordered_map<std::string, bool> working_;     // keys being run → superseded meanwhile
  size_t fifo_ = 0;                                   // FIFO entries in entries_
  uint64_t next_seq_ = 0;
  uint64_t generation_ = 0;  // changes whenever an item may have become takeable
  bool stopping_ = false;
  bool drain_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace fairway
