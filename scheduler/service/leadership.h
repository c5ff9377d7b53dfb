#pragma once
// Whether this replica may write: leader election on a Lease (k8s-client/leader_election.h) on a
// thread of its own, or always when election is off. Every write also passes the fence: checked
// again right before the request goes out (after rate-limit and Retry-After waits), so a replica
// paused past its lease never sends what it decided while it led.

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "k8s-client/leader_election.h"
#include "k8s-client/rest_client.h"

namespace fairway {

class Leadership {
 public:
  // `elect` false: this replica leads from the start. `on_change` is called (on the elector's
  // thread) when leadership is won or lost.
  Leadership(k8s::RestClient& lease_client, bool elect, k8s::LeaderElectionConfig lease,
             std::function<void()> on_change);
  ~Leadership() { release(); }
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  bool may_write() const;
  // For RestClient::set_write_fence: Lease requests always pass (they are how leadership is won
  // and kept), every other write only while may_write().
  k8s::RestClient::WriteFence fence() const;
  // Stops writing and ends the elector, which releases the Lease.
  void release();

 private:
  std::atomic<bool> leader_;
  std::unique_ptr<k8s::LeaderElector> elector_;
  std::jthread thread_;
};

}  // namespace fairway
