#pragma once
// Why pods wait, as the loop last told the API server: per pod (an Event and the PodScheduled
// condition) and per PodGroup of a gang (an Event). A message goes out only when it changes, so
// a pod that waits for hours with the same reason costs one write, not one per cycle.

#include <string>
#include <unordered_map>

#include "scheduler/cycle/cycle.h"
#include "scheduler/loop/decisions.h"
#include "scheduler/state/cluster_state.h"

namespace fairway {

class Explanations {
 public:
  // The cycle's pending jobs: each pod (and gang PodGroup) whose message changed is explained
  // (appended to `out`).
  void publish(const std::vector<PendingJob>& pending, const ClusterState& state,
               std::vector<Unschedulable>& out);
  // `binding` was placed: it is explained again if it ever waits again.
  void placed(const Binding& binding);
  // Leadership was lost: writes of that term may never have gone out (fenced), so everything is
  // explained afresh when leading again.
  void forget_all();
  // Drops pods and groups that are gone, once the maps outgrow the state (bounded memory).
  void prune(const ClusterState& state);
  // The last message per pod key (/debug/pods).
  const std::unordered_map<std::string, std::string>& by_pod() const { return by_pod_; }

 private:
  std::unordered_map<std::string, std::string> by_pod_;
  std::unordered_map<std::string, std::string> by_group_;  // by PodGroup key
};

}  // namespace fairway
