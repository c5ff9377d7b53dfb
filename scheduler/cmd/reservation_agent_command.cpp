// `fairway reservation-agent`: runs inside a GPU reservation pod (docs/gpu-sharing.md). Finds
// the GPU the device plugin gave the pod (NVIDIA_VISIBLE_DEVICES, verified through NVML when it
// loads), annotates its own pod with fairway.dev/gpu-uuid so the scheduler can point sharers at
// that GPU, then holds the GPU by sleeping until it is terminated.

#include <fmt/format.h>
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <thread>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "scheduler/agent/nvml.h"
#include "scheduler/agent/visible_gpu.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/state/gpu_sharing.h"

namespace fairway::cmd {
namespace {

constexpr std::string_view kUsage = R"(Usage: fairway reservation-agent [--once] [--kubeconfig PATH]
                                 [--pod-name NAME] [--pod-namespace NS] [--nvml-library PATH]

Runs in a fairway GPU reservation pod. Reads the GPU the device plugin assigned to the pod
(NVIDIA_VISIBLE_DEVICES), checks it through NVML when the library loads, annotates the pod with
fairway.dev/gpu-uuid, and sleeps until SIGTERM so the GPU stays reserved for its sharers.

  --once               exit after annotating (tests)
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

}  // namespace

int reservation_agent(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  bool once = false;
  std::string kubeconfig;
  std::string pod_name = env_or("POD_NAME", "");
  std::string pod_namespace = env_or("POD_NAMESPACE", "");
  std::string library = env_or("FAIRWAY_NVML_LIBRARY", agent::kDefaultNvmlLibrary);
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
    } else if (arg == "--once") {
      once = true;
    } else if (arg == "--kubeconfig" && value(&kubeconfig)) {
    } else if (arg == "--pod-name" && value(&pod_name)) {
    } else if (arg == "--pod-namespace" && value(&pod_namespace)) {
    } else if (arg == "--nvml-library" && value(&library)) {
    } else {
      err << "fairway reservation-agent: unknown or incomplete argument \"" << arg << "\"\n"
          << kUsage;
      return 2;
    }
  }
  if (pod_name.empty() || pod_namespace.empty()) {
    err << "fairway reservation-agent: no pod name or namespace: set POD_NAME and POD_NAMESPACE "
           "from the downward API, or pass --pod-name and --pod-namespace\n";
    return 2;
  }

  // Block SIGTERM/SIGINT before any thread starts, so that sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto nvml = agent::read_gpu_topology(library);
  const auto gpu = agent::resolve_visible_gpu(env_or("NVIDIA_VISIBLE_DEVICES", ""), nvml);
  if (!gpu) {
    err << "fairway reservation-agent: " << gpu.error() << "\n";
    return 1;
  }
  if (!gpu->verified) {
    err << fmt::format("fairway reservation-agent: NVML not available ({}); using {} as given\n",
                       nvml ? "" : nvml.error(), gpu->uuid);
  }

  auto config = k8s::resolve_config(kubeconfig);
  if (!config) {
    err << "fairway reservation-agent: " << config.error() << "\n";
    return 1;
  }
  k8s::RestOptions rest;
  rest.user_agent = "fairway-reservation-agent";  // tells its calls apart in an audit log
  k8s::RestClient client(*config, rest);
  nlohmann::json patch;
  patch["metadata"]["annotations"][std::string(kGpuUuidAnnotation)] = gpu->uuid;
  const std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}", pod_namespace, pod_name);
  std::string last_error;
  bool annotated = false;
  for (int attempt = 0; attempt < kPatchAttempts && !annotated; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << std::min(attempt, 5)));
    const auto response =
        client.request("PATCH", path, patch.dump(), "application/merge-patch+json");
    if (response && response->ok()) {
      annotated = true;
    } else {
      last_error = response ? fmt::format("HTTP {}: {}", response->status, response->body)
                            : response.error().message;
    }
  }
  if (!annotated) {
    err << fmt::format("fairway reservation-agent: PATCH {}: {}\n", path, last_error);
    return 1;
  }
  out << fmt::format("reserved GPU {} for pod {}/{}{}\n", gpu->uuid, pod_namespace, pod_name,
                     gpu->verified ? " (verified through NVML)" : "")
      << std::flush;
  if (once) return 0;
  int received = 0;
  sigwait(&signals, &received);
  out << "terminated: releasing the GPU\n" << std::flush;
  return 0;
}

}  // namespace fairway::cmd
