#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, with kube-scheduler's timings. Only the
// leader writes: is_leader() turns false as soon as a renewal has not succeeded within the
// renew deadline, before another replica can take the lease (lease duration).

#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "k8s-client/rest_client.h"

namespace fairway::k8s {

struct LeaderElectionConfig {
  std::string lease_namespace = "fairway-system";
  std::string lease_name = "fairway-scheduler";
  std::string identity;  // unique per replica: hostname + "_" + random
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

class LeaderElector {
 public:
  LeaderElector(RestClient& client, LeaderElectionConfig config,
                std::function<void()> on_started_leading, std::function<void()> on_stopped_leading);
  // Blocks: tries to acquire, then renews, until stop (then releases the lease if held).
  void run(std::stop_token stop);
  bool is_leader() const { return leader_.load(); }

 private:
  RestClient& client_;
  LeaderElectionConfig config_;
  std::function<void()> on_started_;
  std::function<void()> on_stopped_;
  std::atomic<bool> leader_{false};
};

}  // namespace fairway::k8s
