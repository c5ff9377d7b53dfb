#include "sim/manifests.h"

#include "queues/quantity.h"
#include "scheduler/state/node_selector_text.h"

namespace fairway::sim {
namespace {

using nlohmann::json;

json quantities(const ResourceList& list) {
  json out = json::object();
  for (const auto& [name, value] : list) out[name] = format_quantity(value, canonical_scale(name));
  return out;
}

json labels(const Labels& map) {
  json out = json::object();
  for (const auto& [key, value] : map) out[key] = value;
  return out;
}

json container(const Container& c) {
  json out = {{"name", c.name.empty() ? "main" : c.name}, {"image", "registry.k8s.io/pause:3.9"}};
  json resources = json::object();
  if (!c.requests.empty()) resources["requests"] = quantities(c.requests);
  if (!c.limits.empty()) resources["limits"] = quantities(c.limits);
  out["resources"] = std::move(resources);
  if (c.restart_always) out["restartPolicy"] = "Always";
  return out;
}

json requirements(const std::vector<NodeSelectorRequirement>& list) {
  json out = json::array();
  for (const auto& r : list) {
    out.push_back({{"key", r.key}, {"operator", operator_name(r.op)}, {"values", r.values}});
  }
  return out;
}

}  // namespace

json node_manifest(const Node& node) {
  json taints = json::array();
  for (const Taint& taint : node.taints) {
    json t = {{"key", taint.key}, {"effect", taint_effect_name(taint.effect)}};
    if (!taint.value.empty()) t["value"] = taint.value;
    taints.push_back(std::move(t));
  }
  json spec = json::object();
  if (!taints.empty()) spec["taints"] = std::move(taints);
  if (node.unschedulable) spec["unschedulable"] = true;
  const json allocatable = quantities(node.allocatable);
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", node.name},
            {"labels", labels(node.labels)},
            {"annotations", labels(node.annotations)}}},
          {"spec", std::move(spec)},
          {"status",
           {{"capacity", allocatable},
            {"allocatable", allocatable},
            {"conditions",
             json::array({{{"type", "Ready"}, {"status", node.ready ? "True" : "False"}}})}}}};
}

json pod_manifest(const Pod& pod) {
  json spec = {{"schedulerName", pod.scheduler_name}};
  json containers = json::array();
  for (const Container& c : pod.containers) containers.push_back(container(c));
  spec["containers"] = std::move(containers);
  if (!pod.init_containers.empty()) {
    json init = json::array();
    for (const Container& c : pod.init_containers) init.push_back(container(c));
    spec["initContainers"] = std::move(init);
  }
  if (!pod.overhead.empty()) spec["overhead"] = quantities(pod.overhead);
  if (!pod.node_selector.empty()) spec["nodeSelector"] = labels(pod.node_selector);
  if (!pod.node_name.empty()) spec["nodeName"] = pod.node_name;
  if (pod.priority != 0) spec["priority"] = pod.priority;
  if (!pod.priority_class_name.empty()) spec["priorityClassName"] = pod.priority_class_name;
  if (!pod.required_node_affinity.empty()) {
    json terms = json::array();
    for (const auto& term : pod.required_node_affinity) {
      json t = json::object();
      if (!term.match_expressions.empty())
        t["matchExpressions"] = requirements(term.match_expressions);
      if (!term.match_fields.empty()) t["matchFields"] = requirements(term.match_fields);
      terms.push_back(std::move(t));
    }
    spec["affinity"] = {
        {"nodeAffinity",
         {{"requiredDuringSchedulingIgnoredDuringExecution", {{"nodeSelectorTerms", terms}}}}}};
  }
  if (!pod.tolerations.empty()) {
    json tolerations = json::array();
    for (const Toleration& t : pod.tolerations) {
      json out = {{"operator", t.op == Toleration::Operator::kExists ? "Exists" : "Equal"}};
      if (!t.key.empty()) out["key"] = t.key;
      if (!t.value.empty()) out["value"] = t.value;
      if (t.effect) out["effect"] = taint_effect_name(*t.effect);
      tolerations.push_back(std::move(out));
    }
    spec["tolerations"] = std::move(tolerations);
  }
  json metadata = {{"name", pod.name},
                   {"namespace", pod.namespace_},
                   {"labels", labels(pod.labels)},
                   {"annotations", labels(pod.annotations)}};
  if (!pod.owner.kind.empty()) {
    metadata["ownerReferences"] = json::array({{{"apiVersion", pod.owner.api_version},
                                                {"kind", pod.owner.kind},
                                                {"name", pod.owner.name},
                                                {"uid", pod.owner.uid},
                                                {"controller", true},
                                                {"blockOwnerDeletion", true}}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)}};
}

json queue_manifest(const QueueSpec& queue) {
  json resources = json::object();
  for (const auto& [name, r] : queue.resources) {
    const int64_t scale = canonical_scale(name);
    json entry = {{"quota", format_quantity(r.quota, scale)},
                  {"overQuotaWeight", r.over_quota_weight}};
    if (r.limit) entry["limit"] = format_quantity(*r.limit, scale);
    resources[name] = std::move(entry);
  }
  json spec = {{"priority", queue.priority}, {"resources", std::move(resources)}};
  if (!queue.parent.empty()) spec["parent"] = queue.parent;
  if (queue.preempt_min_runtime_seconds)
    spec["preemptMinRuntime"] = std::to_string(*queue.preempt_min_runtime_seconds) + "s";
  if (queue.reclaim_min_runtime_seconds)
    spec["reclaimMinRuntime"] = std::to_string(*queue.reclaim_min_runtime_seconds) + "s";
  return {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
          {"kind", "Queue"},
          {"metadata", {{"name", queue.name}}},
          {"spec", std::move(spec)}};
}

json topology_manifest(const TopologySpec& topology) {
  json levels = json::array();
  for (const TopologyLevel& level : topology.levels) {
    json entry = {{"nodeLabel", level.node_label}};
    if (level.bandwidth_gbps) entry["bandwidthGBps"] = *level.bandwidth_gbps;
    levels.push_back(std::move(entry));
  }
  return {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
          {"kind", "Topology"},
          {"metadata", {{"name", topology.name}}},
          {"spec", {{"levels", std::move(levels)}}}};
}

namespace {

json topology_constraint(const TopologyConstraint& constraint) {
  json out = json::object();
  if (!constraint.topology.empty()) out["topology"] = constraint.topology;
  if (!constraint.required_level.empty()) out["requiredLevel"] = constraint.required_level;
  if (!constraint.preferred_level.empty()) out["preferredLevel"] = constraint.preferred_level;
  return out;
}

}  // namespace

json pod_group_manifest(const PodGroup& group) {
  json spec = {{"minMember", group.min_member}};
  if (!group.queue.empty()) spec["queue"] = group.queue;
  if (json constraint = topology_constraint(group.topology_constraint); !constraint.empty()) {
    spec["topologyConstraint"] = std::move(constraint);
  }
  json subgroups = json::array();
  for (const SubGroup& part : group.subgroups) {
    json entry = {{"name", part.name}, {"minMember", part.min_member}};
    if (json constraint = topology_constraint(part.topology_constraint); !constraint.empty()) {
      entry["topologyConstraint"] = std::move(constraint);
    }
    subgroups.push_back(std::move(entry));
  }
  if (!subgroups.empty()) spec["subGroups"] = std::move(subgroups);
  return {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
          {"kind", "PodGroup"},
          {"metadata", {{"name", group.name}, {"namespace", group.namespace_}}},
          {"spec", std::move(spec)}};
}

json namespace_manifest(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
}

json workload_manifest(const Workload& workload) {
  const json pod_template = {
      {"spec",
       {{"restartPolicy", "Never"},
        {"containers",
         json::array({{{"name", "main"}, {"image", "registry.k8s.io/pause:3.9"}}})}}}};
  json spec = json::object();
  if (workload.kind == "PyTorchJob") {
    json replicas = json::object();
    for (const WorkloadPart& part : workload.parts) {
      replicas[part.name] = {{"replicas", part.replicas}, {"template", pod_template}};
    }
    spec["pytorchReplicaSpecs"] = std::move(replicas);
  } else {
    if (workload.parallelism) spec["parallelism"] = *workload.parallelism;
    if (workload.completions) spec["completions"] = *workload.completions;
    spec["template"] = pod_template;
  }
  return {{"apiVersion", workload.api_version},
          {"kind", workload.kind},
          {"metadata",
           {{"name", workload.name},
            {"namespace", workload.namespace_},
            {"labels", labels(workload.labels)}}},
          {"spec", std::move(spec)}};
}

json pytorchjob_crd_manifest() {
  const json open_object = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "pytorchjobs.kubeflow.org"}}},
          {"spec",
           {{"group", "kubeflow.org"},
            {"scope", "Namespaced"},
            {"names",
             {{"kind", "PyTorchJob"},
              {"plural", "pytorchjobs"},
              {"singular", "pytorchjob"},
              {"listKind", "PyTorchJobList"}}},
            {"versions",
             json::array(
                 {{{"name", "v1"},
                   {"served", true},
                   {"storage", true},
                   {"subresources", {{"status", json::object()}}},
                   {"schema",
                    {{"openAPIV3Schema",
                      {{"type", "object"},
                       {"properties", {{"spec", open_object}, {"status", open_object}}}}}}}}})}}}};
}

}  // namespace fairway::sim
