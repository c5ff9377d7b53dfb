#include "sim/apiserver/store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <regex>
#include <set>
#include <string_view>

#include "sim/apiserver/admission.h"
#include "sim/apiserver/base64.h"
#include "sim/apiserver/dra_validation.h"
#include "sim/apiserver/json_util.h"
#include "sim/apiserver/schema.h"
#include "sim/apiserver/workload_validation.h"
#include "sim/apiserver/workloads.h"

namespace fairway::apiserver {

using nlohmann::json;
using std::chrono::system_clock;

namespace {

const json& meta(const json& obj) {
  return member(obj, "metadata");
}
const json& labels_of(const json& obj) {
  return member(meta(obj), "labels");
}

bool is_terminal_phase(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

std::string pod_qos(const json& pod) {
  bool any = false;
  bool guaranteed = true;
  for (const auto& c : member(member(pod, "spec"), "containers")) {
    const json& res = member(c, "resources");
    const json& req = member(res, "requests");
    const json& lim = member(res, "limits");
    if ((req.is_object() && !req.empty()) || (lim.is_object() && !lim.empty())) any = true;
    for (const char* r : {"cpu", "memory"}) {
      const json& l = member(lim, r);
      const json& q = member(req, r);
      if (l.is_null() || (!q.is_null() && q != l)) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

json strip_for_generation(const json& obj) {
  json copy = obj;
  if (copy.is_object()) {
    copy.erase("metadata");
    copy.erase("status");
  }
  return copy;
}

// policy/v1 intOrString against a count: percentages round up.
int64_t scaled(const json& v, int64_t total) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') {
      const double pct = std::atof(s.substr(0, s.size() - 1).c_str());
      return static_cast<int64_t>(std::ceil(pct * static_cast<double>(total) / 100.0));
    }
    return std::atoll(s.c_str());
  }
  return 0;
}

bool pod_healthy(const json& pod) {
  if (!meta(pod).contains("deletionTimestamp")) {
    const json& status = member(pod, "status");
    if (str(status, "phase") != "Running") return false;
    for (const auto& c : member(status, "conditions")) {
      if (str(c, "type") == "Ready" && str(c, "status") == "False") return false;
    }
    return true;
  }
  return false;
}

// Why `text` is not a resource.Quantity, in apimachinery's words (ParseQuantity), or nothing:
// a signed decimal number, then a binary (Ki..Ei) or decimal (n, u, m, k, M, G, T, P, E) suffix
// or an exponent (e3, E-2).
std::optional<std::string> quantity_error(std::string_view text) {
  static const std::string kFormatWrong =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  size_t at = text.starts_with('+') || text.starts_with('-') ? 1 : 0;
  size_t digits = 0;
  for (bool dot = false; at < text.size(); ++at) {
    if (text[at] >= '0' && text[at] <= '9') {
      ++digits;
    } else if (text[at] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits == 0) return kFormatWrong;
  const std::string_view suffix = text.substr(at);
  static const std::set<std::string_view> kSuffixes = {
      "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (kSuffixes.contains(suffix)) return std::nullopt;
  static const std::regex kExponent("[eE][-+]?[0-9]+");
  static const std::regex kFormat("[eEinumkKMGTP]*[-+]?[0-9]*");
  const std::string rest(suffix);
  if (std::regex_match(rest, kExponent)) return std::nullopt;
  if (!std::regex_match(rest, kFormat)) return kFormatWrong;
  return "unable to parse quantity's suffix";
}

// kube-apiserver serialises resource.Quantity as a string ("1", "8Gi") whatever the client
// sent; clients that decode only strings must work here too. A value that is no quantity fails
// decoding, before any validation: the reason why, or nothing.
std::optional<std::string> normalize_quantity_list(json& list) {
  if (!list.is_object()) return std::nullopt;
  for (auto& [k, v] : list.items()) {
    if (v.is_number_integer()) {
      v = std::to_string(v.get<int64_t>());
    } else if (v.is_number()) {
      v = fmt::format("{}", v.get<double>());
    } else if (!v.is_string() && !v.is_null()) {
      return quantity_error("");
    } else if (v.is_string()) {
      if (auto why = quantity_error(v.get<std::string>())) return why;
    }
  }
  return std::nullopt;
}

// The quantities of pods and nodes as kube-apiserver decodes them: numbers become strings, and
// a value that is no quantity is a 400 (`Pod in version "v1" cannot be handled as a Pod: ...`).
tl::expected<void, ApiError> normalize_quantities(json& obj, const ResourceType& type) {
  std::vector<json*> lists;
  if (type.special == Special::kPod && obj.contains("spec") && obj["spec"].is_object()) {
    for (const char* group : {"containers", "initContainers"}) {
      json& containers = obj["spec"][group];
      if (!containers.is_array()) {
        if (containers.is_null()) obj["spec"].erase(group);
        continue;
      }
      for (auto& c : containers) {
        if (!c.is_object() || !c.contains("resources") || !c["resources"].is_object()) continue;
        for (const char* kind : {"requests", "limits"}) {
          if (c["resources"].contains(kind)) lists.push_back(&c["resources"][kind]);
        }
      }
    }
    if (obj["spec"].contains("overhead")) lists.push_back(&obj["spec"]["overhead"]);
  }
  if (type.special == Special::kNode && obj.contains("status") && obj["status"].is_object()) {
    for (const char* kind : {"capacity", "allocatable"}) {
      if (obj["status"].contains(kind)) lists.push_back(&obj["status"][kind]);
    }
  }
  for (json* list : lists) {
    if (auto why = normalize_quantity_list(*list)) {
      const std::string version = type.versions.empty() ? "v1" : type.versions.front();
      return tl::unexpected(
          bad_request(fmt::format("{} in version \"{}\" cannot be handled as a {}: {}", type.kind,
                                  version, type.kind, *why)));
    }
  }
  return {};
}

// Custom resources are pruned, defaulted and validated against their CRD's schema on every
// write, the status subresource's included (sim/apiserver/schema.h).
tl::expected<void, ApiError> admit(const ResourceType& type, json& object) {
  if (type.special != Special::kCustomResource || !type.schema) return {};
  return admit_custom_resource(type.kind, type.group, *type.schema, object);
}

}  // namespace

std::string object_key(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}

std::string format_rfc3339(system_clock::time_point t) {
  const std::time_t tt = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<system_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return system_clock::from_time_t(timegm(&tm));
}

const char* watch_event_name(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "ERROR";
}

// ---- Watcher ----------------------------------------------------------------------------------

Watcher::Drained Watcher::drain(size_t max_bytes) {
  Drained out;
  std::lock_guard lock(mu_);
  while (!queue_.empty() && out.data.size() < max_bytes) {
    out.data += *queue_.front();
    queue_.pop_front();
  }
  out.finished = closed_ && queue_.empty();
  return out;
}

void Watcher::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

bool Watcher::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

size_t Watcher::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool Watcher::push(std::shared_ptr<const std::string> line) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (queue_.size() >= max_queued_) {
      // Too slow: end the watch rather than block writers or grow without bound. The client
      // resumes from the last resourceVersion it saw, as after any closed watch.
      closed_ = true;
    } else {
      queue_.push_back(std::move(line));
    }
  }
  if (notify_) notify_();
  return !closed();
}

void Watcher::close_and_notify() {
  close();
  if (notify_) notify_();
}

tl::expected<DeleteOptions, ApiError> DeleteOptions::from_json(const json& body) {
  DeleteOptions o;
  if (!body.is_object()) return o;
  const json& grace = member(body, "gracePeriodSeconds");
  if (grace.is_number_integer()) o.grace_period_seconds = grace.get<int64_t>();
  const json& pre = member(body, "preconditions");
  o.precondition_uid = str(pre, "uid");
  o.precondition_resource_version = str(pre, "resourceVersion");
  return o;
}

// ---- Store ------------------------------------------------------------------------------------

Store::Store(StoreOptions options, Clock clock)
    : options_(options),
      clock_(clock ? std::move(clock) : Clock([] { return system_clock::now(); })),
      rng_(std::random_device{}()) {
  std::unique_lock lock(mu_);
  for (ResourceType& t : builtin_resource_types()) register_locked(std::move(t));
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
    Table* t = &tables_.at("/namespaces");
    (void)prepare_create_locked(*t->type, obj);
    commit_locked(*t, ns, std::move(obj), WatchEventType::kAdded, nullptr);
  }
  Table& pcs = tables_.at("scheduling.k8s.io/priorityclasses");
  for (json pc : system_priority_classes()) {
    (void)prepare_create_locked(*pcs.type, pc);
    const std::string name = str(meta(pc), "name");
    commit_locked(pcs, name, std::move(pc), WatchEventType::kAdded, nullptr);
  }
}

std::vector<const json*> Store::priority_classes_locked(const std::string& except) const {
  std::vector<const json*> out;
  for (const auto& [name, o] : tables_.at("scheduling.k8s.io/priorityclasses").objects) {
    if (name != except) out.push_back(o.json.get());
  }
  return out;
}

void Store::register_locked(ResourceType type) {
  const std::string key = type.key();
  auto ptr = std::make_shared<const ResourceType>(std::move(type));
  auto [it, inserted] = tables_.try_emplace(key);
  it->second.type = std::move(ptr);
  if (inserted) order_.push_back(key);
}

ResourceTypePtr Store::resource(const std::string& group, const std::string& plural) const {
  std::shared_lock lock(mu_);
  const auto it = tables_.find(group + "/" + plural);
  return it == tables_.end() ? nullptr : it->second.type;
}

std::vector<ResourceTypePtr> Store::resources() const {
  std::shared_lock lock(mu_);
  std::vector<ResourceTypePtr> out;
  for (const auto& key : order_) out.push_back(tables_.at(key).type);
  return out;
}

Store::Table* Store::table_locked(const ResourceType& type) {
  const auto it = tables_.find(type.key());
  return it == tables_.end() ? nullptr : &it->second;
}

tl::expected<Store::Existing, ApiError> Store::existing_locked(const ResourceType& type,
                                                               const std::string& ns,
                                                               const std::string& name) {
  Table* table = table_locked(type);
  if (!table) return tl::unexpected(not_found(type.plural, type.group, name));
  std::string key = object_key(type.namespaced ? ns : "", name);
  const auto it = table->objects.find(key);
  if (it == table->objects.end()) return tl::unexpected(not_found(type.plural, type.group, name));
  Object object = it->second;
  return Existing{table, std::move(key), std::move(object)};
}

const Store::Table* Store::table_locked(const ResourceType& type) const {
  const auto it = tables_.find(type.key());
  return it == tables_.end() ? nullptr : &it->second;
}

std::string Store::now_rfc3339() const {
  return format_rfc3339(clock_());
}

uint64_t Store::resource_version() const {
  std::shared_lock lock(mu_);
  return rv_;
}

size_t Store::watcher_count() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [k, t] : tables_) {
    for (const auto& w : t.watchers) n += w->closed() ? 0 : 1;
  }
  return n;
}

size_t Store::object_count(const ResourceType& type) const {
  std::shared_lock lock(mu_);
  const Table* t = table_locked(type);
  return t ? t->objects.size() : 0;
}

std::string Store::random_suffix_locked(size_t n) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kAlphabet[rng_() % kAlphabet.size()];
  return out;
}

std::string Store::uid_locked() {
  const uint64_t a = rng_();
  const uint64_t b = rng_();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffffULL);
}

Object Store::commit_locked(Table& table, const std::string& key, json object, WatchEventType type,
                            const Object* previous) {
  const uint64_t rv = ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  Object stored{std::make_shared<const json>(std::move(object)), nullptr, rv};
  stored.text = std::make_shared<const std::string>(stored.json->dump());
  if (type == WatchEventType::kDeleted) {
    table.objects.erase(key);
  } else {
    table.objects.insert_or_assign(key, stored);
  }
  HistoryEntry entry{rv, table.type->key(), type, stored, previous ? *previous : Object{}};
  dispatch_locked(table, entry);
  for (const auto& observed : table.observers) observed.second(type, stored);
  history_.push_back(std::move(entry));
  while (history_.size() > options_.history_window) {
    compacted_rv_ = std::max(compacted_rv_, history_.front().rv);
    history_.pop_front();
  }
  return stored;
}

void Store::deliver(Watcher& w, WatchEventType type, const Object& object, const Object* previous,
                    std::shared_ptr<const std::string>* cache) const {
  const json& obj = *object.json;
  if (!w.namespace_.empty() && str(meta(obj), "namespace") != w.namespace_) return;
  const auto passes = [&](const json& o) {
    return w.labels_.matches(labels_of(o)) && w.fields_.matches(o);
  };
  const bool now = passes(obj);
  WatchEventType out = type;
  if (type == WatchEventType::kModified && previous && previous->json) {
    const bool before = passes(*previous->json);
    if (!now && !before) return;
    if (now && !before) out = WatchEventType::kAdded;
    if (!now && before) out = WatchEventType::kDeleted;
  } else if (!now) {
    return;
  }
  std::shared_ptr<const std::string> line;
  if (w.encoder_) {
    line = std::make_shared<const std::string>(w.encoder_(out, object));
  } else {
    auto& cached = cache[static_cast<int>(out)];
    if (!cached) {
      cached = std::make_shared<const std::string>(
          fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", watch_event_name(out), *object.text));
    }
    line = cached;
  }
  w.push(std::move(line));
}

void Store::dispatch_locked(Table& table, const HistoryEntry& entry) {
  if (table.watchers.empty()) return;
  std::shared_ptr<const std::string> cache[5];
  for (const auto& w : table.watchers) {
    deliver(*w, entry.type, entry.object, entry.previous.json ? &entry.previous : nullptr, cache);
  }
  std::erase_if(table.watchers, [](const std::shared_ptr<Watcher>& w) { return w->closed(); });
}

// ---- create -----------------------------------------------------------------------------------

tl::expected<void, ApiError> Store::prepare_create_locked(const ResourceType& type, json& obj) {
  json& md = obj["metadata"];
  const std::string now = format_rfc3339(clock_());
  md["uid"] = uid_locked();
  md["creationTimestamp"] = now;
  md["generation"] = 1;
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  md.erase("managedFields");
  switch (type.special) {
    case Special::kNamespace:
      md["labels"]["kubernetes.io/metadata.name"] = md["name"];
      if (!obj.contains("spec")) obj["spec"] = {{"finalizers", {"kubernetes"}}};
      obj["status"] = {{"phase", "Active"}};
      break;
    case Special::kPod: {
      json& spec = obj["spec"];
      if (!spec.is_object() || !spec.contains("containers") || !spec["containers"].is_array() ||
          spec["containers"].empty()) {
        return tl::unexpected(
            invalid("Pod", "", str(md, "name"), "spec.containers", "Required value"));
      }
      if (!spec.contains("schedulerName")) spec["schedulerName"] = "default-scheduler";
      if (!spec.contains("terminationGracePeriodSeconds"))
        spec["terminationGracePeriodSeconds"] = 30;
      if (!spec.contains("restartPolicy")) spec["restartPolicy"] = "Always";
      if (!spec.contains("dnsPolicy")) spec["dnsPolicy"] = "ClusterFirst";
      if (auto ok = admit_pod_priority(obj, priority_classes_locked()); !ok) {
        return tl::unexpected(ok.error());
      }
      // Like kube-apiserver: status is the server's, not the creator's.
      obj["status"] = {{"phase", "Pending"}, {"qosClass", pod_qos(obj)}};
      break;
    }
    case Special::kPriorityClass:
      if (auto ok = admit_priority_class(obj, priority_classes_locked(str(md, "name")), true);
          !ok) {
        return tl::unexpected(ok.error());
      }
      break;
    case Special::kSecret:
      if (auto ok = normalize_secret(obj); !ok) return tl::unexpected(ok.error());
      break;
    case Special::kWorkload:
      if (auto ok = validate_workload(obj, nullptr); !ok) return tl::unexpected(ok.error());
      break;
    case Special::kDra:
      // A new claim's status is the server's: allocation comes later, through status.
      if (type.status_subresource) obj.erase("status");
      default_dra_object(type.kind, obj);
      if (auto ok = validate_dra_object(type.kind, obj, nullptr); !ok) {
        return tl::unexpected(ok.error());
      }
      break;
    case Special::kPodDisruptionBudget:
      obj["status"] = {{"currentHealthy", 0},
                       {"desiredHealthy", 0},
                       {"disruptionsAllowed", 0},
                       {"expectedPods", 0},
                       {"observedGeneration", 1}};
      break;
    case Special::kEvent:
      if (!obj.contains("firstTimestamp") && !obj.contains("eventTime"))
        obj["firstTimestamp"] = now;
      if (!obj.contains("lastTimestamp") && !obj.contains("eventTime")) obj["lastTimestamp"] = now;
      if (!obj.contains("count")) obj["count"] = 1;
      break;
    case Special::kCustomResourceDefinition: {
      auto rt = resource_type_from_crd(obj);
      if (!rt) {
        return tl::unexpected(invalid("customresourcedefinitions", "apiextensions.k8s.io",
                                      str(md, "name"), "spec", rt.error()));
      }
      if (str(md, "name") != rt->plural + "." + rt->group) {
        return tl::unexpected(invalid("customresourcedefinitions", "apiextensions.k8s.io",
                                      str(md, "name"), "metadata.name",
                                      "must be spec.names.plural+\".\"+spec.group"));
      }
      break;
    }
    case Special::kCustomResource:
      if (type.status_subresource) obj.erase("status");
      break;
    case Special::kNone:
    case Special::kNode:
    case Special::kEventsV1:  // never stored: the handler writes core/v1 events
    case Special::kReview:    // never stored: answered by the handler (reviews.h)
      break;
  }
  if (is_apps_controller(type)) {
    if (auto ok = validate_apps_controller(type, obj, nullptr); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  // Like kube-apiserver, a new volume's or claim's status is the server's (it resets both).
  // No PV controller runs here, so its first sync is done at once: a volume becomes Available,
  // a claim Pending; binding them is left to clients (fairway's volume binding, a test).
  if (type.group.empty() && type.plural == "persistentvolumes") {
    obj["status"] = {{"phase", "Available"}};
  } else if (type.group.empty() && type.plural == "persistentvolumeclaims") {
    obj["status"] = {{"phase", "Pending"}};
  }
  return {};
}

namespace {

json crd_status(const json& crd, const std::string& now) {
  json names = member(member(crd, "spec"), "names");
  std::string storage;
  for (const auto& v : member(member(crd, "spec"), "versions")) {
    if (flag(v, "storage", false)) storage = str(v, "name");
  }
  json conditions = json::array();
  for (const char* c : {"NamesAccepted", "Established"}) {
    conditions.push_back(
        {{"type", c},
         {"status", "True"},
         {"lastTransitionTime", now},
         {"reason", std::string(c) == "Established" ? "InitialNamesAccepted" : "NoConflicts"},
         {"message", std::string(c) == "Established" ? "the initial names have been accepted"
                                                     : "no conflicts found"}});
  }
  return {{"acceptedNames", names}, {"conditions", conditions}, {"storedVersions", {storage}}};
}

}  // namespace

tl::expected<Object, ApiError> Store::create(const ResourceType& type, const std::string& ns,
                                             json body, bool dry_run) {
  if (!body.is_object()) return tl::unexpected(bad_request("the body must be a JSON object"));
  json& md = body["metadata"];
  if (!md.is_object()) md = json::object();
  const std::string kind = str(body, "kind");
  if (!kind.empty() && kind != type.kind) {
    return tl::unexpected(bad_request("the kind \"" + kind +
                                      "\" of the object does not match "
                                      "the resource " +
                                      qualified(type.plural, type.group)));
  }
  body["kind"] = type.kind;
  if (str(body, "apiVersion").empty()) body["apiVersion"] = type.storage_api_version();
  if (type.namespaced) {
    const std::string body_ns = str(md, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      return tl::unexpected(
          bad_request("the namespace of the provided object does not match the "
                      "namespace sent on the request"));
    }
    md["namespace"] = ns;
  } else {
    md.erase("namespace");
  }
  std::unique_lock lock(mu_);
  Table* table = table_locked(type);
  if (!table) return tl::unexpected(not_found(type.plural, type.group, ""));
  if (type.namespaced) {  // NamespaceLifecycle
    const Table& namespaces = tables_.at("/namespaces");
    const auto it = namespaces.objects.find(ns);
    if (it == namespaces.objects.end()) return tl::unexpected(not_found("namespaces", "", ns));
    if (meta(*it->second.json).contains("deletionTimestamp")) {
      return tl::unexpected(namespace_terminating(type.plural, type.group, str(md, "name"), ns));
    }
  }
  std::string name = str(md, "name");
  if (name.empty()) {
    const std::string prefix = str(md, "generateName");
    if (prefix.empty()) {
      return tl::unexpected(invalid(type.plural, type.group, "", "metadata.name",
                                    "name or generateName is required"));
    }
    do {
      name = prefix + random_suffix_locked(5);
    } while (table->objects.contains(object_key(ns, name)));
    md["name"] = name;
  }
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return tl::unexpected(
        invalid(type.plural, type.group, name, "metadata.name", "may not contain '/'"));
  }
  const std::string key = object_key(type.namespaced ? ns : "", name);
  if (table->objects.contains(key)) {
    return tl::unexpected(already_exists(type.plural, type.group, name));
  }
  if (auto ok = prepare_create_locked(type, body); !ok) return tl::unexpected(ok.error());
  if (auto ok = admit(type, body); !ok) return tl::unexpected(ok.error());
  if (auto ok = normalize_quantities(body, type); !ok) return tl::unexpected(ok.error());
  if (type.special == Special::kCustomResourceDefinition) {
    body["status"] = crd_status(body, format_rfc3339(clock_()));
    auto rt = resource_type_from_crd(body);
    if (tables_.contains(rt->key()) &&
        tables_.at(rt->key()).type->special != Special::kCustomResource) {
      return tl::unexpected(invalid("customresourcedefinitions", "apiextensions.k8s.io", name,
                                    "spec.names.plural", "conflicts with a built-in resource"));
    }
    if (!dry_run) {
      register_locked(std::move(*rt));
      table = table_locked(type);  // rehash may have moved it
    }
  }
  if (dry_run) {
    Object preview{std::make_shared<const json>(std::move(body)), nullptr, 0};
    preview.text = std::make_shared<const std::string>(preview.json->dump());
    return preview;
  }
  return commit_locked(*table, key, std::move(body), WatchEventType::kAdded, nullptr);
}

// ---- read -------------------------------------------------------------------------------------

tl::expected<Object, ApiError> Store::get(const ResourceType& type, const std::string& ns,
                                          const std::string& name) const {
  std::shared_lock lock(mu_);
  const Table* table = table_locked(type);
  if (!table) return tl::unexpected(not_found(type.plural, type.group, name));
  const auto it = table->objects.find(object_key(type.namespaced ? ns : "", name));
  if (it == table->objects.end()) return tl::unexpected(not_found(type.plural, type.group, name));
  return it->second;
}

namespace {

constexpr const char* kContinueTooOld =
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list.";

std::string encode_continue(uint64_t rv, const std::string& start) {
  const json token = {{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start}};
  return base64_encode(token.dump());
}

ApiError invalid_list_options(const std::string& reason, const std::string& body) {
  json d = error_details("", "meta.k8s.io", "ListOptions");
  d["causes"] =
      json::array({{{"reason", reason}, {"message", body}, {"field", "resourceVersionMatch"}}});
  return {422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: " + body,
          d};
}

// What a LIST's resourceVersion asks for, checked as kube-apiserver checks ListOptions.
struct ListRead {
  bool whole = false;  // the state as it is, in one response: limit ignored, no continue
  bool exact = false;  // exactly the named resourceVersion
  uint64_t rv = 0;
};

tl::expected<ListRead, ApiError> list_read(const ListOptions& o) {
  const std::string& rv = o.resource_version;
  const std::string& match = o.resource_version_match;
  if (!match.empty()) {
    if (match != "NotOlderThan" && match != "Exact") {
      return tl::unexpected(invalid_list_options(
          "FieldValueNotSupported",
          "Unsupported value: \"" + match + "\": supported values: \"Exact\", \"NotOlderThan\""));
    }
    if (rv.empty()) {
      return tl::unexpected(
          invalid_list_options("FieldValueForbidden",
                               "Forbidden: resourceVersionMatch is forbidden unless "
                               "resourceVersion is provided"));
    }
    if (!o.continue_token.empty()) {
      return tl::unexpected(invalid_list_options(
          "FieldValueForbidden",
          "Forbidden: resourceVersionMatch is forbidden when continue is provided"));
    }
    if (match == "Exact" && rv == "0") {
      return tl::unexpected(invalid_list_options(
          "FieldValueForbidden",
          "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
    }
  }
  ListRead read;
  if (rv.empty()) return read;
  if (!o.continue_token.empty()) {
    if (rv == "0") return read;
    return tl::unexpected(
        bad_request("specifying resource version is not allowed when using continue"));
  }
  size_t used = 0;
  try {
    read.rv = std::stoull(rv, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != rv.size() || rv.empty() || rv[0] == '-' || rv[0] == '+') {
    return tl::unexpected(bad_request("invalid resource version \"" + rv + "\""));
  }
  read.exact = read.rv != 0 && (match == "Exact" || (match.empty() && o.limit > 0));
  read.whole = !read.exact;
  return read;
}

}  // namespace

tl::expected<ListResult, ApiError> Store::list(const ResourceType& type, const std::string& ns,
                                               const ListOptions& options) const {
  std::string start;
  uint64_t token_rv = 0;
  if (!options.continue_token.empty()) {
    const auto decoded = base64_decode(options.continue_token);
    const json token = decoded ? json::parse(*decoded, nullptr, false) : json();
    if (!token.is_object() || !member(token, "rv").is_number_unsigned() ||
        !member(token, "start").is_string()) {
      return tl::unexpected(
          bad_request("continue key is not valid: incorrect encoded start "
                      "resourceVersion (version meta.k8s.io/v1)"));
    }
    token_rv = token["rv"].get<uint64_t>();
    start = token["start"].get<std::string>();
  }
  const auto read = list_read(options);
  if (!read) return tl::unexpected(read.error());
  std::shared_lock lock(mu_);
  if (!options.continue_token.empty() && token_rv < continue_compacted_rv_) {
    return tl::unexpected(expired(kContinueTooOld));
  }
  if (read->rv > rv_) {
    // kube-apiserver waits a few seconds for its cache to catch up, then answers this.
    ApiError e{504, "Timeout",
               fmt::format("Too large resource version: {}, current: {}", read->rv, rv_),
               json::object()};
    e.details["causes"] = json::array(
        {{{"reason", "ResourceVersionTooLarge"}, {"message", "Too large resource version"}}});
    e.details["retryAfterSeconds"] = 1;
    e.retry_after_seconds = 1;
    return tl::unexpected(std::move(e));
  }
  if (read->exact && read->rv < rv_) {
    // Only the current state is kept (no MVCC history), as etcd after a compaction.
    return tl::unexpected(expired("The resourceVersion for the provided list is too old."));
  }
  const int64_t limit = read->whole ? 0 : options.limit;
  const Table* table = table_locked(type);
  if (!table) return tl::unexpected(not_found(type.plural, type.group, ""));
  ListResult result;
  // A continued list answers with the first page's resourceVersion and contents, as with etcd.
  result.resource_version = token_rv ? token_rv : rv_;
  std::shared_ptr<const Objects> snapshot;
  if (!options.continue_token.empty()) {
    std::lock_guard snapshots_lock(snapshots_mu_);
    for (const ListSnapshot& s : list_snapshots_) {
      if (s.resource_key == type.key() && s.rv == token_rv) snapshot = s.objects;
    }
    if (!snapshot) return tl::unexpected(expired(kContinueTooOld));
  }
  const Objects& objects = snapshot ? *snapshot : table->objects;
  const std::string prefix = type.namespaced && !ns.empty() ? ns + "/" : "";
  auto it = objects.lower_bound(std::max(start, prefix));
  const auto end = prefix.empty() ? objects.end() : objects.lower_bound(ns + "0");  // '0' > '/'
  const bool filtered = !options.labels.empty() || !options.fields.empty();
  for (; it != end; ++it) {
    const json& obj = *it->second.json;
    if (filtered && !(options.labels.matches(labels_of(obj)) && options.fields.matches(obj))) {
      continue;
    }
    if (limit > 0 && static_cast<int64_t>(result.items.size()) == limit) {
      result.continue_token = encode_continue(result.resource_version, it->first);
      if (!snapshot) {  // the first page of a cut-short LIST: keep what the next pages read
        std::lock_guard snapshots_lock(snapshots_mu_);
        list_snapshots_.push_back(
            {type.key(), result.resource_version, std::make_shared<const Objects>(objects)});
        if (list_snapshots_.size() > kMaxListSnapshots) list_snapshots_.pop_front();
      }
      int64_t remaining = 0;
      for (; it != end; ++it) {
        const json& o = *it->second.json;
        if (!filtered || (options.labels.matches(labels_of(o)) && options.fields.matches(o))) {
          ++remaining;
        }
      }
      result.remaining = remaining;
      break;
    }
    result.items.push_back(it->second);
  }
  return result;
}

// ---- update / patch ---------------------------------------------------------------------------

tl::expected<Object, ApiError> Store::replace_locked(Table& table, const std::string& key,
                                                     const Object& old, json next,
                                                     bool status_only) {
  const ResourceType& type = *table.type;
  const json& prev = *old.json;
  const std::string name = str(meta(prev), "name");
  if (!next.is_object()) return tl::unexpected(bad_request("the body must be a JSON object"));
  const std::string want_rv = str(meta(next), "resourceVersion");
  if (!want_rv.empty() && want_rv != std::to_string(old.resource_version)) {
    return tl::unexpected(conflict(type.plural, type.group, name,
                                   "the object has been modified; please apply your changes to "
                                   "the latest version and try again"));
  }
  const std::string next_name = str(meta(next), "name");
  if (!next_name.empty() && next_name != name) {
    return tl::unexpected(bad_request("the name of the object (" + next_name +
                                      ") does not match the name on the URL (" + name + ")"));
  }
  if (status_only) {
    json merged = prev;
    if (next.contains("status")) {
      merged["status"] = next["status"];
    } else {
      merged.erase("status");
    }
    next = std::move(merged);
    if (type.special == Special::kDra) {
      if (auto ok = validate_resource_claim_status(next, prev); !ok) {
        return tl::unexpected(ok.error());
      }
    }
  } else {
    if (!next["metadata"].is_object()) next["metadata"] = json::object();
    json& md = next["metadata"];
    for (const char* f : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"}) {
      if (meta(prev).contains(f)) {
        md[f] = meta(prev)[f];
      } else {
        md.erase(f);
      }
    }
    if (type.status_subresource) {
      if (prev.contains("status")) {
        next["status"] = prev["status"];
      } else {
        next.erase("status");
      }
    }
    if (type.special == Special::kSecret) {
      if (auto ok = normalize_secret(next); !ok) return tl::unexpected(ok.error());
    }
    if (type.special == Special::kPriorityClass) {
      if (member(next, "value") != member(prev, "value")) {
        return tl::unexpected(invalid("PriorityClass", "scheduling.k8s.io", name, "value",
                                      "Forbidden: may not be changed in an update."));
      }
      if (auto ok = admit_priority_class(next, priority_classes_locked(name), false); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    if (type.special == Special::kWorkload) {
      if (auto ok = validate_workload(next, &prev); !ok) return tl::unexpected(ok.error());
    }
    if (type.special == Special::kDra) {
      default_dra_object(type.kind, next);
      if (auto ok = validate_dra_object(type.kind, next, &prev); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    if (is_apps_controller(type)) {
      if (auto ok = validate_apps_controller(type, next, &prev); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    if (type.special == Special::kPod) {
      const std::string bound = str(member(prev, "spec"), "nodeName");
      if (!bound.empty() && next["spec"].is_object()) next["spec"]["nodeName"] = bound;
    }
    if (type.special == Special::kCustomResourceDefinition) {
      auto rt = resource_type_from_crd(next);
      if (!rt) {
        return tl::unexpected(
            invalid("customresourcedefinitions", "apiextensions.k8s.io", name, "spec", rt.error()));
      }
      next["status"] = prev.contains("status") ? prev["status"] : crd_status(next, now_rfc3339());
      register_locked(std::move(*rt));
    }
  }
  next["kind"] = type.kind;
  if (str(next, "apiVersion").empty()) next["apiVersion"] = prev["apiVersion"];
  if (auto ok = admit(type, next); !ok) return tl::unexpected(ok.error());
  if (auto ok = normalize_quantities(next, type); !ok) return tl::unexpected(ok.error());
  next["metadata"]["resourceVersion"] = std::to_string(old.resource_version);
  if (next == prev) return old;  // no-op writes do not bump the resourceVersion
  if (strip_for_generation(next) != strip_for_generation(prev)) {
    next["metadata"]["generation"] = member(meta(prev), "generation").is_number_integer()
                                         ? meta(prev)["generation"].get<int64_t>() + 1
                                         : 1;
  }
  // The last finalizer removed from an object being deleted completes the deletion.
  const json& md = next["metadata"];
  if (md.contains("deletionTimestamp") &&
      (!md.contains("finalizers") || md["finalizers"].empty())) {
    const auto when = parse_rfc3339(str(md, "deletionTimestamp"));
    if (!when || *when <= clock_()) {
      Object modified = commit_locked(table, key, std::move(next), WatchEventType::kModified, &old);
      return erase_locked(table, key, modified);
    }
  }
  return commit_locked(table, key, std::move(next), WatchEventType::kModified, &old);
}

tl::expected<Object, ApiError> Store::update(const ResourceType& type, const std::string& ns,
                                             const std::string& name, json body, bool status_only) {
  std::unique_lock lock(mu_);
  auto found = existing_locked(type, ns, name);
  if (!found) return tl::unexpected(found.error());
  if (body.is_object() && body.contains("kind") && body["kind"] != type.kind) {
    return tl::unexpected(bad_request("the kind of the object does not match the resource"));
  }
  return replace_locked(*found->table, found->key, found->object, std::move(body), status_only);
}

tl::expected<Object, ApiError> Store::patch(const ResourceType& type, const std::string& ns,
                                            const std::string& name, PatchType patch_type,
                                            std::string_view patch_text, bool status_only) {
  std::unique_lock lock(mu_);
  auto found = existing_locked(type, ns, name);
  if (!found) return tl::unexpected(found.error());
  auto patched = apply_patch(*found->object.json, patch_type, patch_text);
  if (!patched) return tl::unexpected(patched.error());
  return replace_locked(*found->table, found->key, found->object, std::move(*patched), status_only);
}

// ---- delete -----------------------------------------------------------------------------------

Object Store::erase_locked(Table& table, const std::string& key, const Object& current) {
  const ResourceType& type = *table.type;
  if (type.special == Special::kCustomResourceDefinition) {
    const auto rt = resource_type_from_crd(*current.json);
    if (rt) {
      const auto it = tables_.find(rt->key());
      if (it != tables_.end() && it->second.type->special == Special::kCustomResource) {
        for (const auto& w : it->second.watchers) w->close_and_notify();
        tables_.erase(it);
        std::erase(order_, rt->key());
      }
    }
  }
  if (type.special == Special::kNamespace) {
    // The namespace controller's work, done at once when a Terminating namespace is finalized:
    // its contents go without grace periods (see docs for the deviation).
    const std::string ns = str(meta(*current.json), "name");
    const std::string prefix = ns + "/";
    for (const std::string& rk : order_) {
      Table& t = tables_.at(rk);
      if (!t.type->namespaced) continue;
      std::vector<std::pair<std::string, Object>> doomed;
      for (auto it = t.objects.lower_bound(prefix);
           it != t.objects.end() && it->first.starts_with(prefix); ++it) {
        doomed.emplace_back(it->first, it->second);
      }
      for (auto& [k, o] : doomed)
        commit_locked(t, k, json(*o.json), WatchEventType::kDeleted, nullptr);
    }
  }
  return commit_locked(table, key, json(*current.json), WatchEventType::kDeleted, nullptr);
}

tl::expected<Object, ApiError> Store::delete_locked(Table& table, const std::string& key,
                                                    const Object& current,
                                                    const DeleteOptions& options) {
  const ResourceType& type = *table.type;
  const json& obj = *current.json;
  const std::string name = str(meta(obj), "name");
  if (!options.precondition_uid.empty() && options.precondition_uid != str(meta(obj), "uid")) {
    return tl::unexpected(
        conflict(type.plural, type.group, name,
                 "Precondition failed: UID in precondition: " + options.precondition_uid +
                     ", UID in object meta: " + str(meta(obj), "uid")));
  }
  if (!options.precondition_resource_version.empty() &&
      options.precondition_resource_version != std::to_string(current.resource_version)) {
    return tl::unexpected(conflict(
        type.plural, type.group, name,
        "Precondition failed: ResourceVersion in precondition: " +
            options.precondition_resource_version +
            ", ResourceVersion in object meta: " + std::to_string(current.resource_version)));
  }
  if (type.special == Special::kNamespace) return delete_namespace_locked(table, key, current);
  int64_t grace = 0;
  if (type.special == Special::kPod) {
    const json& spec = member(obj, "spec");
    const bool bound = !str(spec, "nodeName").empty();
    const bool terminal = is_terminal_phase(str(member(obj, "status"), "phase"));
    grace = options.grace_period_seconds.value_or(
        member(spec, "terminationGracePeriodSeconds").is_number_integer()
            ? spec["terminationGracePeriodSeconds"].get<int64_t>()
            : 30);
    // No kubelet will confirm termination: unbound or finished pods go at once, like
    // kube-apiserver; bound ones after their grace period (finalize_due).
    if (!bound || terminal) grace = 0;
    if (grace < 0) grace = 0;
  }
  const bool has_finalizers = meta(obj).contains("finalizers") && !meta(obj)["finalizers"].empty();
  if (meta(obj).contains("deletionTimestamp")) {
    // Already being deleted: a shorter grace period (e.g. 0: force) takes effect.
    if (!has_finalizers && options.grace_period_seconds && *options.grace_period_seconds == 0) {
      return erase_locked(table, key, current);
    }
    return current;
  }
  if (grace == 0 && !has_finalizers) return erase_locked(table, key, current);
  json next = obj;
  const auto now = clock_();
  const auto when = now + std::chrono::seconds(grace);
  next["metadata"]["deletionTimestamp"] = format_rfc3339(when);
  next["metadata"]["deletionGracePeriodSeconds"] = grace;
  if (grace > 0) {
    pending_deletes_.emplace(when, PendingDelete{type.key(), key, str(meta(obj), "uid")});
  }
  return commit_locked(table, key, std::move(next), WatchEventType::kModified, &current);
}

tl::expected<Object, ApiError> Store::delete_namespace_locked(Table& table, const std::string& key,
                                                              const Object& current) {
  const json& obj = *current.json;
  const std::string name = str(meta(obj), "name");
  if (immortal_namespace(name)) return tl::unexpected(namespace_immortal(name));
  if (meta(obj).contains("deletionTimestamp")) return current;
  json next = obj;
  const auto now = clock_();
  next["metadata"]["deletionTimestamp"] = format_rfc3339(now);
  next["metadata"]["deletionGracePeriodSeconds"] = 0;
  next["status"]["phase"] = "Terminating";
  // Due at once: the server's next housekeeping tick (finalize_due) empties and removes it.
  pending_deletes_.emplace(now, PendingDelete{table.type->key(), key, str(meta(obj), "uid")});
  return commit_locked(table, key, std::move(next), WatchEventType::kModified, &current);
}

tl::expected<Object, ApiError> Store::remove(const ResourceType& type, const std::string& ns,
                                             const std::string& name,
                                             const DeleteOptions& options) {
  std::unique_lock lock(mu_);
  auto found = existing_locked(type, ns, name);
  if (!found) return tl::unexpected(found.error());
  return delete_locked(*found->table, found->key, found->object, options);
}

tl::expected<std::vector<Object>, ApiError> Store::remove_collection(const ResourceType& type,
                                                                     const std::string& ns,
                                                                     const ListOptions& selection,
                                                                     const DeleteOptions& options) {
  auto listed = list(type, ns, ListOptions{selection.labels, selection.fields, 0, "", "", ""});
  if (!listed) return tl::unexpected(listed.error());
  std::vector<Object> out;
  std::unique_lock lock(mu_);
  Table* table = table_locked(type);
  if (!table) return tl::unexpected(not_found(type.plural, type.group, ""));
  for (const Object& o : listed->items) {
    const std::string key = object_key(type.namespaced ? str(meta(*o.json), "namespace") : "",
                                       str(meta(*o.json), "name"));
    const auto it = table->objects.find(key);
    if (it == table->objects.end()) continue;
    const Object current = it->second;
    auto removed = delete_locked(*table, key, current, options);
    if (removed) out.push_back(*removed);
  }
  return out;
}

size_t Store::finalize_due() {
  std::unique_lock lock(mu_);
  const auto now = clock_();
  size_t n = 0;
  while (!pending_deletes_.empty() && pending_deletes_.begin()->first <= now) {
    const PendingDelete pd = pending_deletes_.begin()->second;
    pending_deletes_.erase(pending_deletes_.begin());
    const auto t = tables_.find(pd.resource_key);
    if (t == tables_.end()) continue;
    const auto it = t->second.objects.find(pd.key);
    if (it == t->second.objects.end()) continue;
    const json& md = meta(*it->second.json);
    if (str(md, "uid") != pd.uid || !md.contains("deletionTimestamp")) continue;
    if (md.contains("finalizers") && !md["finalizers"].empty()) continue;
    const Object current = it->second;
    erase_locked(t->second, pd.key, current);
    ++n;
  }
  return n;
}

// ---- binding / eviction -----------------------------------------------------------------------

tl::expected<void, ApiError> Store::bind(const std::string& ns, const std::string& pod,
                                         const json& binding) {
  const json& target = member(binding, "target");
  const std::string node = str(target, "name");
  if (node.empty()) {
    return tl::unexpected(invalid("Binding", "", pod, "target.name", "Required value"));
  }
  const std::string kind = str(target, "kind");
  if (!kind.empty() && kind != "Node") {
    return tl::unexpected(
        invalid("Binding", "", pod, "target.kind", "Unsupported value: \"" + kind + "\""));
  }
  std::unique_lock lock(mu_);
  Table& pods = tables_.at("/pods");
  const std::string key = object_key(ns, pod);
  const auto it = pods.objects.find(key);
  if (it == pods.objects.end()) return tl::unexpected(not_found("pods", "", pod));
  const Object current = it->second;
  const json& obj = *current.json;
  const std::string want_uid = str(meta(binding), "uid");
  if (!want_uid.empty() && want_uid != str(meta(obj), "uid")) {
    return tl::unexpected(conflict("pods/binding", "", pod,
                                   "Precondition failed: UID in precondition: " + want_uid +
                                       ", UID in object meta: " + str(meta(obj), "uid")));
  }
  if (meta(obj).contains("deletionTimestamp")) {
    return tl::unexpected(conflict(
        "pods/binding", "", pod, "pod " + pod + " is being deleted, cannot be assigned to a host"));
  }
  const std::string bound = str(member(obj, "spec"), "nodeName");
  if (!bound.empty()) {
    return tl::unexpected(conflict(
        "pods/binding", "", pod, "pod " + pod + " is already assigned to node \"" + bound + "\""));
  }
  json next = obj;
  next["spec"]["nodeName"] = node;
  json& status = next["status"];
  json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  const json condition = {{"type", "PodScheduled"},
                          {"status", "True"},
                          {"lastProbeTime", nullptr},
                          {"lastTransitionTime", format_rfc3339(clock_())}};
  const auto c = std::find_if(conditions.begin(), conditions.end(),
                              [](const json& x) { return str(x, "type") == "PodScheduled"; });
  if (c == conditions.end()) {
    conditions.push_back(condition);
  } else {
    *c = condition;
  }
  for (const auto& [k, v] : member(meta(binding), "annotations").items()) {
    next["metadata"]["annotations"][k] = v;
  }
  commit_locked(pods, key, std::move(next), WatchEventType::kModified, &current);
  return {};
}

tl::expected<void, ApiError> Store::evict(const std::string& ns, const std::string& pod,
                                          const json& eviction) {
  auto options = DeleteOptions::from_json(member(eviction, "deleteOptions"));
  if (!options) return tl::unexpected(options.error());
  std::unique_lock lock(mu_);
  Table& pods = tables_.at("/pods");
  const std::string key = object_key(ns, pod);
  const auto it = pods.objects.find(key);
  if (it == pods.objects.end()) return tl::unexpected(not_found("pods", "", pod));
  const Object current = it->second;
  const json& obj = *current.json;
  if (meta(obj).contains("deletionTimestamp")) return {};
  const std::string phase = str(member(obj, "status"), "phase");
  if (phase != "Succeeded" && phase != "Failed" && phase != "Pending") {
    const Table& pdbs = tables_.at("policy/poddisruptionbudgets");
    std::vector<const json*> matching;
    for (auto p = pdbs.objects.lower_bound(ns + "/");
         p != pdbs.objects.end() && p->first.starts_with(ns + "/"); ++p) {
      auto sel = LabelSelector::from_json(member(member(*p->second.json, "spec"), "selector"));
      if (sel && sel->matches(labels_of(obj))) matching.push_back(p->second.json.get());
    }
    if (matching.size() > 1) {
      return tl::unexpected(internal(
          "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
          "not support."));
    }
    if (matching.size() == 1) {
      const json& pdb = *matching.front();
      const json& spec = member(pdb, "spec");
      auto sel = LabelSelector::from_json(member(spec, "selector"));
      int64_t expected_pods = 0;
      int64_t healthy = 0;
      for (auto p = pods.objects.lower_bound(ns + "/");
           p != pods.objects.end() && p->first.starts_with(ns + "/"); ++p) {
        const json& o = *p->second.json;
        if (!sel->matches(labels_of(o))) continue;
        if (is_terminal_phase(str(member(o, "status"), "phase"))) continue;
        ++expected_pods;
        if (pod_healthy(o)) ++healthy;
      }
      int64_t desired = 0;
      if (spec.contains("minAvailable")) {
        desired = scaled(spec["minAvailable"], expected_pods);
      } else if (spec.contains("maxUnavailable")) {
        desired =
            std::max<int64_t>(0, expected_pods - scaled(spec["maxUnavailable"], expected_pods));
      }
      {
        if (healthy - desired <= 0) {
          ApiError e{429, "TooManyRequests",
                     "Cannot evict pod as it would violate the pod's disruption budget.",
                     json::object()};
          e.details["causes"] = json::array(
              {{{"reason", "DisruptionBudget"},
                {"message", fmt::format("The disruption budget {} needs {} healthy pods and has "
                                        "{} currently",
                                        str(meta(pdb), "name"), desired, healthy)}}});
          return tl::unexpected(std::move(e));
        }
      }
    }
  }
  Table& table = pods;
  auto removed = delete_locked(table, key, current, *options);
  if (!removed) return tl::unexpected(removed.error());
  return {};
}

// ---- watch ------------------------------------------------------------------------------------

tl::expected<std::shared_ptr<Watcher>, ApiError> Store::watch(const ResourceType& type,
                                                              const std::string& ns,
                                                              WatchOptions options) {
  uint64_t from = 0;
  const bool from_now = options.resource_version.empty() || options.resource_version == "0";
  if (!from_now) {
    try {
      size_t used = 0;
      from = std::stoull(options.resource_version, &used);
      if (used != options.resource_version.size()) throw std::invalid_argument("rv");
    } catch (const std::exception&) {
      return tl::unexpected(
          bad_request("invalid resource version \"" + options.resource_version + "\""));
    }
  }
  auto w = std::make_shared<Watcher>();
  w->max_queued_ = options_.watcher_max_queued;
  w->notify_ = std::move(options.notify);
  w->resource_key_ = type.key();
  w->namespace_ = type.namespaced ? ns : "";
  w->labels_ = std::move(options.labels);
  w->fields_ = std::move(options.fields);
  w->encoder_ = std::move(options.encoder);
  w->kind_ = type.kind;
  w->api_version_ = type.storage_api_version();
  std::unique_lock lock(mu_);
  Table* table = table_locked(type);
  if (!table) return tl::unexpected(not_found(type.plural, type.group, ""));
  std::shared_ptr<const std::string> cache[5];
  if (from_now) {
    const std::string prefix = w->namespace_.empty() ? "" : w->namespace_ + "/";
    for (auto it = table->objects.lower_bound(prefix);
         it != table->objects.end() && it->first.starts_with(prefix); ++it) {
      std::fill(std::begin(cache), std::end(cache), nullptr);
      deliver(*w, WatchEventType::kAdded, it->second, nullptr, cache);
    }
  } else if (from < compacted_rv_) {
    const ApiError e =
        expired(fmt::format("too old resource version: {} ({})", from, compacted_rv_));
    w->queue_.push_back(std::make_shared<const std::string>(
        fmt::format("{{\"type\":\"ERROR\",\"object\":{}}}\n", e.status().dump())));
    w->closed_ = true;
    return w;
  } else {
    for (const HistoryEntry& e : history_) {
      if (e.rv <= from || e.resource_key != w->resource_key_) continue;
      std::fill(std::begin(cache), std::end(cache), nullptr);
      deliver(*w, e.type, e.object, e.previous.json ? &e.previous : nullptr, cache);
    }
  }
  table->watchers.push_back(w);
  return w;
}

void Store::bookmark(Watcher& watcher) {
  std::shared_lock lock(mu_);
  const std::string line = fmt::format(
      "{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{"
      "\"resourceVersion\":\"{}\",\"creationTimestamp\":null}}}}}}\n",
      watcher.kind_, watcher.api_version_, rv_);
  watcher.push(std::make_shared<const std::string>(line));
}

uint64_t Store::add_commit_observer(const ResourceType& type, CommitObserver observer) {
  std::unique_lock lock(mu_);
  Table* table = table_locked(type);
  if (!table) return 0;
  const uint64_t id = next_observer_id_++;
  table->observers.emplace_back(id, std::move(observer));
  return id;
}

void Store::remove_commit_observer(uint64_t id) {
  std::unique_lock lock(mu_);
  for (auto& [key, table] : tables_) {
    std::erase_if(table.observers, [id](const auto& entry) { return entry.first == id; });
  }
}

void Store::stop_watch(const std::shared_ptr<Watcher>& watcher) {
  watcher->close();
  std::unique_lock lock(mu_);
  const auto it = tables_.find(watcher->resource_key_);
  if (it != tables_.end()) std::erase(it->second.watchers, watcher);
}

void Store::compact() {
  std::unique_lock lock(mu_);
  history_.clear();
  compacted_rv_ = rv_;
  continue_compacted_rv_ = rv_;
  std::lock_guard snapshots_lock(snapshots_mu_);
  list_snapshots_.clear();
}

size_t Store::close_all_watches() {
  std::vector<std::shared_ptr<Watcher>> all;
  {
    std::unique_lock lock(mu_);
    for (auto& [k, t] : tables_) {
      all.insert(all.end(), t.watchers.begin(), t.watchers.end());
      t.watchers.clear();
    }
  }
  for (const auto& w : all) w->close_and_notify();
  return all.size();
}

}  // namespace fairway::apiserver
