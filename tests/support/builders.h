#pragma once
// Small builders for model objects in tests: quantities are written as Kubernetes strings.

#include <initializer_list>
#include <string>
#include <utility>

#include "queues/quantity.h"
#include "scheduler/state/model.h"

namespace fairway::testing {

inline ResourceList resources(std::initializer_list<std::pair<std::string, std::string>> items) {
  ResourceList list;
  for (const auto& [name, text] : items) list[name] = parse_resource_quantity(name, text).value();
  return list;
}

inline Node gpu_node(std::string name, int gpus, std::string cpu = "64", std::string memory = "512Gi") {
  Node node;
  node.name = std::move(name);
  node.labels["kubernetes.io/hostname"] = node.name;
  node.allocatable = resources({{"cpu", cpu}, {"memory", memory}, {"pods", "110"}});
  if (gpus > 0) node.allocatable["nvidia.com/gpu"] = gpus * 1000LL;
  return node;
}

inline Pod pod(std::string ns, std::string name, std::string queue,
               std::initializer_list<std::pair<std::string, std::string>> requests,
               TimeMs created = 0) {
  Pod p;
  p.namespace_ = std::move(ns);
  p.name = std::move(name);
  p.uid = "uid-" + p.namespace_ + "-" + p.name;
  p.scheduler_name = "fairway";
  p.creation_ms = created;
  if (!queue.empty()) p.labels["fairway.dev/queue"] = std::move(queue);
  Container container;
  container.name = "main";
  container.requests = resources(requests);
  p.containers.push_back(std::move(container));
  return p;
}

inline Pod gang_pod(std::string ns, std::string name, std::string queue, std::string group,
                    int min_member, std::initializer_list<std::pair<std::string, std::string>> requests,
                    TimeMs created = 0) {
  Pod p = pod(std::move(ns), std::move(name), std::move(queue), requests, created);
  p.annotations["fairway.dev/pod-group"] = std::move(group);
  p.annotations["fairway.dev/min-member"] = std::to_string(min_member);
  return p;
}

inline QueueSpec queue(std::string name, std::string parent, int64_t gpu_quota,
                       std::optional<int64_t> gpu_limit = std::nullopt, double weight = 1,
                       int32_t priority = 0) {
  QueueSpec spec;
  spec.name = std::move(name);
  spec.parent = std::move(parent);
  spec.priority = priority;
  QueueResourceSpec gpu;
  gpu.quota = gpu_quota * 1000;
  if (gpu_limit) gpu.limit = *gpu_limit * 1000;
  gpu.over_quota_weight = weight;
  spec.resources["nvidia.com/gpu"] = gpu;
  return spec;
}

}  // namespace fairway::testing
