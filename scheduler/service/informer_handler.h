#pragma once
// The handler every informer of the scheduler uses: each event becomes a change posted to the
// loop's inbox (only the loop thread touches the ClusterState), the first sync wakes the loop,
// and problems are logged with the resource they concern.

#include <functional>
#include <string>
#include <string_view>

#include "k8s-client/reflector.h"
#include "scheduler/service/inbox.h"
#include "scheduler/service/log.h"

namespace fairway {

template <typename T>
typename k8s::Reflector<T>::Handler informer_handler(
    Inbox& inbox, std::string resource,
    std::function<void(ClusterState&, k8s::EventType, T&&)> apply) {
  typename k8s::Reflector<T>::Handler handler;
  handler.on_event = [&inbox, apply](k8s::EventType type, k8s::Decoded<T>&& decoded) {
    inbox.post([apply, type, object = std::move(decoded.object)](ClusterState& state) mutable {
      apply(state, type, std::move(object));
    });
  };
  handler.on_synced = [&inbox] { inbox.nudge(); };
  handler.on_problem = [resource](std::string_view problem) {
    log::warn("informer problem", {{"resource", resource}, {"problem", std::string(problem)}});
  };
  return handler;
}

}  // namespace fairway
