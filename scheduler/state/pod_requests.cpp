#include "scheduler/state/pod_requests.h"

#include <algorithm>

namespace fairway {
namespace {

void add_into(ResourceList& total, const ResourceList& addend) {
  for (const auto& [name, value] : addend) total[name] += value;
}

void max_into(ResourceList& total, const ResourceList& other) {
  for (const auto& [name, value] : other) {
    auto [it, inserted] = total.try_emplace(name, value);
    if (!inserted) it->second = std::max(it->second, value);
  }
}

}  // namespace

ResourceList container_requests(const Container& container) {
  ResourceList requests = container.requests;
  // try_emplace keeps an explicit request (even an explicit 0) and fills only missing ones.
  for (const auto& [name, limit] : container.limits) requests.try_emplace(name, limit);
  return requests;
}

ResourceList pod_requests(const Pod& pod) {
  ResourceList total;
  for (const Container& container : pod.containers) add_into(total, container_requests(container));

  // Walk init containers in declaration order: each regular one runs while the sidecars declared
  // before it are already up, and sidecars keep running beside the app containers.
  ResourceList sidecars_so_far;
  ResourceList init_peak;
  for (const Container& container : pod.init_containers) {
    ResourceList requests = container_requests(container);
    if (container.restart_always) {
      add_into(total, requests);
      add_into(sidecars_so_far, requests);
      max_into(init_peak, sidecars_so_far);
    } else {
      add_into(requests, sidecars_so_far);
      max_into(init_peak, requests);
    }
  }
  max_into(total, init_peak);
  add_into(total, pod.overhead);

  erase_if(total, [](const auto& entry) { return entry.second == 0; });
  return total;
}

}  // namespace fairway
