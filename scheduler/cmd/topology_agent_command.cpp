// `fairway topology-agent`: the node agent of issue 4. Reads this node's GPU link graph through
// NVML (scheduler/agent/nvml.h, dlopen) and publishes it as the Node annotation
// fairway.dev/gpu-topology, which the scheduler reads (topology/gpu_topology.h). Runs as a
// DaemonSet on GPU nodes; `--print` shows the document without touching the API.

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "scheduler/agent/nvml.h"
#include "scheduler/cmd/commands.h"
#include "topology/gpu_topology.h"

namespace fairway::cmd {
namespace {

constexpr std::string_view kUsage = R"(Usage: fairway topology-agent [--print] [--once]
                              [--node-name NAME] [--kubeconfig PATH] [--interval SECONDS]
                              [--nvml-library PATH]

Reads this node's GPUs and the links between them (NVLink, NVSwitch, PCIe) through NVML and
publishes them as the annotation fairway.dev/gpu-topology on the Node, for topology-aware gang
placement (docs/topology.md). Meant to run as a DaemonSet on GPU nodes.

  --print             print the annotation's JSON and exit; no Kubernetes API is used
  --once              publish once and exit
  --node-name NAME    the Node to annotate (default: $NODE_NAME, set from the downward API)
  --kubeconfig PATH   default: in-cluster config, else $KUBECONFIG, else ~/.kube/config
  --interval SECONDS  how often to re-read NVML; the Node is patched only on change (default 300)
  --nvml-library PATH the NVML library (default: $FAIRWAY_NVML_LIBRARY, else libnvidia-ml.so.1)

Exit status: 0 on success, 1 when NVML cannot be read or the Node cannot be patched, 2 on a
usage error.
)";

struct Flags {
  bool print = false;
  bool once = false;
  std::string node_name;
  std::string kubeconfig;
  int interval_seconds = 300;
  std::string nvml_library = agent::kDefaultNvmlLibrary;
};

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

// The JSON merge patch (RFC 7386) that sets the annotation and leaves the others alone.
std::string annotation_patch(const std::string& document) {
  nlohmann::json patch;
  patch["metadata"]["annotations"][std::string(kGpuTopologyAnnotation)] = document;
  return patch.dump();
}

int publish_loop(const Flags& flags, std::ostream& out, std::ostream& err) {
  if (flags.node_name.empty()) {
    err << "fairway topology-agent: no node name: pass --node-name or set NODE_NAME "
           "(fieldRef spec.nodeName in the DaemonSet)\n";
    return 2;
  }
  auto config = k8s::resolve_config(flags.kubeconfig);
  if (!config) {
    err << "fairway topology-agent: " << config.error() << "\n";
    return 1;
  }
  k8s::RestOptions rest;
  rest.user_agent = "fairway-topology-agent";  // tells its calls apart in an audit log
  k8s::RestClient client(*config, rest);
  const std::string path = "/api/v1/nodes/" + flags.node_name;
  std::string published;
  for (;;) {
    auto doc = agent::read_gpu_topology(flags.nvml_library);
    if (!doc) {
      err << "fairway topology-agent: " << doc.error() << "\n";
      return 1;
    }
    const std::string document = to_json(*doc);
    if (document != published) {
      auto response =
          client.request("PATCH", path, annotation_patch(document), "application/merge-patch+json");
      if (!response) {
        err << "fairway topology-agent: PATCH " << path << ": " << response.error().message << "\n";
        if (flags.once) return 1;
      } else if (!response->ok()) {
        err << fmt::format("fairway topology-agent: PATCH {}: HTTP {}: {}\n", path,
                           response->status, response->body);
        if (flags.once) return 1;
      } else {
        published = document;
        out << fmt::format("annotated node {} with {} GPUs, {} links\n", flags.node_name,
                           doc->gpus.size(), doc->links.size())
            << std::flush;
      }
    }
    if (flags.once) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(flags.interval_seconds));
  }
}

}  // namespace

int topology_agent(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  Flags flags;
  flags.node_name = env_or("NODE_NAME", "");
  flags.nvml_library = env_or("FAIRWAY_NVML_LIBRARY", agent::kDefaultNvmlLibrary);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= args.size()) return false;
      *into = args[++i];
      return true;
    };
    std::string number;
    if (arg == "-h" || arg == "--help") {
      out << kUsage;
      return 0;
    } else if (arg == "--print") {
      flags.print = true;
    } else if (arg == "--once") {
      flags.once = true;
    } else if (arg == "--node-name" && value(&flags.node_name)) {
    } else if (arg == "--kubeconfig" && value(&flags.kubeconfig)) {
    } else if (arg == "--nvml-library" && value(&flags.nvml_library)) {
    } else if (arg == "--interval" && value(&number)) {
      char* end = nullptr;
      const long seconds = std::strtol(number.c_str(), &end, 10);
      if (end == number.c_str() || *end != '\0' || seconds <= 0 || seconds > 86400) {
        err << "fairway topology-agent: --interval must be a number of seconds from 1 to 86400\n";
        return 2;
      }
      flags.interval_seconds = static_cast<int>(seconds);
    } else {
      err << "fairway topology-agent: unknown or incomplete argument \"" << arg << "\"\n" << kUsage;
      return 2;
    }
  }

  if (flags.print) {
    auto doc = agent::read_gpu_topology(flags.nvml_library);
    if (!doc) {
      err << "fairway topology-agent: " << doc.error() << "\n";
      return 1;
    }
    out << to_json(*doc) << "\n";
    return 0;
  }
  return publish_loop(flags, out, err);
}

}  // namespace fairway::cmd
