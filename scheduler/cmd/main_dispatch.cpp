// `fairway <command>`: the top-level usage text and the dispatch to each subcommand (commands.h).
#include <iostream>
#include <string>
#include <vector>

#include "scheduler/cmd/commands.h"

namespace fairway::cmd {
namespace {

constexpr const char* kUsage = R"(fairway — a Kubernetes batch scheduler for GPU/AI clusters

Usage:
  fairway scheduler [flags]     the scheduler service (--kubeconfig, or in-cluster)
  fairway sim [SCENARIO.yaml]   run a scenario (the built-in demo when none is given)
  fairway apiserver [flags]     the embedded Kubernetes API server alone
  fairway fairshare FILE        compute hierarchical fair shares offline (YAML in, JSON out)
  fairway explain NS/NAME       why a pod is pending (asks the scheduler's /debug/pods endpoint)
  fairway doctor [flags]        check what fairway needs from a cluster, with the fixes
  fairway snapshot [flags]      dump what the scheduler watches, for `fairway sim --snapshot`
  fairway report idle [flags]   pods holding GPUs idle (GPU use from Prometheus/dcgm-exporter)
  fairway topology-agent        publish this node's GPU links (runs as a DaemonSet)
  fairway reservation-agent     report a GPU reservation pod's GPU UUID (runs in that pod)
  fairway help                  this text

Run 'fairway COMMAND --help' for a command's flags.
)";

}  // namespace

int run_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  const std::span<const std::string> rest(args.data() + 1, args.size() - 1);
  if (command == "fairshare") return fairshare(rest, std::cout, std::cerr);
  if (command == "sim") return sim(rest, std::cout, std::cerr);
  if (command == "apiserver") return apiserver(rest, std::cout, std::cerr);
  if (command == "scheduler") return scheduler(rest, std::cout, std::cerr);
  if (command == "explain") return explain(rest, std::cout, std::cerr);
  if (command == "doctor") return doctor(rest, std::cout, std::cerr);
  if (command == "snapshot") return snapshot(rest, std::cout, std::cerr);
  if (command == "report") return report(rest, std::cout, std::cerr);
  if (command == "topology-agent") return topology_agent(rest, std::cout, std::cerr);
  if (command == "reservation-agent") return reservation_agent(rest, std::cout, std::cerr);
  std::cerr << "fairway: unknown command \"" << command << "\"\n\n" << kUsage;
  return 2;
}

}  // namespace fairway::cmd
