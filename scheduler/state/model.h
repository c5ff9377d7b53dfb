#pragma once
// The cluster model: plain structs decoded once at the edge (k8s-client, sim) from Kubernetes
// objects. Field names follow the Kubernetes API. Quantities are canonical integers
// (queues/quantity.h). Nothing here knows about HTTP, JSON or time sources.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "queues/queue_spec.h"
#include "queues/resources.h"

namespace fairway {

using Labels = FlatMap<std::string, std::string>;
// Milliseconds since the Unix epoch, from metav1.Time or the injected clock.
using TimeMs = int64_t;

// An object key ("ns/name", as Pod::key() makes it) back into namespace and name; a key without
// a slash is a cluster-scoped name.
inline std::pair<std::string, std::string> split_key(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

enum class TaintEffect { kNoSchedule, kPreferNoSchedule, kNoExecute };

struct Taint {
  std::string key;
  std::string value;
  TaintEffect effect = TaintEffect::kNoSchedule;
};

struct Toleration {
  enum class Operator { kEqual, kExists };
  std::string key;  // empty with kExists tolerates every taint
  Operator op = Operator::kEqual;
  std::string value;
  std::optional<TaintEffect> effect;  // empty tolerates every effect
};

struct NodeSelectorRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  std::string key;
  Operator op = Operator::kIn;
  std::vector<std::string> values;
};

// Requirements of one term are ANDed; the terms of a required node affinity are ORed.
struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;  // against node labels
  std::vector<NodeSelectorRequirement> match_fields;       // only "metadata.name" exists
};

struct Node {
  std::string name;
  std::string uid;
  Labels labels;
  Labels annotations;
  std::vector<Taint> taints;
  bool unschedulable = false;  // spec.unschedulable (cordoned)
  ResourceList allocatable;    // status.allocatable, incl. nvidia.com/gpu and extended resources
  bool ready = true;           // status.conditions[Ready]
};

struct Container {
  std::string name;
  ResourceList requests;
  ResourceList limits;
  bool restart_always = false;  // init container with restartPolicy: Always (a sidecar)
};

enum class PodPhase { kPending, kRunning, kSucceeded, kFailed, kUnknown };

struct Pod {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string scheduler_name;
  std::string node_name;  // spec.nodeName: empty while unbound
  PodPhase phase = PodPhase::kPending;
  int32_t priority = 0;
  std::string priority_class_name;
  // spec.preemptionPolicy (set by admission from the PriorityClass): "Never" means the pod never
  // makes fairway evict others; empty or PreemptLowerPriority: it may.
  std::string preemption_policy;
  TimeMs creation_ms = 0;
  bool deleting = false;  // metadata.deletionTimestamp set
  Labels labels;
  Labels annotations;
  std::vector<Container> containers;
  std::vector<Container> init_containers;
  ResourceList overhead;
  Labels node_selector;
  std::vector<NodeSelectorTerm> required_node_affinity;  // empty: no constraint
  std::vector<Toleration> tolerations;
  // Parts of the pod the decoder could not read (e.g. a resource quantity that overflows), one
  // message each naming the field. A pod with problems is never scheduled; it says why.
  std::vector<std::string> problems;

  std::string key() const { return namespace_ + "/" + name; }
  // Pods in a terminal phase hold no resources.
  bool terminated() const { return phase == PodPhase::kSucceeded || phase == PodPhase::kFailed; }
};

struct TopologyConstraint {
  std::string topology;         // name of a Topology CR
  std::string required_level;   // node label key of the level all pods must share
  std::string preferred_level;  // node label key to try hardest to share
};

struct PodGroup {
  std::string namespace_;
  std::string name;
  int32_t min_member = 1;
  std::string queue;
  std::string priority_class_name;
  std::optional<int64_t> schedule_timeout_seconds;
  TopologyConstraint topology_constraint;
  TimeMs creation_ms = 0;
  // Parts of the spec the decoder could not read, naming the field; its gang is not scheduled.
  std::vector<std::string> problems;

  std::string key() const { return namespace_ + "/" + name; }
};

// A Namespace: only its labels matter (Queue.spec.namespaceSelector).
struct Namespace {
  std::string name;
  Labels labels;
};

struct PriorityClass {
  std::string name;
  int32_t value = 0;
  bool global_default = false;
  std::string preemption_policy;  // PreemptLowerPriority | Never
};

}  // namespace fairway
