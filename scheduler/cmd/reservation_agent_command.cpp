// `fairway reservation-agent`: runs inside a GPU reservation pod (docs/gpu-sharing.md), in two
// steps so that no running container keeps an API token after its one write:
//   - report (the init container, `--once`): finds the GPU the device plugin gave the pod
//     (NVIDIA_VISIBLE_DEVICES, verified through NVML when it loads), annotates its own pod with
//     fairway.dev/gpu-uuid so the scheduler can point sharers at that GPU, and exits; only this
//     container mounts a (short-lived, projected) service-account token;
//   - hold (the app container): checks it still sees one GPU, the one the kubelet's device
//     manager handed on from the init container, and holds it until SIGTERM, with no token and
//     no API access.
// Without `--once` or `hold`, one process reports and then holds (pods of older releases).

#include <fmt/format.h>
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "k8s-client/api_error.h"
#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "scheduler/agent/nvml.h"
#include "scheduler/agent/visible_gpu.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/state/gpu_sharing.h"

namespace fairway::cmd {
namespace {

constexpr std::string_view kUsage =
    R"(Usage: fairway reservation-agent [--once] [--kubeconfig PATH] [--pod-name NAME]
                                 [--pod-namespace NS] [--nvml-library PATH]
       fairway reservation-agent hold [--nvml-library PATH]

Runs in a fairway GPU reservation pod. Reads the GPU the device plugin assigned to the pod
(NVIDIA_VISIBLE_DEVICES), checks it through NVML when the library loads, annotates the pod with
fairway.dev/gpu-uuid, and sleeps until SIGTERM so the GPU stays reserved for its sharers.

  hold                 do not report: check that one GPU is still visible and hold it until
                       SIGTERM, with no API access (the pod's app container, after the init
                       container reported with --once)
  --once               exit after annotating (the pod's init container, which alone has a token)
  --kubeconfig PATH    default: in-cluster config, else $KUBECONFIG, else ~/.kube/config
  --pod-name NAME      default: $POD_NAME (downward API metadata.name)
  --pod-namespace NS   default: $POD_NAMESPACE (downward API metadata.namespace)
  --nvml-library PATH  default: $FAIRWAY_NVML_LIBRARY, else libnvidia-ml.so.1

Exit status: 0 on SIGTERM (or after --once), 1 when the GPU cannot be identified or the pod
cannot be annotated, 2 on a usage error.
)";

constexpr int kPatchAttempts = 10;

std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

struct AgentArgs {
  bool hold_only = false;  // `hold`
  bool once = false;       // `--once`
  std::string kubeconfig;
  std::string pod_name = env_or("POD_NAME", "");
  std::string pod_namespace = env_or("POD_NAMESPACE", "");
  std::string library = env_or("FAIRWAY_NVML_LIBRARY", agent::kDefaultNvmlLibrary);
};

// The arguments, or the exit status of a usage error or of --help.
std::optional<int> parse(std::span<const std::string> args, AgentArgs& parsed, std::ostream& out,
                         std::ostream& err) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= args.size()) return false;
      *into = args[++i];
      return true;
    };
    if (arg == "-h" || arg == "--help") {
      out << kUsage;
      return 0;
    } else if (arg == "hold" && i == 0) {
      parsed.hold_only = true;
    } else if (arg == "--once" && !parsed.hold_only) {
      parsed.once = true;
    } else if (arg == "--kubeconfig" && !parsed.hold_only && value(&parsed.kubeconfig)) {
    } else if (arg == "--pod-name" && !parsed.hold_only && value(&parsed.pod_name)) {
    } else if (arg == "--pod-namespace" && !parsed.hold_only && value(&parsed.pod_namespace)) {
    } else if (arg == "--nvml-library" && value(&parsed.library)) {
    } else {
      err << "fairway reservation-agent: unknown or incomplete argument \"" << arg << "\""
          << (parsed.hold_only ? " (hold takes only --nvml-library: it has no API access)" : "")
          << "\n"
          << kUsage;
      return 2;
    }
  }
  if (!parsed.hold_only && (parsed.pod_name.empty() || parsed.pod_namespace.empty())) {
    err << "fairway reservation-agent: no pod name or namespace: set POD_NAME and POD_NAMESPACE "
           "from the downward API, or pass --pod-name and --pod-namespace\n";
    return 2;
  }
  return std::nullopt;
}

// Annotates the pod with the GPU's UUID, retrying a failed PATCH; 0 when done, else 1.
int report(const AgentArgs& args, const agent::VisibleGpu& gpu, std::ostream& out,
           std::ostream& err) {
  auto config = k8s::resolve_config(args.kubeconfig);
  if (!config) {
    err << "fairway reservation-agent: " << config.error() << "\n";
    return 1;
  }
  k8s::RestOptions rest;
  rest.user_agent = "fairway-reservation-agent";  // tells its calls apart in an audit log
  k8s::RestClient client(*config, rest);
  nlohmann::json patch;
  patch["metadata"]["annotations"][std::string(kGpuUuidAnnotation)] = gpu.uuid;
  const std::string path =
      fmt::format("/api/v1/namespaces/{}/pods/{}", args.pod_namespace, args.pod_name);
  std::string last_error;
  for (int attempt = 0; attempt < kPatchAttempts; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << std::min(attempt, 5)));
    const auto response =
        client.request("PATCH", path, patch.dump(), "application/merge-patch+json");
    if (response && response->ok()) {
      out << fmt::format("reserved GPU {} for pod {}/{}{}\n", gpu.uuid, args.pod_namespace,
                         args.pod_name, gpu.verified ? " (verified through NVML)" : "")
          << std::flush;
      return 0;
    }
    // The Status's words, never the raw body (k8s-client/api_error.h).
    last_error = k8s::describe_api_error(response);
    // A refusal (403, 404, 422, ...) will not change on its own: the kubelet restarts the
    // container with its back-off, and the log says why at once.
    if (response && !k8s::retryable_api_error(response->status)) break;
  }
  err << fmt::format("fairway reservation-agent: PATCH {}: {}\n", path, last_error);
  return 1;
}

}  // namespace

int reservation_agent(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  AgentArgs parsed;
  if (auto status = parse(args, parsed, out, err)) return *status;

  // Block SIGTERM/SIGINT before any thread starts, so that sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto nvml = agent::read_gpu_topology(parsed.library);
  const auto gpu = agent::resolve_visible_gpu(env_or("NVIDIA_VISIBLE_DEVICES", ""), nvml);
  if (!gpu) {
    err << "fairway reservation-agent: " << gpu.error() << "\n";
    return 1;
  }
  if (!gpu->verified) {
    err << fmt::format("fairway reservation-agent: NVML not available ({}); using {} as given\n",
                       nvml ? "" : nvml.error(), gpu->uuid);
  }
  if (parsed.hold_only) {
    out << fmt::format("holding GPU {}{}\n", gpu->uuid,
                       gpu->verified ? " (verified through NVML)" : "")
        << std::flush;
  } else if (const int status = report(parsed, *gpu, out, err); status != 0 || parsed.once) {
    return status;
  }
  int received = 0;
  sigwait(&signals, &received);
  out << "terminated: releasing the GPU\n" << std::flush;
  return 0;
}

}  // namespace fairway::cmd
