// Decoding fairway's Queues: quotas, limits, weights, the namespace selector, and the usage
// history fairway writes in their status.
#include <fmt/format.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "k8s-client/decode_support.h"
#include "k8s-client/objects.h"
#include "queues/usage_history.h"

namespace fairway::k8s::decoding {
namespace {

R read_queue_resource(dom::element value, std::string_view resource, QueueResourceSpec& out) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "quota") {
      if (is_null(field)) return {};
      return within("quota", read_quantity(field, resource, out.quota));
    }
    if (key == "limit") {
      if (is_null(field)) return {};
      int64_t limit = 0;
      if (R r = read_quantity(field, resource, limit); !r) return within("limit", std::move(r));
      out.limit = limit;
      return {};
    }
    if (key == "overQuotaWeight") {
      if (is_null(field)) return {};
      double weight = 0;
      if (field.is_string()) {  // tolerated: "2" from int-or-string habits
        std::string_view text;
        if (auto code = field.get_string().get(text)) return within("overQuotaWeight", fail(code));
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), weight);
        if (ec != std::errc() || end != text.data() + text.size()) {
          return within("overQuotaWeight", fail(fmt::format("\"{}\" is not a number", text)));
        }
      } else if (R r = read_double(field, weight); !r) {
        return within("overQuotaWeight", std::move(r));
      }
      if (!(weight >= 0) || !std::isfinite(weight)) {
        return within("overQuotaWeight", fail(fmt::format("{} must be >= 0", weight)));
      }
      out.over_quota_weight = weight;
      return {};
    }
    return {};
  });
}

R read_queue_spec(dom::element value, QueueSpec& queue) {
  return for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "parent") return within("parent", read_string(field, queue.parent));
    if (key == "priority") {
      if (is_null(field)) return {};
      return within("priority", read_int32(field, queue.priority));
    }
    if (key == "resources") {
      return within("resources",
                    for_each_field(field, [&](std::string_view name, dom::element entry) -> R {
                      QueueResourceSpec spec;
                      if (R r = read_queue_resource(entry, name, spec); !r) {
                        return within(name, std::move(r));
                      }
                      queue.resources.insert_or_assign(std::string(name), spec);
                      return {};
                    }));
    }
    if (key == "preemptMinRuntime") {
      return within("preemptMinRuntime",
                    read_duration_seconds(field, queue.preempt_min_runtime_seconds));
    }
    if (key == "reclaimMinRuntime") {
      return within("reclaimMinRuntime",
                    read_duration_seconds(field, queue.reclaim_min_runtime_seconds));
    }
    if (key == "namespaceSelector") {
      if (is_null(field)) return {};
      // A selector that cannot be read closes the queue (matches no namespace) rather than
      // failing the whole Queue: its quotas still count, and the reason is in every message.
      LabelSelector& selector = queue.namespace_selector.emplace();
      if (R r = within("namespaceSelector", read_label_selector(field, selector)); !r) {
        selector = LabelSelector{};
        selector.invalid = "spec." + describe(r.error());
      }
      return {};
    }
    return {};
  });
}

// status.usage, as fairway writes it: {time: RFC 3339, shares: {RESOURCE: "0.1250"}}. Only a
// whole, well-formed record is kept: a partial one would restart some resources' history.
R read_past_usage(dom::element value, std::optional<PastUsage>& out) {
  PastUsage usage;
  bool timed = false;
  R r = for_each_field(value, [&](std::string_view key, dom::element field) -> R {
    if (key == "time") {
      std::string text;
      if (R t = read_string(field, text); !t) return within("time", std::move(t));
      auto at = parse_rfc3339_ms(text);
      if (!at) return within("time", fail(at.error()));
      usage.at_ms = *at;
      timed = true;
      return {};
    }
    if (key == "shares") {
      Labels shares;
      if (R m = read_string_map(field, shares); !m) return within("shares", std::move(m));
      for (const auto& [resource, text] : shares) {
        const auto share = parse_usage_share(text);
        if (!share) return within("shares", within(resource, fail("not a share: " + text)));
        usage.shares.emplace(resource, *share);
      }
    }
    return {};
  });
  if (r && timed) out = std::move(usage);
  return r;
}

}  // namespace

template <>
struct Codec<QueueSpec> {
  static R decode(dom::object object, Decoded<QueueSpec>& out) {
    R r = for_each_field(object, [&](std::string_view key, dom::element field) -> R {
      if (key == "metadata") return within("metadata", read_meta(field, out.meta, {}));
      if (key == "spec") {
        // A spec that cannot be read still names a queue: it is kept with the problem, so the
        // Queue gets Valid=False/InvalidSpec and its pods say why, instead of vanishing.
        if (R spec = within("spec", read_queue_spec(field, out.object)); !spec) {
          out.object.problems.push_back(describe(spec.error()));
        }
        return {};
      }
      if (key == "status" && !is_null(field)) {
        // fairway's own record; one it cannot read starts the queue's history afresh.
        (void)for_each_field(field, [&](std::string_view status_key, dom::element value) -> R {
          if (status_key == "usage" && !is_null(value)) {
            (void)read_past_usage(value, out.object.past_usage);
          }
          return {};
        });
      }
      return {};
    });
    out.object.name = out.meta.name;
    return r;
  }
};

}  // namespace fairway::k8s::decoding

namespace fairway::k8s {

tl::expected<Decoded<QueueSpec>, std::string> decode_queue(std::string_view json) {
  return decode_document<QueueSpec>(json);
}

FAIRWAY_K8S_INSTANTIATE(QueueSpec)

}  // namespace fairway::k8s
