// What the embedded API server's audit log (--audit-log, used by the chart's RBAC test) costs per
// request, next to what the server spends handling the request itself. No sockets: the REST
// handler is called in-process, as Server does after reading a request.
#include <benchmark/benchmark.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/request_info.h"

namespace fairway::apiserver {
namespace {

HttpRequest request(std::string method, std::string target, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.content_type = "application/json";
  r.accept = "application/json";
  r.user_agent = "fairway-scheduler";
  return r;
}

// A store with one namespace and `pods` pods, behind the handler.
struct Fixture {
  Store store;
  Faults faults;
  ApiHandler handler{store, faults, {}};
  explicit Fixture(int pods) {
    handler.handle(request("POST", "/api/v1/namespaces", R"({"metadata":{"name":"team-a"}})"));
    for (int i = 0; i < pods; ++i) {
      const nlohmann::json pod = {
          {"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", "p" + std::to_string(i)}, {"labels", {{"fairway.dev/queue", "a"}}}}},
          {"spec",
           {{"schedulerName", "fairway"},
            {"containers",
             {{{"name", "main"},
               {"image", "pause"},
               {"resources", {{"limits", {{"nvidia.com/gpu", "1"}}}}}}}}}}};
      handler.handle(request("POST", "/api/v1/namespaces/team-a/pods", pod.dump()));
    }
  }
};

int status_of(const ApiReply& reply) {
  const auto* response = std::get_if<HttpResponse>(&reply);
  return response != nullptr ? response->status : 200;
}

void BM_HandleGetPod(benchmark::State& state) {
  Fixture f(100);
  const HttpRequest r = request("GET", "/api/v1/namespaces/team-a/pods/p42");
  for (auto _ : state) benchmark::DoNotOptimize(status_of(f.handler.handle(r)));
}
BENCHMARK(BM_HandleGetPod);

void BM_HandlePatchPodStatus(benchmark::State& state) {
  Fixture f(100);
  HttpRequest r =
      request("PATCH", "/api/v1/namespaces/team-a/pods/p42/status",
              R"({"status":{"conditions":[{"type":"PodScheduled","status":"False"}]}})");
  r.content_type = "application/merge-patch+json";
  for (auto _ : state) benchmark::DoNotOptimize(status_of(f.handler.handle(r)));
}
BENCHMARK(BM_HandlePatchPodStatus);

// Server::Impl::record: resolve the RBAC attributes, format one JSON line, write and flush it.
void BM_AuditRecord(benchmark::State& state) {
  std::ofstream sink("/dev/null");
  const HttpRequest r = request("PATCH", "/api/v1/namespaces/team-a/pods/p42/status");
  for (auto _ : state) {
    const RequestInfo info = resolve_request_info(r.method, r.target);
    const nlohmann::json line = audit_line(info, r.user_agent, 200);
    sink << line.dump() << '\n' << std::flush;
  }
}
BENCHMARK(BM_AuditRecord);

void BM_ResolveRequestInfo(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        resolve_request_info("GET",
                             "/apis/scheduling.fairway.dev/v1alpha1/namespaces/team-a/"
                             "podgroups?watch=true&resourceVersion=42"));
  }
}
BENCHMARK(BM_ResolveRequestInfo);

}  // namespace
}  // namespace fairway::apiserver
