#pragma once
// fairway's subcommands. Each takes its arguments (after the subcommand name) and the streams it
// writes to, so tests can run them in-process, and returns the process exit code.

#include <iosfwd>
#include <span>
#include <string>

namespace fairway::cmd {

int run_main(int argc, char** argv);

// `fairway fairshare FILE`: offline fair-share calculator, YAML in, JSON out.
int fairshare(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway sim [SCENARIO.yaml]`: the embedded default, with a readable report.
int sim(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway apiserver`: the embedded Kubernetes API server alone.
int apiserver(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway scheduler`: the service.
int scheduler(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway explain NS/NAME`: why a pod is pending, from the scheduler's /debug/pods endpoint.
int explain(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway doctor`: what fairway needs from a cluster, checked, with the fix for each failure.
int doctor(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway snapshot`: a read-only dump of what the scheduler watches, for `fairway sim --snapshot`.
int snapshot(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway report idle`: pods holding GPUs that sat idle (dcgm-exporter series in Prometheus).
int report(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway topology-agent`: publishes this node's GPU link graph (NVML via dlopen).
int topology_agent(std::span<const std::string> args, std::ostream& out, std::ostream& err);
// `fairway reservation-agent`: reports the GPU of its reservation pod (fairway.dev/gpu-uuid).
int reservation_agent(std::span<const std::string> args, std::ostream& out, std::ostream& err);

}  // namespace fairway::cmd
