// Decoding a LIST of pods the size of a large GPU cluster: 50,000 pods shaped like what
// `kubectl get pods -A -o json` returns (labels, annotations incl. last-applied-configuration,
// managedFields, two containers with requests/limits, tolerations, affinity, status with
// conditions and container statuses), decoded into fairway::Pod. Bar (DESIGN: watch-loop issue):
// at least 500 MB/s on the 50k-pod list.

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "k8s-client/objects.h"
#include "scheduler/state/cluster_state.h"

namespace fairway::k8s {
namespace {

std::string make_pod(int i) {
  const std::string name = fmt::format("train-{}-worker-{}", i / 8, i % 8);
  const std::string ns = fmt::format("team-{}", i % 40);
  const bool bound = i % 3 != 0;
  return fmt::format(
      R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"annotations":{{"fairway.dev/pod-group":"train-{group}",)"
      R"("kubectl.kubernetes.io/last-applied-configuration":"{{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{{\"name\":\"{name}\"}}}}\n",)"
      R"("prometheus.io/scrape":"true"}},"creationTimestamp":"2024-05-01T12:{mm:02}:{ss:02}Z",)"
      R"("generateName":"train-{group}-worker-","labels":{{"app.kubernetes.io/name":"trainer",)"
      R"("batch.kubernetes.io/job-name":"train-{group}","fairway.dev/queue":"{ns}","pod-template-hash":"7d9f{i:06}"}},)"
      R"("managedFields":[{{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":{{"f:labels":{{".":{{}},)"
      R"("f:app.kubernetes.io/name":{{}}}}}},"f:spec":{{"f:containers":{{"k:{{\"name\":\"main\"}}":{{".":{{}},"f:image":{{}}}}}}}}}},)"
      R"("manager":"kube-controller-manager","operation":"Update","time":"2024-05-01T12:00:00Z"}}],)"
      R"("name":"{name}","namespace":"{ns}","ownerReferences":[{{"apiVersion":"batch/v1","blockOwnerDeletion":true,)"
      R"("controller":true,"kind":"Job","name":"train-{group}","uid":"5b0c{i:08}-1111-4000-8000-000000000000"}}],)"
      R"("resourceVersion":"{rv}","uid":"3f1c{i:08}-0000-4000-8000-000000000001"}},)"
      R"("spec":{{"affinity":{{"nodeAffinity":{{"requiredDuringSchedulingIgnoredDuringExecution":{{"nodeSelectorTerms":)"
      R"([{{"matchExpressions":[{{"key":"nvidia.com/gpu.product","operator":"In","values":["NVIDIA-H100-80GB-HBM3"]}}]}}]}}}}}},)"
      R"("containers":[{{"command":["python","-m","train","--config","/etc/train/config.yaml"],)"
      R"("env":[{{"name":"MASTER_ADDR","value":"train-{group}-worker-0"}},{{"name":"WORLD_SIZE","value":"8"}}],)"
      R"("image":"registry.example.com/ml/trainer:2024.05.01","imagePullPolicy":"IfNotPresent","name":"main",)"
      R"("resources":{{"limits":{{"memory":"200Gi","nvidia.com/gpu":"1"}},"requests":{{"cpu":"12","memory":"200Gi","nvidia.com/gpu":"1"}}}},)"
      R"("terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File",)"
      R"("volumeMounts":[{{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-{i}","readOnly":true}}]}},)"
      R"({{"image":"registry.example.com/obs/log-shipper:1.4","name":"log-shipper",)"
      R"("resources":{{"limits":{{"cpu":"200m","memory":"256Mi"}},"requests":{{"cpu":"100m","memory":"128Mi"}}}}}}],)"
      R"("dnsPolicy":"ClusterFirst","enableServiceLinks":true,{node}"preemptionPolicy":"PreemptLowerPriority",)"
      R"("priority":{prio},"priorityClassName":"train","restartPolicy":"Never","schedulerName":"fairway",)"
      R"("securityContext":{{}},"serviceAccount":"default","serviceAccountName":"default","terminationGracePeriodSeconds":30,)"
      R"("tolerations":[{{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300}},)"
      R"({{"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}},)"
      R"({{"effect":"NoSchedule","key":"nvidia.com/gpu","operator":"Exists"}}]}},)"
      R"("status":{{"conditions":[{{"lastProbeTime":null,"lastTransitionTime":"2024-05-01T12:00:01Z","status":"True","type":"PodScheduled"}}],)"
      R"("containerStatuses":[{{"image":"registry.example.com/ml/trainer:2024.05.01","imageID":"","lastState":{{}},)"
      R"("name":"main","ready":{ready},"restartCount":0,"started":{ready},"state":{{"running":{{"startedAt":"2024-05-01T12:00:05Z"}}}}}}],)"
      R"("hostIP":"10.0.{h1}.{h2}","phase":"{phase}","podIP":"10.244.{h1}.{h2}","qosClass":"Burstable","startTime":"2024-05-01T12:00:01Z"}}}})",
      fmt::arg("group", i / 8), fmt::arg("name", name), fmt::arg("ns", ns), fmt::arg("i", i),
      fmt::arg("mm", (i / 60) % 60), fmt::arg("ss", i % 60), fmt::arg("rv", 1000000 + i),
      fmt::arg("node", bound ? fmt::format(R"("nodeName":"gpu-node-{}",)", i / 8) : std::string()),
      fmt::arg("prio", 1000 + i % 7), fmt::arg("ready", bound ? "true" : "false"),
      fmt::arg("phase", bound ? "Running" : "Pending"), fmt::arg("h1", (i / 250) % 250),
      fmt::arg("h2", i % 250));
}

std::string make_list(int pods) {
  std::string body = R"({"apiVersion":"v1","items":[)";
  for (int i = 0; i < pods; ++i) {
    if (i > 0) body += ',';
    body += make_pod(i);
  }
  body += R"(],"kind":"List","metadata":{"resourceVersion":"2000000","continue":""}})";
  return body;
}

// Decodes `body` once per iteration and reports bytes and pods per second. Freeing 50k pods is
// the state's business later, not the decoder's: not timed.
template <typename Body>
void decode_loop(benchmark::State& state, Body& body) {
  for (auto _ : state) {
    auto list = decode_list<Pod>(body);
    if (!list || list->items.size() != static_cast<size_t>(state.range(0)) ||
        !list->errors.empty()) {
      state.SkipWithError(list ? "wrong item count" : list.error().c_str());
      break;
    }
    benchmark::DoNotOptimize(list->items.data());
    state.PauseTiming();
    list = {};
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(body.size()));
  state.counters["pods/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
  state.counters["body_MB"] = static_cast<double>(body.size()) / 1e6;
}

void BM_DecodePodList(benchmark::State& state) {
  const std::string body = make_list(static_cast<int>(state.range(0)));
  decode_loop(state, body);  // const: the string_view overload, one padded copy per decode
}
BENCHMARK(BM_DecodePodList)->Arg(1000)->Arg(50000)->Unit(benchmark::kMillisecond);

// The same list handed over as the reflector does it: RestClient's body, a std::string whose
// capacity has room for the parser's padding (RestClient reserves content length + kListPadding),
// decoded in place by decode_list(std::string&) without the padded copy. Same work otherwise.
void BM_DecodePodListOwnedBody(benchmark::State& state) {
  const std::string text = make_list(static_cast<int>(state.range(0)));
  std::string body;
  body.reserve(text.size() + kListPadding);
  body = text;
  decode_loop(state, body);
}
BENCHMARK(BM_DecodePodListOwnedBody)->Arg(50000)->Unit(benchmark::kMillisecond);

// The same 50k pods the way a reflector fetches them: pages of 500 (limit=500), each its own
// ~1.6 MB body. Bytes/s over the whole list.
void BM_DecodePodListPaged(benchmark::State& state) {
  constexpr int kPage = 500;
  const int pages = static_cast<int>(state.range(0)) / kPage;
  std::vector<std::string> bodies;
  size_t total = 0;
  for (int p = 0; p < pages; ++p) {
    std::string body = R"({"apiVersion":"v1","items":[)";
    for (int i = 0; i < kPage; ++i) {
      if (i > 0) body += ',';
      body += make_pod(p * kPage + i);
    }
    body += R"(],"kind":"List","metadata":{"resourceVersion":"2000000","continue":"x"}})";
    total += body.size();
    bodies.push_back(std::move(body));
  }
  std::vector<Decoded<Pod>> pods;
  pods.reserve(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    for (const std::string& body : bodies) {
      auto page = decode_list<Pod>(body);
      if (!page || page->items.size() != kPage) {
        state.SkipWithError("bad page");
        return;
      }
      for (auto& pod : page->items) pods.push_back(std::move(pod));
    }
    state.PauseTiming();
    pods.clear();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(total));
  state.counters["pods/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(0)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodePodListPaged)->Arg(50000)->Unit(benchmark::kMillisecond);

// One watch event line, as the reflector decodes them one by one.
void BM_DecodePodWatchEvent(benchmark::State& state) {
  const std::string line = R"({"type":"MODIFIED","object":)" + make_pod(7) + "}";
  for (auto _ : state) {
    auto event = decode_watch_event<Pod>(line);
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_DecodePodWatchEvent);

// The scheduler's memory per pod, on these realistic pods (heap in use ÷ pods, mallinfo2): the
// ClusterState's records, plus what the pod reflector keeps per key. Until issue 16 it kept the
// decoded object (`copies`: as a second copy of every pod); now key → resourceVersion and uid.
// Not a timing: one iteration, the bytes as counters.
void BM_SchedulerMemoryPerPod(benchmark::State& state) {
  const int pods = static_cast<int>(state.range(0));
  auto list = decode_list<Pod>(make_list(pods));
  if (!list) {
    state.SkipWithError(list.error().c_str());
    return;
  }
  struct Known {
    std::string resource_version;
    std::string uid;
  };
  auto heap = [] { return static_cast<double>(mallinfo2().uordblks); };
  for (auto _ : state) {
    // The reflector's old picture: every decoded object, by key.
    double before = heap();
    auto copies = std::make_unique<std::unordered_map<std::string, Decoded<Pod>>>();
    for (const Decoded<Pod>& item : list->items) copies->emplace(item.meta.key(), item);
    const double copies_bytes = heap() - before;
    copies.reset();
    // Its picture now.
    before = heap();
    auto versions = std::make_unique<std::unordered_map<std::string, Known>>();
    for (const Decoded<Pod>& item : list->items) {
      versions->emplace(item.meta.key(), Known{item.meta.resource_version, item.meta.uid});
    }
    const double versions_bytes = heap() - before;
    // The state, as the informers fill it (nodes named by the pods included).
    before = heap();
    auto cluster = std::make_unique<ClusterState>();
    for (const Decoded<Pod>& item : list->items) cluster->upsert_pod(item.object);
    const double state_bytes = heap() - before;
    const double n = static_cast<double>(pods);
    state.counters["state_B"] = state_bytes / n;
    state.counters["reflector_copies_B"] = copies_bytes / n;
    state.counters["reflector_versions_B"] = versions_bytes / n;
    state.counters["before_B"] = (state_bytes + copies_bytes) / n;
    state.counters["after_B"] = (state_bytes + versions_bytes) / n;
  }
}
BENCHMARK(BM_SchedulerMemoryPerPod)->Arg(50000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fairway::k8s
