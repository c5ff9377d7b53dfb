#pragma once
// The scheduler loop's inbox: informer threads and bind workers post changes to the cluster
// state here; only the loop thread applies them, so ClusterState needs no locks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "scheduler/state/cluster_state.h"

namespace fairway {

class Inbox {
 public:
  using Change = std::function<void(ClusterState&)>;
  // A question about the state (debug endpoints, metrics snapshots): it changes nothing, so
  // answering it does not make the loop run a cycle.
  using Read = std::function<void(ClusterState&)>;

  void post(Change change) {
    {
      std::lock_guard lock(mutex_);
      changes_.push_back(std::move(change));
    }
    wake_.notify_one();
  }

  // Waits until something is posted or `deadline`, then returns everything posted so far.
  std::vector<Change> take(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, deadline,
                     [this] { return !changes_.empty() || !reads_.empty() || woken_; });
    woken_ = false;
    std::vector<Change> out;
    out.swap(changes_);
    return out;
  }

  void ask(Read read) {
    {
      std::lock_guard lock(mutex_);
      reads_.push_back(std::move(read));
    }
    wake_.notify_one();
  }

  // Runs the reads asked so far; on the loop thread, after the changes are applied.
  void answer(ClusterState& state) {
    std::vector<Read> reads;
    {
      std::lock_guard lock(mutex_);
      reads.swap(reads_);
    }
    for (auto& read : reads) read(state);
  }

  // Wakes the loop without a change (shutdown, leadership change).
  void nudge() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wake_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Change> changes_;
  std::vector<Read> reads_;
  bool woken_ = false;
};

// Runs `question` on the loop thread and waits for its answer (HTTP threads: debug pages, metric
// snapshots, admission checks); nullopt when the loop does not answer in time (busy in a long
// cycle, or shutting down). A question given up on before the loop reached it is dropped, never
// run later: the loop does no work for a request that has already timed out, and `question` may
// hold references into the caller's frame. One the loop has already started is waited for.
template <typename T>
std::optional<T> ask_loop(Inbox& inbox, const std::atomic<bool>& stopping,
                          std::chrono::milliseconds timeout,
                          std::function<T(ClusterState&)> question) {
  struct Ticket {
    std::mutex mutex;
    bool started = false;
    bool abandoned = false;
  };
  auto ticket = std::make_shared<Ticket>();
  auto promise = std::make_shared<std::promise<T>>();
  auto answer = promise->get_future();
  inbox.ask([ticket, promise, question = std::move(question)](ClusterState& state) {
    {
      std::lock_guard lock(ticket->mutex);
      if (ticket->abandoned) return;
      ticket->started = true;
    }
    promise->set_value(question(state));
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!stopping.load()) {
    if (answer.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready)
      return answer.get();
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  {
    std::lock_guard lock(ticket->mutex);
    if (!ticket->started) {
      ticket->abandoned = true;
      return std::nullopt;
    }
  }
  return answer.get();  // running now, on references into this frame: let it finish
}

}  // namespace fairway
