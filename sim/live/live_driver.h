#pragma once
// The embedded default: a scenario played over HTTP. One process holds
//   - the embedded API server (sim/apiserver), TLS and a token, on loopback;
//   - the real scheduler service (scheduler/service), talking to it through k8s-client exactly as
//     it would to a production cluster;
//   - this driver, another API client: it creates the nodes, Queues and (at their arrival times)
//     the pods, plays the kubelet (bound pods become Running; finished jobs Succeeded, then
//     deleted; pods fairway evicted Failed, then deleted, their jobs never completing), and
//     samples Queue status and pod placement for the report.
// Time is real, scaled: `speed` simulated seconds pass per real second. The result has the same
// shape as the in-process driver's, so the same report renders it.

#include <functional>
#include <ostream>
#include <string>
#include <tl/expected.hpp>

#include "sim/driver.h"
#include "sim/scenario.h"

namespace fairway {
struct PreemptionOptions;
}

namespace fairway::sim {

struct LiveOptions {
  double speed = 20;            // simulated seconds per real second
  std::string kubeconfig_path;  // written for kubectl while the run lasts (required)
  // Called after the run, before the API server stops (e.g. to let a person look in).
  std::function<void()> before_shutdown;
  // Called whenever the simulated clock passes a report interval, with the latest sample.
  std::function<void(const SimResult&, const Sample&, TimeMs)> on_table;
  TimeMs report_every_ms = 0;  // 0: the scenario's, else 10 s of simulated time
  int verbosity = 0;
  // The scheduler's --metrics-bind-address (/metrics, /healthz, /debug/...); "0": off.
  std::string metrics_bind_address = "0";
  uint16_t apiserver_port = 0;  // the embedded API server's port; 0: a free one
  std::string audit_log_path;   // non-empty: the API server's audit log (ServerOptions)
};

// The scheduler's preemption periods and durations divided by `speed` (0, "off", stays 0): the
// live run's scheduler works on real time while the scenario runs `speed` times faster.
void scale_preemption_times(PreemptionOptions& preemption, double speed);

tl::expected<SimResult, std::string> run_live(const Scenario& scenario, const LiveOptions& options);

}  // namespace fairway::sim
