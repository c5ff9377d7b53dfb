// The embedded API server's store: resourceVersions, optimistic concurrency, patches, selectors,
// pagination, watches (history, 410, bookmarks, selector transitions), binding, eviction with
// PodDisruptionBudgets and graceful deletion — all on a hand-driven clock, no sockets.

#include "sim/apiserver/store.h"

#include <gtest/gtest.h>

#include <chrono>

#include "sim/apiserver/patch.h"
#include "sim/apiserver/server.h"

namespace fairway::apiserver {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class StoreTest : public ::testing::Test {
 protected:
  StoreTest()
      : now_(std::chrono::system_clock::from_time_t(1'700'000'000)),
        store_(StoreOptions{.history_window = 50, .watcher_max_queued = 1000},
               [this] { return now_; }) {}

  ResourceTypePtr type(const std::string& group, const std::string& plural) {
    auto t = store_.resource(group, plural);
    EXPECT_TRUE(t) << group << "/" << plural;
    return t;
  }
  const ResourceType& pods() { return *pods_; }

  json pod(const std::string& name, json labels = json::object()) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"labels", labels}}},
            {"spec", {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}};
  }
  Object create_pod(const std::string& name, json labels = json::object(),
                    const std::string& ns = "default") {
    auto o = store_.create(pods(), ns, pod(name, std::move(labels)));
    EXPECT_TRUE(o) << (o ? "" : o.error().message);
    return *o;
  }
  void set_phase(const std::string& name, const std::string& phase,
                 const std::string& ns = "default") {
    auto o = store_.patch(pods(), ns, name, PatchType::kMerge,
                          json{{"status", {{"phase", phase}}}}.dump(), true);
    ASSERT_TRUE(o) << o.error().message;
  }
  void bind(const std::string& name, const std::string& node, const std::string& ns = "default") {
    auto ok = store_.bind(ns, name, {{"target", {{"kind", "Node"}, {"name", node}}}});
    ASSERT_TRUE(ok) << ok.error().message;
  }
  static std::vector<json> lines(const std::string& data) {
    std::vector<json> out;
    size_t start = 0;
    while (start < data.size()) {
      const size_t nl = data.find('\n', start);
      out.push_back(json::parse(data.substr(start, nl - start)));
      start = nl + 1;
    }
    return out;
  }

  std::chrono::system_clock::time_point now_;
  Store store_;
  ResourceTypePtr pods_ = store_.resource("", "pods");
};

TEST_F(StoreTest, CreateAssignsIdentityAndGlobalResourceVersion) {
  const uint64_t before = store_.resource_version();
  Object a = create_pod("a");
  Object b = create_pod("b");
  EXPECT_EQ(a.resource_version, before + 1);
  EXPECT_EQ(b.resource_version, before + 2);
  EXPECT_EQ((*a.json)["metadata"]["resourceVersion"], std::to_string(before + 1));
  EXPECT_FALSE((*a.json)["metadata"]["uid"].get<std::string>().empty());
  EXPECT_EQ((*a.json)["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ((*a.json)["status"]["phase"], "Pending");
  EXPECT_EQ((*a.json)["spec"]["schedulerName"], "default-scheduler");
  auto list = store_.list(pods(), "default", {});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->resource_version, store_.resource_version());
  EXPECT_EQ(list->items.size(), 2u);
}

TEST_F(StoreTest, CreateErrors) {
  create_pod("a");
  auto dup = store_.create(pods(), "default", pod("a"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, 409);
  EXPECT_EQ(dup.error().reason, "AlreadyExists");
  auto no_ns = store_.create(pods(), "nope", pod("a"));
  ASSERT_FALSE(no_ns);
  EXPECT_EQ(no_ns.error().code, 404);
  EXPECT_EQ(no_ns.error().message, "namespaces \"nope\" not found");
  json unnamed = pod("");
  unnamed["metadata"].erase("name");
  auto missing = store_.create(pods(), "default", unnamed);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 422);
}

// apps/v1 workloads are stored without a controller, but validated as kube-apiserver does: a
// DaemonSet a cluster refuses is refused here with the same field and words.
TEST_F(StoreTest, WorkloadControllersAreValidatedAsKubeApiserverDoes) {
  const ResourceType& daemonsets = *type("apps", "daemonsets");
  const auto daemonset = [](json selector, json labels) {
    json ds = json::parse(R"({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "busybox"}]}}}})");
    if (!selector.is_null()) ds["spec"]["selector"] = std::move(selector);
    ds["spec"]["template"]["metadata"]["labels"] = std::move(labels);
    return ds;
  };
  const auto refusal = [&](const json& object) {
    auto created = store_.create(daemonsets, "default", object);
    EXPECT_FALSE(created);
    return created ? std::string("accepted") : created.error().message;
  };
  const json selector = {{"matchLabels", {{"app", "a"}}}};
  const json labels = {{"app", "a"}};
  EXPECT_EQ(refusal(daemonset(nullptr, labels)),
            "DaemonSet.apps \"agent\" is invalid: spec.selector: Required value");
  EXPECT_EQ(refusal(daemonset(selector, {{"app", "b"}})),
            "DaemonSet.apps \"agent\" is invalid: spec.template.metadata.labels: Invalid value: "
            "map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`");
  json no_image = daemonset(selector, labels);
  no_image["spec"]["template"]["spec"]["containers"][0].erase("image");
  EXPECT_EQ(refusal(no_image),
            "DaemonSet.apps \"agent\" is invalid: "
            "spec.template.spec.containers[0].image: Required value");
  json never = daemonset(selector, labels);
  never["spec"]["template"]["spec"]["restartPolicy"] = "Never";
  EXPECT_EQ(refusal(never),
            "DaemonSet.apps \"agent\" is invalid: spec.template.spec.restartPolicy: Unsupported "
            "value: \"Never\": supported values: \"Always\"");

  auto ok = store_.create(daemonsets, "default", daemonset(selector, labels));
  ASSERT_TRUE(ok) << ok.error().message;
  json moved = *ok->json;
  moved["spec"]["selector"]["matchLabels"]["app"] = "b";
  moved["spec"]["template"]["metadata"]["labels"]["app"] = "b";
  auto immutable = store_.update(daemonsets, "default", "agent", moved, false);
  ASSERT_FALSE(immutable);
  EXPECT_EQ(immutable.error().code, 422);
  EXPECT_NE(immutable.error().message.find("spec.selector: Invalid value: "), std::string::npos);
  EXPECT_NE(immutable.error().message.find("field is immutable"), std::string::npos);
}

TEST_F(StoreTest, GenerateName) {
  json p = pod("");
  p["metadata"].erase("name");
  p["metadata"]["generateName"] = "worker-";
  auto o = store_.create(pods(), "default", p);
  ASSERT_TRUE(o);
  const std::string name = (*o->json)["metadata"]["name"];
  EXPECT_TRUE(name.starts_with("worker-"));
  EXPECT_EQ(name.size(), std::string("worker-").size() + 5);
}

TEST_F(StoreTest, UpdateWithStaleResourceVersionConflicts) {
  Object a = create_pod("a");
  json next = *a.json;
  next["metadata"]["labels"]["x"] = "1";
  auto ok = store_.update(pods(), "default", "a", next, false);
  ASSERT_TRUE(ok);
  EXPECT_GT(ok->resource_version, a.resource_version);
  next["metadata"]["labels"]["x"] = "2";  // still carries a's resourceVersion
  auto stale = store_.update(pods(), "default", "a", next, false);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, 409);
  EXPECT_EQ(stale.error().reason, "Conflict");
  EXPECT_NE(stale.error().message.find("the object has been modified"), std::string::npos);
}

TEST_F(StoreTest, NoOpUpdateKeepsResourceVersion) {
  Object a = create_pod("a");
  auto same = store_.update(pods(), "default", "a", *a.json, false);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->resource_version, a.resource_version);
}

TEST_F(StoreTest, MainResourceWritesKeepStatusAndStatusWritesKeepSpec) {
  Object a = create_pod("a");
  json next = *a.json;
  next["status"]["phase"] = "Running";
  next["metadata"]["labels"]["x"] = "1";
  auto main = store_.update(pods(), "default", "a", next, false);
  ASSERT_TRUE(main);
  EXPECT_EQ((*main->json)["status"]["phase"], "Pending");
  EXPECT_EQ((*main->json)["metadata"]["labels"]["x"], "1");
  json status = *main->json;
  status["status"]["phase"] = "Running";
  status["metadata"]["labels"]["x"] = "2";
  auto st = store_.update(pods(), "default", "a", status, true);
  ASSERT_TRUE(st);
  EXPECT_EQ((*st->json)["status"]["phase"], "Running");
  EXPECT_EQ((*st->json)["metadata"]["labels"]["x"], "1");
}

TEST(MergePatch, Rfc7386Examples) {
  // The examples of RFC 7386 appendix A.
  const auto check = [](const char* target, const char* patch, const char* want) {
    EXPECT_EQ(merge_patch(json::parse(target), json::parse(patch)), json::parse(want))
        << target << " + " << patch;
  };
  check(R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})");
  check(R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})");
  check(R"({"a":"b"})", R"({"a":null})", R"({})");
  check(R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})");
  check(R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})");
  check(R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})");
  check(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})");
  check(R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})");
  check(R"(["a","b"])", R"(["c","d"])", R"(["c","d"])");
  check(R"({"a":"b"})", R"(["c"])", R"(["c"])");
  check(R"({"a":"foo"})", "null", "null");
  check(R"({"a":"foo"})", R"("bar")", R"("bar")");
  check(R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})");
  check(R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})");
  check(R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})");
}

TEST(StrategicMergePatch, MergesNamedListsAndHonoursDirectives) {
  const json target =
      json::parse(R"({"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}],
                                       "args":["1","2"]},"metadata":{"finalizers":["f1"]}})");
  const json patch = json::parse(
      R"({"spec":{"containers":[{"name":"a","image":"z"},{"name":"b","$patch":"delete"}],
                                      "$setElementOrder/containers":[{"name":"a"}],"args":["3"]},
                                      "metadata":{"finalizers":["f2"]}})");
  const json out = strategic_merge_patch(target, patch);
  EXPECT_EQ(out["spec"]["containers"], json::parse(R"([{"name":"a","image":"z"}])"));
  EXPECT_EQ(out["spec"]["args"], json::parse(R"(["3"])"));
  EXPECT_EQ(out["metadata"]["finalizers"], json::parse(R"(["f1","f2"])"));
  EXPECT_FALSE(out["spec"].contains("$setElementOrder/containers"));
}

TEST_F(StoreTest, PatchTypes) {
  create_pod("a", {{"x", "1"}});
  auto merged = store_.patch(pods(), "default", "a", PatchType::kMerge,
                             R"({"metadata":{"labels":{"x":null,"y":"2"}}})", false);
  ASSERT_TRUE(merged);
  EXPECT_EQ((*merged->json)["metadata"]["labels"], json({{"y", "2"}}));
  auto jp = store_.patch(pods(), "default", "a", PatchType::kJsonPatch,
                         R"([{"op":"add","path":"/metadata/labels/z","value":"3"}])", false);
  ASSERT_TRUE(jp);
  EXPECT_EQ((*jp->json)["metadata"]["labels"]["z"], "3");
  auto bad = store_.patch(pods(), "default", "a", PatchType::kJsonPatch,
                          R"([{"op":"test","path":"/metadata/labels/z","value":"4"}])", false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, 422);
  auto stale = store_.patch(pods(), "default", "a", PatchType::kMerge,
                            R"({"metadata":{"resourceVersion":"1","labels":{"q":"1"}}})", false);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, 409);
}

TEST_F(StoreTest, LabelAndFieldSelectors) {
  create_pod("a", {{"app", "web"}, {"tier", "1"}});
  create_pod("b", {{"app", "db"}});
  create_pod("c", {{"app", "web"}});
  bind("c", "node-1");
  const auto names = [&](const std::string& labels, const std::string& fields) {
    ListOptions o;
    o.labels = *LabelSelector::parse(labels);
    o.fields = *FieldSelector::parse(fields);
    std::vector<std::string> out;
    const auto listed = store_.list(pods(), "", o);
    for (const Object& x : listed->items) out.push_back((*x.json)["metadata"]["name"]);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("app=web", ""), (V{"a", "c"}));
  EXPECT_EQ(names("app==web,tier", ""), (V{"a"}));
  EXPECT_EQ(names("app!=web", ""), (V{"b"}));
  EXPECT_EQ(names("app in (db, web),!tier", ""), (V{"b", "c"}));
  EXPECT_EQ(names("app notin (web)", ""), (V{"b"}));
  EXPECT_EQ(names("tier>0", ""), (V{"a"}));
  EXPECT_EQ(names("", "spec.nodeName=node-1"), (V{"c"}));
  EXPECT_EQ(names("", "spec.nodeName="), (V{"a", "b"}));
  EXPECT_EQ(names("", "metadata.name=b,metadata.namespace=default"), (V{"b"}));
  EXPECT_EQ(names("", "status.phase!=Pending"), (V{}));
  EXPECT_FALSE(LabelSelector::parse("a in b"));
  EXPECT_FALSE(LabelSelector::parse("=x"));
}

TEST_F(StoreTest, PaginationWithContinueAndExpiry) {
  for (int i = 0; i < 7; ++i) create_pod("p" + std::to_string(i));
  ListOptions o;
  o.limit = 3;
  std::vector<std::string> seen;
  uint64_t first_rv = 0;
  int pages = 0;
  while (true) {
    auto page = store_.list(pods(), "default", o);
    ASSERT_TRUE(page);
    if (!first_rv) first_rv = page->resource_version;
    EXPECT_EQ(page->resource_version, first_rv);
    for (const Object& x : page->items) seen.push_back((*x.json)["metadata"]["name"]);
    ++pages;
    if (page->continue_token.empty()) break;
    EXPECT_EQ(page->remaining, 7 - static_cast<int64_t>(seen.size()));
    o.continue_token = page->continue_token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}));

  o.continue_token.clear();
  auto first = store_.list(pods(), "default", o);
  create_pod("later");
  store_.compact();
  o.continue_token = first->continue_token;
  auto expired = store_.list(pods(), "default", o);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, 410);
  EXPECT_EQ(expired.error().reason, "Expired");
  o.continue_token = "garbage";
  EXPECT_EQ(store_.list(pods(), "default", o).error().code, 400);
}

TEST_F(StoreTest, PagesAfterTheFirstShowTheListAsItStoodThen) {
  // As etcd serves a continued LIST: changes made between the pages do not show, so a client
  // never sees one pod's old node and another's new one in the same list.
  for (int i = 0; i < 4; ++i) create_pod("p" + std::to_string(i));
  ListOptions o;
  o.limit = 2;
  auto first = store_.list(pods(), "default", o);
  ASSERT_TRUE(first);
  ASSERT_FALSE(first->continue_token.empty());
  DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(store_.remove(pods(), "default", "p2", now));  // gone after the first page
  create_pod("p9");                                          // created after it
  o.continue_token = first->continue_token;
  auto second = store_.list(pods(), "default", o);
  ASSERT_TRUE(second);
  std::vector<std::string> names;
  for (const Object& x : second->items) names.push_back((*x.json)["metadata"]["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"p2", "p3"}));
  EXPECT_TRUE(second->continue_token.empty());
  EXPECT_EQ(second->resource_version, first->resource_version);
  // A fresh LIST sees the present.
  o.continue_token.clear();
  o.limit = 0;
  auto fresh = store_.list(pods(), "default", o);
  ASSERT_TRUE(fresh);
  names.clear();
  for (const Object& x : fresh->items) names.push_back((*x.json)["metadata"]["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"p0", "p1", "p3", "p9"}));
}

TEST_F(StoreTest, WatchFromZeroListsThenStreams) {
  create_pod("a");
  auto w = store_.watch(pods(), "default", {});
  ASSERT_TRUE(w);
  create_pod("b");
  auto events = lines((*w)->drain().data);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "a");
  EXPECT_EQ(events[1]["type"], "ADDED");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "b");
}

TEST_F(StoreTest, WatchFromResourceVersionReplaysHistory) {
  Object a = create_pod("a");
  create_pod("b");
  store_.patch(pods(), "default", "a", PatchType::kMerge, R"({"metadata":{"labels":{"x":"1"}}})",
               false);
  store_.remove(pods(), "default", "b", {});
  WatchOptions o;
  o.resource_version = std::to_string(a.resource_version);
  auto w = store_.watch(pods(), "", std::move(o));
  ASSERT_TRUE(w);
  auto events = lines((*w)->drain().data);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "MODIFIED");
  EXPECT_EQ(events[2]["type"], "DELETED");
  EXPECT_EQ(events[2]["object"]["metadata"]["name"], "b");
}

TEST_F(StoreTest, WatchFromCompactedVersionGets410) {
  Object a = create_pod("a");
  for (int i = 0; i < 60; ++i) create_pod("x" + std::to_string(i));  // window is 50
  WatchOptions o;
  o.resource_version = std::to_string(a.resource_version);
  auto w = store_.watch(pods(), "default", std::move(o));
  ASSERT_TRUE(w);
  auto d = (*w)->drain();
  EXPECT_TRUE(d.finished);
  auto events = lines(d.data);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_TRUE(
      events[0]["object"]["message"].get<std::string>().starts_with("too old resource version"));

  // After an explicit compaction even a recent version is too old; the current one is not.
  const uint64_t recent = store_.resource_version();
  create_pod("y");
  store_.compact();
  WatchOptions o2;
  o2.resource_version = std::to_string(recent);
  EXPECT_TRUE((*store_.watch(pods(), "default", std::move(o2)))->drain().finished);
  WatchOptions o3;
  o3.resource_version = std::to_string(store_.resource_version());
  EXPECT_FALSE((*store_.watch(pods(), "default", std::move(o3)))->drain().finished);
}

TEST_F(StoreTest, WatchSelectorTransitionsAndBookmarks) {
  create_pod("a", {{"app", "web"}});
  WatchOptions o;
  o.labels = *LabelSelector::parse("app=web");
  o.resource_version = std::to_string(store_.resource_version());
  auto w = store_.watch(pods(), "default", std::move(o));
  ASSERT_TRUE(w);
  store_.patch(pods(), "default", "a", PatchType::kMerge, R"({"metadata":{"labels":{"app":"db"}}})",
               false);
  store_.patch(pods(), "default", "a", PatchType::kMerge,
               R"({"metadata":{"labels":{"app":"web"}}})", false);
  create_pod("other", {{"app", "db"}});
  store_.bookmark(**w);
  auto events = lines((*w)->drain().data);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "DELETED");
  EXPECT_EQ(events[1]["type"], "ADDED");
  EXPECT_EQ(events[2]["type"], "BOOKMARK");
  EXPECT_EQ(events[2]["object"]["metadata"]["resourceVersion"],
            std::to_string(store_.resource_version()));
  EXPECT_EQ(events[2]["object"]["kind"], "Pod");
}

TEST_F(StoreTest, SlowWatcherIsClosedNotWaitedFor) {
  Store small(StoreOptions{.history_window = 100, .watcher_max_queued = 3},
              [this] { return now_; });
  const auto& p = *small.resource("", "pods");
  WatchOptions o;
  o.resource_version = std::to_string(small.resource_version());
  auto w = small.watch(p, "default", std::move(o));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(small.create(p, "default", pod("p" + std::to_string(i))));
  auto d = (*w)->drain();
  EXPECT_TRUE(d.finished);
  EXPECT_EQ(lines(d.data).size(), 3u);
  EXPECT_EQ(small.watcher_count(), 0u);
}

TEST_F(StoreTest, BindingSetsNodeAndConditionAndConflictsWhenBound) {
  create_pod("a");
  bind("a", "node-1");
  auto o = store_.get(pods(), "default", "a");
  EXPECT_EQ((*o->json)["spec"]["nodeName"], "node-1");
  EXPECT_EQ((*o->json)["status"]["conditions"][0]["type"], "PodScheduled");
  EXPECT_EQ((*o->json)["status"]["conditions"][0]["status"], "True");
  auto again = store_.bind("default", "a", {{"target", {{"kind", "Node"}, {"name", "node-2"}}}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, 409);
  EXPECT_NE(again.error().message.find("pod a is already assigned to node \"node-1\""),
            std::string::npos);
  EXPECT_EQ(store_.bind("default", "missing", {{"target", {{"name", "n"}}}}).error().code, 404);
}

TEST_F(StoreTest, GracefulDeletionOfBoundPods) {
  create_pod("unbound");
  auto gone = store_.remove(pods(), "default", "unbound", {});
  ASSERT_TRUE(gone);
  EXPECT_FALSE(store_.get(pods(), "default", "unbound"));

  create_pod("a");
  bind("a", "node-1");
  auto marked = store_.remove(pods(), "default", "a", {});
  ASSERT_TRUE(marked);
  EXPECT_EQ((*marked->json)["metadata"]["deletionGracePeriodSeconds"], 30);
  EXPECT_TRUE((*marked->json)["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(store_.finalize_due(), 0u);
  ASSERT_TRUE(store_.get(pods(), "default", "a"));
  now_ += seconds(31);
  EXPECT_EQ(store_.finalize_due(), 1u);
  EXPECT_FALSE(store_.get(pods(), "default", "a"));

  create_pod("b");
  bind("b", "node-1");
  DeleteOptions force;
  force.grace_period_seconds = 0;
  ASSERT_TRUE(store_.remove(pods(), "default", "b", force));
  EXPECT_FALSE(store_.get(pods(), "default", "b"));
}

TEST_F(StoreTest, EvictionHonoursPodDisruptionBudgets) {
  const auto& pdbs = *type("policy", "poddisruptionbudgets");
  ASSERT_TRUE(store_.create(
      pdbs, "default",
      {{"metadata", {{"name", "web"}}},
       {"spec", {{"minAvailable", 2}, {"selector", {{"matchLabels", {{"app", "web"}}}}}}}}));
  for (const char* n : {"w1", "w2", "w3"}) {
    create_pod(n, {{"app", "web"}});
    bind(n, "node-1");
    set_phase(n, "Running");
  }
  ASSERT_TRUE(store_.evict("default", "w1", json::object()));    // 3 healthy, 2 needed
  auto blocked = store_.evict("default", "w2", json::object());  // w1 is terminating now
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, 429);
  EXPECT_EQ(blocked.error().reason, "TooManyRequests");
  EXPECT_EQ(blocked.error().details["causes"][0]["reason"], "DisruptionBudget");
  // Pending pods are not protected by the budget.
  create_pod("w4", {{"app", "web"}});
  EXPECT_TRUE(store_.evict("default", "w4", json::object()));
  EXPECT_EQ(store_.evict("default", "nope", json::object()).error().code, 404);
}

TEST_F(StoreTest, CustomResourceDefinitionsServeResources) {
  ASSERT_TRUE(load_embedded_crds(store_));
  auto queues = store_.resource("scheduling.fairway.dev", "queues");
  ASSERT_TRUE(queues);
  EXPECT_FALSE(queues->namespaced);
  EXPECT_TRUE(queues->status_subresource);
  EXPECT_EQ(queues->kind, "Queue");
  EXPECT_EQ(queues->columns.size(), 11u);  // the CRD's additionalPrinterColumns
  auto pg = store_.resource("scheduling.fairway.dev", "podgroups");
  ASSERT_TRUE(pg);
  EXPECT_TRUE(pg->namespaced);
  ASSERT_TRUE(store_.resource("scheduling.fairway.dev", "topologies"));

  json q = {{"apiVersion", "scheduling.fairway.dev/v1alpha1"},
            {"kind", "Queue"},
            {"metadata", {{"name", "research"}}},
            {"spec", {{"resources", {{"nvidia.com/gpu", {{"quota", 8}}}}}}},
            {"status", {{"allocated", {{"nvidia.com/gpu", 3}}}}}};
  auto created = store_.create(*queues, "", q);
  ASSERT_TRUE(created);
  EXPECT_FALSE(created->json->contains("status"));  // status is only written via /status
  auto st = store_.patch(*queues, "", "research", PatchType::kMerge,
                         R"({"status":{"allocated":{"nvidia.com/gpu":"3"}}})", true);
  ASSERT_TRUE(st);
  auto spec = store_.patch(*queues, "", "research", PatchType::kMerge,
                           R"({"spec":{"parent":"root"},"status":null})", false);
  ASSERT_TRUE(spec);
  EXPECT_EQ((*spec->json)["status"]["allocated"]["nvidia.com/gpu"], "3");
  EXPECT_EQ((*spec->json)["metadata"]["generation"], 2);

  // Deleting the CRD stops serving the resource.
  const auto& crds = *type("apiextensions.k8s.io", "customresourcedefinitions");
  ASSERT_TRUE(store_.remove(crds, "", "queues.scheduling.fairway.dev", {}));
  EXPECT_FALSE(store_.resource("scheduling.fairway.dev", "queues"));
}

TEST_F(StoreTest, FinalizersHoldDeletionUntilRemoved) {
  const auto& cms = *type("", "configmaps");
  ASSERT_TRUE(store_.create(cms, "default",
                            {{"metadata", {{"name", "c"}, {"finalizers", {"example.com/x"}}}}}));
  auto marked = store_.remove(cms, "default", "c", {});
  ASSERT_TRUE(marked);
  EXPECT_TRUE((*marked->json)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(store_.get(cms, "default", "c"));
  ASSERT_TRUE(store_.patch(cms, "default", "c", PatchType::kMerge,
                           R"({"metadata":{"finalizers":null}})", false));
  EXPECT_FALSE(store_.get(cms, "default", "c"));
}

}  // namespace
}  // namespace fairway::apiserver

namespace fairway::apiserver {
namespace {

// Quantities as kube-apiserver decodes them: numbers become strings, and what apimachinery's
// ParseQuantity refuses fails the decoding with 400 BadRequest, on create and on update.
TEST_F(StoreTest, PodQuantitiesAreDecodedAsKubeApiserverDoes) {
  auto with_requests = [this](const std::string& name, json requests) {
    json p = pod(name);
    p["spec"]["containers"][0]["resources"] = {{"requests", std::move(requests)}};
    return p;
  };
  const json valid = {{"cpu", "100m"},          {"memory", "1.5Gi"},
                      {"nvidia.com/gpu", 2},    {"ephemeral-storage", 1e3},
                      {"example.com/x", "2e3"}, {"example.com/y", "+1."}};
  auto created = store_.create(pods(), "default", with_requests("ok", valid));
  ASSERT_TRUE(created) << created.error().message;
  const json& stored = (*created->json)["spec"]["containers"][0]["resources"]["requests"];
  EXPECT_EQ(stored["nvidia.com/gpu"], "2");
  EXPECT_EQ(stored["ephemeral-storage"], "1000");
  const std::string format =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  for (const auto& [bad, why] :
       std::vector<std::pair<json, std::string>>{{"one", format},
                                                 {"1Gb", format},
                                                 {"", format},
                                                 {true, format},
                                                 {"1iK", "unable to parse quantity's suffix"},
                                                 {"2KM", "unable to parse quantity's suffix"}}) {
    auto refused = store_.create(pods(), "default", with_requests("bad", {{"cpu", bad}}));
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, 400);
    EXPECT_EQ(refused.error().reason, "BadRequest");
    EXPECT_EQ(refused.error().message, "Pod in version \"v1\" cannot be handled as a Pod: " + why)
        << bad;
  }
  json update = *created->json;
  update["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots";
  auto updated = store_.update(pods(), "default", "ok", update, false);
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, 400);
}

}  // namespace
}  // namespace fairway::apiserver
