#include "scheduler/service/leadership.h"

#include <string_view>

#include "scheduler/service/log.h"

namespace fairway {

Leadership::Leadership(k8s::RestClient& lease_client, bool elect, k8s::LeaderElectionConfig lease,
                       std::function<void()> on_change)
    : leader_(!elect) {
  if (!elect) return;
  lease.on_problem = [](const std::string& warning) {
    log::warn("leader election cannot proceed", {{"problem", warning}});
  };
  const std::string identity = lease.identity;
  elector_ = std::make_unique<k8s::LeaderElector>(
      lease_client, std::move(lease),
      [this, identity, on_change] {
        leader_ = true;
        log::info("became leader", {{"identity", identity}});
        on_change();
      },
      [this, identity, on_change] {
        leader_ = false;
        log::warn("lost leadership", {{"identity", identity}});
        on_change();
      });
  thread_ = std::jthread([this](std::stop_token token) { elector_->run(token); });
}

bool Leadership::may_write() const {
  return leader_.load() && (!elector_ || elector_->is_leader());
}

k8s::RestClient::WriteFence Leadership::fence() const {
  return [this](std::string_view, std::string_view path) {
    return path.find("/leases") != std::string_view::npos || may_write();
  };
}

void Leadership::release() {
  leader_ = false;
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

}  // namespace fairway
