// Decoding workload kinds for owner inference (Job, PyTorchJob, JobSet, ...;
// scheduler/state/gangs.h): their replicas, gang and topology annotations, and owners.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"

namespace fairway::k8s::decoding {
namespace {

R read_optional_int32(dom::element value, std::optional<int32_t>& out) {
  if (is_null(value)) return {};
  int32_t v = 0;
  R r = read_int32(value, v);
  if (r && v < 0) return fail(fmt::format("{} must be >= 0", v));
  if (r) out = v;
  return r;
}

// A JobSet replicatedJob: {name, replicas, template: {spec: {parallelism, completions}}}.
R read_replicated_job(dom::element value, WorkloadPart& part) {
  std::optional<int32_t> replicas, parallelism, completions;
  R r = for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "name") return within("name", read_string(field, part.name));
    if (key == "replicas") return within("replicas", read_optional_int32(field, replicas));
    if (key != "template") return {};
    return within("template", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                    if (k2 != "spec") return {};
                    return within(
                        "spec", for_each_field(v, [&](std::string_view k3, dom::element w) -> R {
                          if (k3 == "parallelism") {
                            return within("parallelism", read_optional_int32(w, parallelism));
                          }
                          if (k3 == "completions") {
                            return within("completions", read_optional_int32(w, completions));
                          }
                          return {};
                        }));
                  }));
  });
  part.replicas = replicas.value_or(1);
  part.pods_each = parallelism.value_or(1);
  if (completions) part.pods_each = std::min(part.pods_each, *completions);
  return r;
}

R read_workload_spec(dom::element value, Workload& w) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "replicas") return within("replicas", read_optional_int32(field, w.replicas));
    if (key == "parallelism")
      return within("parallelism", read_optional_int32(field, w.parallelism));
    if (key == "completions")
      return within("completions", read_optional_int32(field, w.completions));
    if (key == "completionMode") {
      std::string mode;
      R r = within("completionMode", read_string(field, mode));
      w.indexed = mode == "Indexed";
      return r;
    }
    if (key == "runPolicy") {  // Kubeflow: runPolicy.schedulingPolicy.minAvailable
      return within(
          "runPolicy", for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
            if (k2 != "schedulingPolicy") return {};
            return within("schedulingPolicy",
                          for_each_field(v, [&](std::string_view k3, dom::element m) -> R {
                            if (k3 != "minAvailable") return {};
                            return within("minAvailable", read_optional_int32(m, w.min_available));
                          }));
          }));
    }
    if (key.ends_with("ReplicaSpecs")) {  // Kubeflow: pytorchReplicaSpecs: {Master: {...}}
      return within(key, for_each_field(field, [&](std::string_view name, dom::element spec) -> R {
                      WorkloadPart& part = w.parts.emplace_back();
                      part.name = std::string(name);
                      std::optional<int32_t> replicas;
                      R r = for_each_field(spec, [&](std::string_view k2, dom::element v) -> R {
                        if (k2 != "replicas") return {};
                        return within("replicas", read_optional_int32(v, replicas));
                      });
                      part.replicas = replicas.value_or(1);
                      return within(name, std::move(r));
                    }));
    }
    if (key == "replicatedJobs") {  // JobSet
      return within("replicatedJobs", for_each_element(field, [&](size_t i, dom::element e) -> R {
                      return within_index("", i, read_replicated_job(e, w.parts.emplace_back()));
                    }));
    }
    if (key == "leaderWorkerTemplate") {  // LeaderWorkerSet: the group size
      return within("leaderWorkerTemplate",
                    for_each_field(field, [&](std::string_view k2, dom::element v) -> R {
                      if (k2 != "size") return {};
                      return within("size", read_optional_int32(v, w.group_size));
                    }));
    }
    if (key == "headGroupSpec") {  // RayCluster: one head
      w.parts.push_back({.name = "head", .replicas = 1, .pods_each = 1, .min_replicas = 1});
      return {};
    }
    if (key == "workerGroupSpecs") {  // RayCluster: minReplicas of each group are in the gang
      return within("workerGroupSpecs", for_each_element(field, [&](size_t i, dom::element e) -> R {
                      WorkloadPart& part = w.parts.emplace_back();
                      std::optional<int32_t> replicas, min_replicas;
                      R r = for_each_field(e, [&](std::string_view k2, dom::element v) -> R {
                        if (k2 == "groupName")
                          return within("groupName", read_string(v, part.name));
                        if (k2 == "replicas")
                          return within("replicas", read_optional_int32(v, replicas));
                        if (k2 == "minReplicas") {
                          return within("minReplicas", read_optional_int32(v, min_replicas));
                        }
                        return {};
                      });
                      part.replicas = replicas.value_or(0);
                      part.min_replicas = min_replicas.value_or(0);
                      return within_index("", i, std::move(r));
                    }));
    }
    return {};
  });
}

}  // namespace

template <>
struct Codec<Workload> {
  static R decode(dom::object object, Decoded<Workload>& out) {
    Workload& w = out.object;
    MetaSink sink{&w.labels, &w.annotations, nullptr, nullptr, &w.owner};
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "apiVersion") return within("apiVersion", read_string(field, w.api_version));
      if (key == "kind") return within("kind", read_string(field, w.kind));
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, sink));
      if (key == "spec") {
        // Kept with the problem: its pods then fall back to the defaults rather than wait
        // forever for a workload fairway cannot read.
        if (R spec = within("spec", read_workload_spec(field, w)); !spec) {
          w.problems.push_back(describe(spec.error()));
        }
        return {};
      }
      return {};
    });
    // Only the gang and topology keys of the annotations matter (scheduler/state/gangs.h); the
    // rest would cost memory per workload.
    erase_if(w.annotations, [](const auto& entry) {
      return entry.first != "fairway.dev/gang" &&
             !entry.first.starts_with("fairway.dev/topology") &&
             !entry.first.starts_with("fairway.dev/subgroup-topology");
    });
    w.namespace_ = out.meta.namespace_;
    w.name = out.meta.name;
    w.uid = out.meta.uid;
    return r;
  }
};

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<Workload>, std::string> decode_workload(std::string_view json) {
  return decode_document<Workload>(json);
}

FAIRWAY_K8S_INSTANTIATE(Workload)

}  // namespace fairway::k8s
