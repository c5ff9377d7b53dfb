#include "sim/apiserver/api_handler.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "k8s-client/json_limits.h"
#include "sim/apiserver/admission_webhooks.h"
#include "sim/apiserver/events_v1.h"
#include "sim/apiserver/json_util.h"
#include "sim/apiserver/protobuf.h"
#include "sim/apiserver/rbac.h"
#include "sim/apiserver/request_info.h"
#include "sim/apiserver/schema.h"
#include "sim/apiserver/table.h"

namespace fairway::apiserver {

using nlohmann::json;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Target {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
  std::string param(const std::string& key) const {
    const auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
  bool truthy(const std::string& key) const {
    const std::string v = param(key);
    return v == "1" || v == "true" || v == "True";
  }
};

Target parse_target(std::string_view target) {
  Target t;
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) t.segments.push_back(url_decode(path.substr(start, slash - start), false));
    start = slash + 1;
  }
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      const std::string_view kv = query.substr(0, amp);
      const size_t eq = kv.find('=');
      t.query[url_decode(kv.substr(0, eq), true)] =
          eq == std::string_view::npos ? std::string() : url_decode(kv.substr(eq + 1), true);
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return t;
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse object_response(int status, const Object& o) {
  HttpResponse r;
  r.status = status;
  r.body = *o.text;
  return r;
}

HttpResponse not_found_path() {
  return error_response(ApiError{
      404, "NotFound", "the server could not find the requested resource", json::object()});
}

json success_status(int code) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Success"},
          {"code", code}};
}

// Which field selectors each resource supports, as kube-apiserver's field label conversions.
bool field_supported(const ResourceType& type, const std::string& field) {
  if (field == "metadata.name" || field == "metadata.namespace") return true;
  static const std::set<std::string> kPod = {
      "spec.nodeName",           "spec.schedulerName",      "status.phase",
      "spec.restartPolicy",      "spec.serviceAccountName", "status.podIP",
      "status.nominatedNodeName"};
  static const std::set<std::string> kEvent = {"involvedObject.kind",
                                               "involvedObject.namespace",
                                               "involvedObject.name",
                                               "involvedObject.uid",
                                               "involvedObject.apiVersion",
                                               "involvedObject.resourceVersion",
                                               "involvedObject.fieldPath",
                                               "reason",
                                               "reportingComponent",
                                               "source",
                                               "type"};
  switch (type.special) {
    case Special::kPod:
      return kPod.contains(field);
    case Special::kEvent:
      return kEvent.contains(field);
    case Special::kNode:
      return field == "spec.unschedulable";
    case Special::kNamespace:
      return field == "status.phase";
    case Special::kDra:  // how a node's kubelet and a driver list their slices
      return type.plural == "resourceslices" &&
             (field == "spec.nodeName" || field == "spec.driver");
    default:
      return false;
  }
}

bool wants_table(const std::string& accept) {
  // kubectl: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;..."
  return accept.find("as=Table") != std::string::npos &&
         accept.find("g=meta.k8s.io") != std::string::npos;
}

IncludeObject include_object(const Target& t) {
  const std::string v = t.param("includeObject");
  if (v == "None") return IncludeObject::kNone;
  if (v == "Object") return IncludeObject::kObject;
  return IncludeObject::kMetadata;
}

}  // namespace

HttpResponse error_response(const ApiError& error) {
  HttpResponse r;
  r.status = error.code;
  r.body = error.status().dump();
  if (error.retry_after_seconds > 0 || error.code == 429) {
    r.headers.emplace_back("Retry-After", std::to_string(std::max(1, error.retry_after_seconds)));
  }
  return r;
}

bool ApiHandler::is_api_path(std::string_view target) {
  return target.starts_with("/api/") || target == "/api" || target.starts_with("/apis") ||
         target.starts_with("/api?");
}

ApiHandler::ApiHandler(Store& store, Faults& faults, ApiHandlerOptions options)
    : store_(store), faults_(faults), options_(std::move(options)) {}

// The per-request work, split from the class to keep the header small.
struct ApiHandler::Impl {
  ApiHandler& h;
  const HttpRequest& req;
  Target t;
  std::function<void()> notify;

  Store& store() { return h.store_; }
  // Set while serving events.k8s.io/v1: the stored objects are core/v1 Events, converted.
  ResourceTypePtr view;
  Object out(const Object& o) const { return view ? v1_event_object(o) : o; }
  int minor() const { return h.options_.kubernetes_version.minor; }
  // policy/v1 Eviction: Kubernetes 1.22 and later.
  bool eviction_v1() const { return minor() >= 22; }

  HttpResponse discovery_root_core() {
    return json_response(
        200, {{"kind", "APIVersions"},
              {"versions", {"v1"}},
              {"serverAddressByClientCIDRs",
               {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", h.options_.server_address}}}}});
  }

  // Groups in registration order with their versions (the first is preferred).
  std::vector<std::pair<std::string, std::vector<std::string>>> groups() {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (const auto& rt : store().resources()) {
      if (rt->group.empty()) continue;
      auto it =
          std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == rt->group; });
      if (it == out.end()) {
        out.emplace_back(rt->group, std::vector<std::string>{});
        it = out.end() - 1;
      }
      for (const auto& v : rt->versions) {
        if (rt->served_at(v, minor()) &&
            std::find(it->second.begin(), it->second.end(), v) == it->second.end()) {
          it->second.push_back(v);
        }
      }
    }
    std::erase_if(out, [](const auto& g) { return g.second.empty(); });
    return out;
  }

  static json group_json(const std::string& name, const std::vector<std::string>& versions) {
    json vs = json::array();
    for (const auto& v : versions) vs.push_back({{"groupVersion", name + "/" + v}, {"version", v}});
    return {{"name", name}, {"versions", vs}, {"preferredVersion", vs.front()}};
  }

  HttpResponse discovery_groups() {
    json list = json::array();
    for (const auto& [name, versions] : groups()) list.push_back(group_json(name, versions));
    return json_response(200, {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}});
  }

  HttpResponse discovery_group(const std::string& group) {
    for (const auto& [name, versions] : groups()) {
      if (name != group) continue;
      json g = group_json(name, versions);
      g["kind"] = "APIGroup";
      g["apiVersion"] = "v1";
      return json_response(200, g);
    }
    return not_found_path();
  }

  HttpResponse discovery_resources(const std::string& group, const std::string& version) {
    json resources = json::array();
    bool any = false;
    for (const auto& rt : store().resources()) {
      if (rt->group != group || !rt->served_at(version, minor())) continue;
      any = true;
      json r = {{"name", rt->plural},
                {"singularName", rt->singular},
                {"namespaced", rt->namespaced},
                {"kind", rt->kind},
                {"verbs", rt->verbs}};
      if (!rt->short_names.empty()) r["shortNames"] = rt->short_names;
      if (!rt->categories.empty()) r["categories"] = rt->categories;
      resources.push_back(std::move(r));
      for (const Subresource& s : rt->subresources) {
        json sr = {{"name", rt->plural + "/" + s.name},
                   {"singularName", ""},
                   {"namespaced", rt->namespaced},
                   {"kind", s.kind},
                   {"verbs", s.verbs}};
        if (!s.group.empty()) sr["group"] = s.group;
        if (!s.version.empty()) sr["version"] = s.version;
        if (s.name == "eviction" && !eviction_v1()) sr["version"] = "v1beta1";
        resources.push_back(std::move(sr));
      }
    }
    if (!any) return not_found_path();
    return json_response(200, {{"kind", "APIResourceList"},
                               {"apiVersion", "v1"},
                               {"groupVersion", group.empty() ? version : group + "/" + version},
                               {"resources", resources}});
  }

  HttpResponse version() {
    const KubernetesVersion& v = h.options_.kubernetes_version;
    return json_response(200, {{"major", "1"},
                               {"minor", std::to_string(v.minor)},
                               {"gitVersion", v.git_version()},
                               {"gitCommit", "0000000000000000000000000000000000000000"},
                               {"gitTreeState", "clean"},
                               {"buildDate", "2024-01-01T00:00:00Z"},
                               {"goVersion", "n/a"},
                               {"compiler", "fairway"},
                               {"platform", "linux/amd64"}});
  }

  HttpResponse openapi() {
    HttpResponse r;
    // kubectl 1.20 asks for protobuf; an empty message is a valid, empty openapi_v2.Document,
    // so validation finds no schemas and skips (what kubectl does for unknown kinds).
    if (req.accept.find("protobuf") != std::string::npos) {
      r.content_type = "application/octet-stream";
      return r;
    }
    r.body = json{{"swagger", "2.0"},
                  {"info",
                   {{"title", "fairway embedded API server"},
                    {"version", h.options_.kubernetes_version.git_version()}}},
                  {"paths", json::object()},
                  {"definitions", json::object()}}
                 .dump();
    return r;
  }

  HttpResponse faults_endpoint() {
    if (req.method == "GET") return json_response(200, h.faults_.to_json());
    if (req.method != "POST" && req.method != "PUT") {
      return error_response(method_not_allowed(req.method));
    }
    const json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
    if (body.is_discarded()) return error_response(bad_request("invalid JSON"));
    if (auto ok = h.faults_.update_from_json(body); !ok)
      return error_response(bad_request(ok.error()));
    json out = h.faults_.to_json();
    if (flag(body, "compact", false)) {
      store().compact();
      out["compactedAt"] = std::to_string(store().resource_version());
    }
    if (flag(body, "dropWatches", false)) {
      const size_t n = store().close_all_watches();
      h.faults_.count_dropped_watches(n);
      out["watchesDropped"] = n;
    }
    return json_response(200, out);
  }

  tl::expected<ListOptions, ApiError> list_options(const ResourceType& rt) {
    ListOptions o;
    auto labels = LabelSelector::parse(t.param("labelSelector"));
    if (!labels) return tl::unexpected(bad_request(labels.error()));
    o.labels = std::move(*labels);
    auto fields = FieldSelector::parse(view ? core_event_field_selector(t.param("fieldSelector"))
                                            : t.param("fieldSelector"));
    if (!fields) return tl::unexpected(bad_request(fields.error()));
    for (const auto& r : fields->requirements()) {
      if (!field_supported(rt, r.field)) {
        return tl::unexpected(bad_request("field label not supported: " + r.field));
      }
    }
    o.fields = std::move(*fields);
    if (const std::string limit = t.param("limit"); !limit.empty()) {
      if (std::from_chars(limit.data(), limit.data() + limit.size(), o.limit).ec != std::errc() ||
          o.limit < 0) {
        return tl::unexpected(bad_request("invalid limit \"" + limit + "\""));
      }
    }
    o.continue_token = t.param("continue");
    o.resource_version = t.param("resourceVersion");
    o.resource_version_match = t.param("resourceVersionMatch");
    return o;
  }

  HttpResponse list(const ResourceType& rt, const std::string& version, const std::string& ns) {
    auto options = list_options(rt);
    if (!options) return error_response(options.error());
    auto result = store().list(rt, ns, *options);
    if (!result) return error_response(result.error());
    const std::string rv = std::to_string(result->resource_version);
    if (wants_table(req.accept)) {
      HttpResponse r;
      r.body = render_table(rt, result->items, std::chrono::system_clock::now(), include_object(t),
                            rv, result->continue_token)
                   .dump();
      return r;
    }
    std::string body;
    size_t size = 256;
    for (const Object& o : result->items) size += o.text->size() + 1;
    body.reserve(size);
    const ResourceType& named = view ? *view : rt;
    body += fmt::format(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"",
        named.list_kind, named.api_version(version), rv);
    if (!result->continue_token.empty()) {
      body += fmt::format(",\"continue\":\"{}\"", result->continue_token);
      if (result->remaining >= 0)
        body += fmt::format(",\"remainingItemCount\":{}", result->remaining);
    }
    body += "},\"items\":[";
    for (size_t i = 0; i < result->items.size(); ++i) {
      if (i) body += ',';
      body += *out(result->items[i]).text;
    }
    body += "]}";
    HttpResponse r;
    r.body = std::move(body);
    return r;
  }

  ApiReply watch(const ResourceTypePtr& rt, const std::string& ns) {
    auto options = list_options(*rt);
    if (!options) return error_response(options.error());
    WatchOptions w;
    w.labels = std::move(options->labels);
    w.fields = std::move(options->fields);
    w.resource_version = t.param("resourceVersion");
    w.notify = notify;
    if (view && !wants_table(req.accept)) {
      w.encoder = [](WatchEventType type, const Object& o) {
        return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", watch_event_name(type),
                           *v1_event_object(o).text);
      };
    }
    if (wants_table(req.accept)) {
      const IncludeObject include = include_object(t);
      w.encoder = [rt, include](WatchEventType type, const Object& o) {
        const json table = render_table(*rt, {o}, std::chrono::system_clock::now(), include,
                                        std::to_string(o.resource_version));
        return fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", watch_event_name(type),
                           table.dump());
      };
    }
    auto watcher = store().watch(*rt, ns, std::move(w));
    if (!watcher) return error_response(watcher.error());
    WatchStream stream;
    stream.watcher = std::move(*watcher);
    stream.bookmarks = t.truthy("allowWatchBookmarks");
    if (const std::string ts = t.param("timeoutSeconds"); !ts.empty()) {
      int64_t seconds = 0;
      if (std::from_chars(ts.data(), ts.data() + ts.size(), seconds).ec != std::errc() ||
          seconds < 0) {
        store().stop_watch(stream.watcher);
        return error_response(bad_request("invalid timeoutSeconds \"" + ts + "\""));
      }
      if (seconds > 0) stream.timeout = std::chrono::seconds(seconds);
    }
    return stream;
  }

  tl::expected<json, ApiError> body_json() {
    if (is_protobuf_content_type(req.content_type)) {
      auto decoded = decode_protobuf_object(req.body);
      if (!decoded) {
        return tl::unexpected(bad_request(
            "the body of the request could not be decoded as protobuf: " + decoded.error()));
      }
      return std::move(*decoded);
    }
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return tl::unexpected(bad_request("the body of the request could not be decoded as JSON"));
    }
    return body;
  }

  tl::expected<DeleteOptions, ApiError> delete_options() {
    DeleteOptions o;
    json body;
    if (!req.body.empty() && is_protobuf_content_type(req.content_type)) {
      auto decoded = body_json();  // a typed client's DeleteOptions: never ignored
      if (!decoded) return tl::unexpected(decoded.error());
      body = std::move(*decoded);
    } else if (!req.body.empty()) {
      body = json::parse(req.body, nullptr, false);
    }
    if (!body.is_null() && !body.is_discarded()) {
      // kubectl delete --dry-run=server sends it here, not in the query: refused, not carried out.
      if (const json& dry = member(body, "dryRun"); dry.is_array() && !dry.empty()) {
        return tl::unexpected(bad_request(
            "dryRun is supported on create only by the embedded API server, not on DELETE"));
      }
      auto parsed = DeleteOptions::from_json(body);
      if (!parsed) return tl::unexpected(parsed.error());
      o = *parsed;
    }
    if (const std::string g = t.param("gracePeriodSeconds"); !g.empty()) {
      int64_t seconds = 0;
      if (std::from_chars(g.data(), g.data() + g.size(), seconds).ec != std::errc()) {
        return tl::unexpected(bad_request("invalid gracePeriodSeconds"));
      }
      o.grace_period_seconds = seconds;
    }
    return o;
  }

  // Table for a single object (kubectl get NAME).
  HttpResponse object_or_table(int status, const ResourceType& rt, const Object& o) {
    if (!wants_table(req.accept)) return object_response(status, out(o));
    HttpResponse r;
    r.status = status;
    r.body = render_table(rt, {o}, std::chrono::system_clock::now(), include_object(t),
                          std::to_string(o.resource_version))
                 .dump();
    return r;
  }

  // events.k8s.io/v1: the same verbs on the stored core/v1 Events, bodies converted both ways.
  ApiReply events_v1_request(const ResourceTypePtr& events_v1, const std::string& ns,
                             const std::string& name, const std::string& version) {
    view = events_v1;
    const ResourceTypePtr core = store().resource("", "events");
    if (!core) return not_found_path();
    const std::string& m = req.method;
    if (ns.empty() && (!name.empty() || m == "POST")) return not_found_path();
    const auto body = [&]() -> tl::expected<json, ApiError> {
      auto parsed = body_json();
      if (!parsed) return parsed;
      return core_event_from_v1(*parsed);
    };
    if (name.empty() && m == "GET") {
      if (t.truthy("watch")) return watch(core, ns);
      return list(*core, version, ns);
    }
    if (name.empty() && m == "POST") {
      auto event = body();
      if (!event) return error_response(event.error());
      auto created = store().create(*core, ns, std::move(*event));
      if (!created) return error_response(created.error());
      return object_or_table(201, *core, *created);
    }
    if (name.empty()) return error_response(method_not_allowed(m));
    if (m == "GET") {
      auto o = store().get(*core, ns, name);
      if (!o) return error_response(o.error());
      return object_or_table(200, *core, *o);
    }
    if (m == "PUT") {
      auto event = body();
      if (!event) return error_response(event.error());
      auto o = store().update(*core, ns, name, std::move(*event), false);
      if (!o) return error_response(o.error());
      return object_or_table(200, *core, *o);
    }
    if (m == "PATCH") {
      // The patch is written against the events.k8s.io/v1 form: apply it there, store it back
      // with the read's resourceVersion (a concurrent write gets a 409, as a retry resolves).
      auto type = patch_type_from_content_type(req.content_type);
      if (!type) return error_response(type.error());
      auto current = store().get(*core, ns, name);
      if (!current) return error_response(current.error());
      auto patched = apply_patch(v1_event_from_core(*current->json), *type, req.body);
      if (!patched) return error_response(patched.error());
      json next = core_event_from_v1(*patched);
      next["metadata"]["resourceVersion"] = std::to_string(current->resource_version);
      auto o = store().update(*core, ns, name, std::move(next), false);
      if (!o) return error_response(o.error());
      return object_or_table(200, *core, *o);
    }
    if (m == "DELETE") {
      auto del = delete_options();
      if (!del) return error_response(del.error());
      auto o = store().remove(*core, ns, name, *del);
      if (!o) return error_response(o.error());
      return object_response(200, out(*o));
    }
    return error_response(method_not_allowed(m));
  }

  // TokenReview and SubjectAccessReview (reviews.h): answered, never stored.
  ApiReply review(const ResourceType& rt) {
    auto body = body_json();
    if (!body) return error_response(body.error());
    if (t.param("dryRun") == "All") return json_response(201, *body);
    tl::expected<json, ApiError> answer = tl::unexpected(not_found(rt.plural, rt.group, ""));
    if (rt.plural == "tokenreviews") {
      answer = answer_token_review(*body, h.options_.token, h.options_.token_users);
    } else {
      auto rbac = rbac_objects();
      if (!rbac) return error_response(rbac.error());
      answer = answer_access_review(*body, *rbac);
    }
    if (!answer) return error_response(answer.error());
    return json_response(201, *answer);
  }

  // Every stored ClusterRole, ClusterRoleBinding, Role and RoleBinding (read per decision: the
  // embedded server keeps no RBAC cache).
  tl::expected<RbacObjects, ApiError> rbac_objects() {
    RbacObjects rbac;
    for (auto [plural, into] :
         {std::pair{"clusterroles", &rbac.cluster_roles},
          std::pair{"clusterrolebindings", &rbac.cluster_role_bindings},
          std::pair{"roles", &rbac.roles}, std::pair{"rolebindings", &rbac.role_bindings}}) {
      const ResourceTypePtr type = store().resource("rbac.authorization.k8s.io", plural);
      auto listed =
          type ? store().list(*type, "", ListOptions{}) : tl::unexpected(internal(plural));
      if (!listed) return tl::unexpected(listed.error());
      for (const Object& o : listed->items) into->push_back(*o.json);
    }
    return rbac;
  }

  // A --token-auth-file user's request, authorized as kube-apiserver authorizes it: discovery
  // for every authenticated user (the bootstrap ClusterRole system:discovery), the rest by RBAC.
  std::optional<ApiReply> refused(const TokenUser& user) {
    const RequestInfo info = resolve_request_info(req.method, req.target);
    if (!info.resource_request && info.verb == "get" && is_discovery_path(info.path)) {
      return std::nullopt;
    }
    auto rbac = rbac_objects();
    if (!rbac) return error_response(rbac.error());
    AccessSubject subject{user.user, user.groups};
    subject.groups.push_back("system:authenticated");
    const AccessAttributes attributes{
        info.resource_request, info.verb,       info.api_group, info.resource,
        info.subresource,      info.namespace_, info.name,      info.path};
    if (authorize(*rbac, subject, attributes).allowed) return std::nullopt;
    if (!info.resource_request) {
      return error_response(request_forbidden(
          "", "", "",
          fmt::format("User \"{}\" cannot {} path \"{}\"", user.user, info.verb, info.path)));
    }
    const std::string resource =
        info.subresource.empty() ? info.resource : info.resource + "/" + info.subresource;
    const std::string scope = info.namespace_.empty()
                                  ? std::string("at the cluster scope")
                                  : fmt::format("in the namespace \"{}\"", info.namespace_);
    return error_response(request_forbidden(
        info.resource, info.api_group, info.name,
        fmt::format("User \"{}\" cannot {} resource \"{}\" in API group \"{}\" {}", user.user,
                    info.verb, resource, info.api_group, scope)));
  }

  static bool is_discovery_path(std::string_view path) {
    for (std::string_view root : {"/api", "/apis", "/openapi", "/version"}) {
      if (path == root ||
          (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/')) {
        return true;
      }
    }
    return false;
  }

  // A write's options checked as kube-apiserver's ValidateCreateOptions (and its Update and
  // Patch twins) do, before anything else: an unknown dryRun or fieldValidation value is 422.
  std::optional<ApiError> write_options_error(const std::string& method) {
    const char* options = method == "POST"    ? "CreateOptions"
                          : method == "PUT"   ? "UpdateOptions"
                          : method == "PATCH" ? "PatchOptions"
                                              : nullptr;
    if (options == nullptr) return std::nullopt;
    if (const std::string dry = t.param("dryRun"); !dry.empty() && dry != "All") {
      return invalid(
          options, "meta.k8s.io", "", "dryRun",
          fmt::format("Unsupported value: []string{{\"{}\"}}: supported values: \"All\"", dry));
    }
    if (const std::string mode = t.param("fieldValidation");
        !mode.empty() && mode != "Ignore" && mode != "Warn" && mode != "Strict") {
      return invalid(options, "meta.k8s.io", "", "fieldValidation",
                     fmt::format("Unsupported value: \"{}\": supported values: \"\", \"Ignore\", "
                                 "\"Strict\", \"Warn\"",
                                 mode));
    }
    return std::nullopt;
  }

  // fieldValidation on a custom resource's create or replace, as kube-apiserver's: Strict
  // refuses unknown fields (400), Warn (the default) and Ignore store the object pruned, Warn
  // with a Warning header per field. PATCH is not checked (docs/embedded-apiserver.md).
  tl::expected<std::vector<std::string>, ApiError> field_warnings(const ResourceType& rt,
                                                                  const std::string& version,
                                                                  const json& body) {
    if (rt.special != Special::kCustomResource || !rt.schema) return std::vector<std::string>{};
    const std::string mode = t.param("fieldValidation");
    if (mode == "Ignore") return std::vector<std::string>{};
    std::vector<std::string> warnings;
    for (const std::string& field : unknown_fields(body, *rt.schema)) {
      warnings.push_back(fmt::format("unknown field \"{}\"", field));
    }
    if (mode == "Strict" && !warnings.empty()) {
      std::string all;
      for (const std::string& w : warnings) all += (all.empty() ? "" : ", ") + w;
      return tl::unexpected(bad_request(
          fmt::format("{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                      rt.kind, version, rt.kind, all)));
    }
    return warnings;
  }
  // The answer with one `Warning: 299 - "..."` header per warning (RFC 7234, as kube-apiserver).
  static HttpResponse warned(HttpResponse response, const std::vector<std::string>& warnings) {
    for (const std::string& w : warnings) {
      response.headers.emplace_back("Warning", "299 - " + json(w).dump());
    }
    return response;
  }

  ApiReply resource_request(const std::string& group, const std::string& version,
                            std::vector<std::string> rest) {
    std::string ns;
    if (rest.size() >= 3 && rest[0] == "namespaces" && rest[2] != "status" &&
        rest[2] != "finalize") {
      ns = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    }
    if (rest.empty() || rest.size() > 3) return not_found_path();
    const ResourceTypePtr rt = store().resource(group, rest[0]);
    if (!rt || !rt->served_at(version, minor())) return not_found_path();
    if (!ns.empty() && !rt->namespaced) return not_found_path();
    const std::string name = rest.size() >= 2 ? rest[1] : "";
    const std::string sub = rest.size() == 3 ? rest[2] : "";
    if (!sub.empty() && !rt->has_subresource(sub)) return not_found_path();
    if (rt->special == Special::kEventsV1) return events_v1_request(rt, ns, name, version);
    if (rt->namespaced && ns.empty() && (!name.empty() || req.method == "POST")) {
      return not_found_path();
    }
    const std::string& m = req.method;
    if (auto bad = write_options_error(m)) return error_response(*bad);
    // A dry run is honoured on create only: any other write would really happen, so it is
    // refused rather than carried out (docs/embedded-apiserver.md).
    if (!t.param("dryRun").empty() && m != "GET" && !(m == "POST" && name.empty())) {
      return error_response(bad_request(
          fmt::format("dryRun is supported on create only by the embedded API server, not on {} {}",
                      m, sub.empty() ? rt->plural : rt->plural + "/" + sub)));
    }

    if (rt->special == Special::kReview) {
      if (m != "POST" || !name.empty()) return error_response(method_not_allowed(m));
      return review(*rt);
    }

    // Legacy POST /api/v1/namespaces/{ns}/bindings.
    if (rt->plural == "bindings" && group.empty()) {
      if (m != "POST" || !name.empty()) return error_response(method_not_allowed("bindings"));
      auto body = body_json();
      if (!body) return error_response(body.error());
      auto ok = store().bind(ns, str(member(*body, "metadata"), "name"), *body);
      if (!ok) return error_response(ok.error());
      return json_response(201, success_status(201));
    }

    if (name.empty()) {
      if (m == "GET") {
        if (t.truthy("watch")) return watch(rt, ns);
        return list(*rt, version, ns);
      }
      if (m == "POST") {
        auto body = body_json();
        if (!body) return error_response(body.error());
        auto warnings = field_warnings(*rt, version, *body);
        if (!warnings) return error_response(warnings.error());
        if (t.param("dryRun") == "All") {  // every check, nothing stored; webhooks not called
          auto preview = store().create(*rt, ns, std::move(*body), true);
          if (!preview) return error_response(preview.error());
          return warned(object_or_table(201, *rt, *preview), *warnings);
        }
        if (rt->special == Special::kPod) {
          // Pods go through mutating admission webhooks, as kube-apiserver sends them.
          auto admitted = run_mutating_webhooks(store(), *rt, ns, std::move(*body));
          if (!admitted) return error_response(admitted.error());
          body = std::move(*admitted);
        }
        auto created = store().create(*rt, ns, std::move(*body));
        if (!created) return error_response(created.error());
        return warned(object_or_table(201, *rt, *created), *warnings);
      }
      if (m == "DELETE") {
        auto options = list_options(*rt);
        if (!options) return error_response(options.error());
        auto del = delete_options();
        if (!del) return error_response(del.error());
        auto removed = store().remove_collection(*rt, ns, *options, *del);
        if (!removed) return error_response(removed.error());
        std::vector<Object> items = std::move(*removed);
        std::string body = fmt::format(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"}},"
            "\"items\":[",
            rt->list_kind, rt->api_version(version), store().resource_version());
        for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + *items[i].text;
        body += "]}";
        HttpResponse r;
        r.body = std::move(body);
        return r;
      }
      return error_response(method_not_allowed(m));
    }

    if (sub == "binding") {
      if (m != "POST") return error_response(method_not_allowed(m));
      auto body = body_json();
      if (!body) return error_response(body.error());
      const std::string body_name = str(member(*body, "metadata"), "name");
      if (!body_name.empty() && body_name != name) {
        return error_response(bad_request("the name of the binding (" + body_name +
                                          ") does not match the pod (" + name + ")"));
      }
      auto ok = store().bind(ns, name, *body);
      if (!ok) return error_response(ok.error());
      return json_response(201, success_status(201));
    }
    if (sub == "eviction") {
      if (m != "POST") return error_response(method_not_allowed(m));
      auto body = body_json();
      if (!body) return error_response(body.error());
      if (!eviction_v1() && str(*body, "apiVersion") == "policy/v1") {
        return error_response(
            bad_request("no kind \"Eviction\" is registered for version \"policy/v1\" in scheme "
                        "\"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\""));
      }
      auto ok = store().evict(ns, name, *body);
      if (!ok) return error_response(ok.error());
      return json_response(201, success_status(201));
    }
    const bool status_only = sub == "status";
    if (m == "GET") {
      if (t.truthy("watch")) return not_found_path();
      auto o = store().get(*rt, ns, name);
      if (!o) return error_response(o.error());
      return object_or_table(200, *rt, *o);
    }
    if (m == "PUT") {
      auto body = body_json();
      if (!body) return error_response(body.error());
      auto warnings = field_warnings(*rt, version, *body);
      if (!warnings) return error_response(warnings.error());
      auto o = store().update(*rt, ns, name, std::move(*body), status_only);
      if (!o) return error_response(o.error());
      return warned(object_or_table(200, *rt, *o), *warnings);
    }
    if (m == "PATCH") {
      auto type = patch_type_from_content_type(req.content_type);
      if (!type) return error_response(type.error());
      auto o = store().patch(*rt, ns, name, *type, req.body, status_only);
      if (!o) return error_response(o.error());
      return object_or_table(200, *rt, *o);
    }
    if (m == "DELETE" && !status_only) {
      auto del = delete_options();
      if (!del) return error_response(del.error());
      auto o = store().remove(*rt, ns, name, *del);
      if (!o) return error_response(o.error());
      return object_response(200, out(*o));
    }
    return error_response(method_not_allowed(m));
  }

  ApiReply route() {
    const auto& s = t.segments;
    if (s.empty()) {
      json paths = {"/api",   "/api/v1", "/apis",    "/healthz",
                    "/livez", "/readyz", "/version", "/openapi/v2"};
      return json_response(200, {{"paths", paths}});
    }
    if (s[0] == "healthz" || s[0] == "livez" || s[0] == "readyz") {
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "ok";
      return r;
    }
    if (s[0] == "version" && s.size() == 1) return version();
    if (s[0] == "openapi") return openapi();
    if (s[0] == "fairway-sim" && s.size() == 2 && s[1] == "faults") return faults_endpoint();
    if (s[0] == "api") {
      if (s.size() == 1) return discovery_root_core();
      if (s[1] != "v1") return not_found_path();
      if (s.size() == 2) return discovery_resources("", "v1");
      return resource_request("", "v1", {s.begin() + 2, s.end()});
    }
    if (s[0] == "apis") {
      if (s.size() == 1) return discovery_groups();
      if (s.size() == 2) return discovery_group(s[1]);
      if (s.size() == 3) return discovery_resources(s[1], s[2]);
      return resource_request(s[1], s[2], {s.begin() + 3, s.end()});
    }
    return not_found_path();
  }
};

ApiReply ApiHandler::handle(const HttpRequest& request, std::function<void()> notify) {
  Impl impl{*this, request, parse_target(request.target), std::move(notify), nullptr};
  const auto& s = impl.t.segments;
  const bool public_path =
      !s.empty() && s.size() == 1 &&
      (s[0] == "healthz" || s[0] == "livez" || s[0] == "readyz" || s[0] == "version");
  if (!options_.token.empty() && !public_path &&
      request.authorization != "Bearer " + options_.token) {
    const auto user = std::find_if(
        options_.token_users.begin(), options_.token_users.end(),
        [&request](const TokenUser& u) { return request.authorization == "Bearer " + u.token; });
    if (user == options_.token_users.end()) {
      return error_response(ApiError{401, "Unauthorized", "Unauthorized", nullptr});
    }
    if (auto refusal = impl.refused(*user)) return std::move(*refusal);
  }
  // Before any body is parsed: nlohmann's dump() and the merge-patch functions recurse, so a
  // body nested deeper than kMaxJsonDepth would overflow the stack (kube-apiserver, through Go's
  // encoding/json, refuses JSON nested past its own limit with a 400 as well).
  if (!is_protobuf_content_type(request.content_type) &&
      !k8s::json_depth_within(request.body, k8s::kMaxJsonDepth)) {
    return error_response(bad_request("the body of the request nests JSON deeper than " +
                                      std::to_string(k8s::kMaxJsonDepth) + " levels"));
  }
  try {
    return impl.route();
  } catch (const std::exception& e) {
    // The edge: anything unexpected becomes a 500 Status, never a dropped connection.
    return error_response(internal(e.what()));
  }
}

}  // namespace fairway::apiserver
