// The reflector against a scripted API server: paged LIST, WATCH from the list's
// resourceVersion, bookmarks, ERROR 410 and HTTP 410 → relist with synthesized deletions.
#include "k8s-client/reflector.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_server.h"

namespace fairway::k8s {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Responder;
using testing::TestRequest;
using testing::TestServer;

std::string pod(const std::string& name, int rv) {
  return fmt::format(R"({{"metadata":{{"name":"{}","namespace":"d","resourceVersion":"{}"}},)"
                     R"("spec":{{"schedulerName":"fairway"}}}})",
                     name, rv);
}
std::string list(const std::string& rv, const std::string& next,
                 const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : ",") + item;
  return fmt::format(
      R"({{"kind":"PodList","metadata":{{"resourceVersion":"{}","continue":"{}"}},"items":[{}]}})",
      rv, next, joined);
}
std::string event(const char* type, const std::string& object) {
  return fmt::format(R"({{"type":"{}","object":{}}})", type, object) + "\n";
}

std::string query_value(const std::string& target, const std::string& name) {
  const size_t at = target.find(name + "=");
  if (at == std::string::npos) return {};
  const size_t start = at + name.size() + 1;
  return target.substr(start, target.find('&', start) - start);
}

struct Recorder {
  std::mutex mutex;
  std::vector<std::string> events;  // "ADDED d/a@1"
  std::vector<std::string> problems;
  int syncs = 0;
  std::condition_variable changed;  // after each callback

  // Waits (woken by each callback; the limit only guards against a hang) until `done()`, which
  // runs under `mutex`.
  bool await(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, limit, done);
  }

  Reflector<Pod>::Handler handler() {
    return {[this](EventType type, Decoded<Pod>&& object) {
              std::lock_guard lock(mutex);
              events.push_back(fmt::format("{} {}@{}", event_type_name(type), object.object.key(),
                                           object.meta.resource_version));
              changed.notify_all();
            },
            [this] {
              std::lock_guard lock(mutex);
              ++syncs;
              events.push_back("SYNCED");
              changed.notify_all();
            },
            [this](std::string_view problem) {
              std::lock_guard lock(mutex);
              problems.emplace_back(problem);
              changed.notify_all();
            }};
  }
  size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
};

TEST(Reflector, ListWatchRelistAndSynthesizedDeletes) {
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> targets;
  int lists = 0;
  int watches = 0;
  bool held_watch_ended = false;
  TestServer server([&](const TestRequest& req, Responder& out) {
    std::unique_lock lock(mutex);
    targets.push_back(req.target);
    const std::string cont = query_value(req.target, "continue");
    if (req.target.find("watch=1") == std::string::npos) {
      ++lists;
      switch (lists) {
        case 1:  // first list, two pages
          return out.reply(200, list("5", "page-2", {pod("a", 1)}));
        case 2:
          EXPECT_EQ(cont, "page-2");
          return out.reply(200, list("5", "", {pod("b", 2)}));
        case 3:  // relist after ERROR 410: c vanished while we were away, d appeared
          return out.reply(200, list("12", "", {pod("a", 7), pod("d", 11)}));
        case 4:  // relist after HTTP 410 on the watch: the continue token then expires
          return out.reply(200, list("13", "expiring", {pod("a", 7)}));
        case 5:
          return out.reply(410, R"({"kind":"Status","code":410,"reason":"Expired"})");
        default:  // from scratch: d is gone now
          EXPECT_EQ(cont, "");
          return out.reply(200, list("14", "", {pod("a", 7)}));
      }
    }
    ++watches;
    cv.notify_all();
    switch (watches) {
      case 1:
        EXPECT_EQ(query_value(req.target, "resourceVersion"), "5");
        out.start_chunked();
        out.chunk(event("ADDED", pod("c", 6)) + event("MODIFIED", pod("a", 7)).substr(0, 20));
        out.chunk(event("MODIFIED", pod("a", 7)).substr(20) + event("DELETED", pod("b", 8)));
        out.chunk(event("BOOKMARK", R"({"kind":"Pod","metadata":{"resourceVersion":"9"}})"));
        out.chunk(event("ERROR",
                        R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})"));
        return out.end_chunked();
      case 2:
        EXPECT_EQ(query_value(req.target, "resourceVersion"), "12");
        return out.reply(410, R"({"kind":"Status","code":410,"reason":"Expired"})");
      default:
        EXPECT_EQ(query_value(req.target, "resourceVersion"), "14");
        out.start_chunked();
        out.chunk(event("BOOKMARK", R"({"metadata":{"resourceVersion":"15"}})"));
        cv.wait_for(lock, 10s, [&] { return release; });
        held_watch_ended = true;
        return out.end_chunked();
    }
  });

  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  Recorder recorder;
  ReflectorOptions options;
  options.page_size = 1;
  options.min_watch_timeout = 10s;
  options.initial_backoff = 10ms;
  Reflector<Pod> reflector(client, "pods", "/api/v1/pods", &decode_pod, recorder.handler(),
                           options);
  std::jthread runner([&](std::stop_token stop) { reflector.run(stop); });
  {
    // Woken by each watch request; the limit only guards against a hang.
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return watches >= 3; }));
  }
  ASSERT_TRUE(recorder.await([&] { return reflector.stats().lists.load() >= 3; }));
  runner.request_stop();
  runner.join();
  {
    // The stop closed the held watch; the server did not end it (it holds it up to 10 s).
    std::lock_guard lock(mutex);
    EXPECT_FALSE(held_watch_ended);
  }
  {
    std::lock_guard lock(mutex);
    release = true;
    cv.notify_all();
  }

  EXPECT_THAT(recorder.events,
              ElementsAre("ADDED d/a@1", "ADDED d/b@2", "SYNCED",            // list 1
                          "ADDED d/c@6", "MODIFIED d/a@7", "DELETED d/b@8",  // watch 1
                          "ADDED d/d@11", "DELETED d/c@6", "SYNCED",         // relist
                          "DELETED d/d@11", "SYNCED"));                      // relist
  EXPECT_TRUE(reflector.synced());
  EXPECT_EQ(reflector.stats().lists.load(), 3u);
  EXPECT_EQ(reflector.stats().watch_restarts.load(), 2u);
  EXPECT_EQ(reflector.stats().events.load(), 8u);
  std::lock_guard lock(mutex);
  const std::string& first_watch = targets[2];
  EXPECT_THAT(first_watch,
              HasSubstr("/api/v1/pods?watch=1&resourceVersion=5&allowWatchBookmarks=true"));
  const int timeout = std::stoi(query_value(first_watch, "timeoutSeconds"));
  EXPECT_GE(timeout, 10);
  EXPECT_LT(timeout, 20);
  EXPECT_THAT(targets[0], HasSubstr("limit=1"));
}

TEST(Reflector, TransportErrorsBackOffAndRecover) {
  std::atomic<int> calls{0};
  TestServer server([&](const TestRequest& req, Responder& out) {
    const int n = ++calls;
    if (n <= 2) return out.reply(500, R"({"kind":"Status","code":500,"message":"etcd is sad"})");
    if (req.target.find("watch=1") == std::string::npos) {
      return out.reply(
          200, list("3", "",
                    {pod("a", 1),
                     R"({"metadata":{"name":"bad","namespace":"d"},"spec":{"priority":"x"}})"}));
    }
    out.start_chunked();
    out.chunk(event(
        "MODIFIED",
        R"({"metadata":{"name":"a","namespace":"d","resourceVersion":"4"},"spec":{"priority":[]}})"));
    out.chunk(event("MODIFIED", pod("a", 5)));
    out.chunk("this is not json\n");
    out.end_chunked();
  });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  Recorder recorder;
  ReflectorOptions options;
  options.initial_backoff = 5ms;
  options.max_backoff = 20ms;
  Reflector<Pod> reflector(client, "pods", "/api/v1/pods", &decode_pod, recorder.handler(),
                           options);
  std::jthread runner([&](std::stop_token stop) { reflector.run(stop); });
  ASSERT_TRUE(recorder.await([&] { return reflector.stats().lists.load() >= 2; }));
  runner.request_stop();
  runner.join();
  // The relist after the garbled line finds a at its listed version again.
  ASSERT_GE(recorder.events.size(), 5u);
  EXPECT_THAT(std::vector<std::string>(recorder.events.begin(), recorder.events.begin() + 5),
              ElementsAre("ADDED d/a@1", "SYNCED", "MODIFIED d/a@5", "MODIFIED d/a@1", "SYNCED"));
  EXPECT_GE(reflector.stats().decode_errors.load(), 3u);  // bad list item, bad object, bad line
  std::lock_guard lock(recorder.mutex);
  EXPECT_THAT(recorder.problems[0], HasSubstr("HTTP 500: etcd is sad"));
  EXPECT_THAT(recorder.problems[1], HasSubstr("retrying in"));
}

// A client stopped for shutdown ends the reflector's run by itself, and quietly: no "list:
// client stopped" or "retrying in" problems (they used to end every report of `fairway sim`).
TEST(Reflector, AStoppedClientEndsTheRunWithoutProblems) {
  TestServer server([&](const TestRequest&, Responder& out) { out.reply(200, list("1", "", {})); });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  client.stop();
  EXPECT_TRUE(client.stopped());
  Recorder recorder;
  Reflector<Pod> reflector(client, "pods", "/api/v1/pods", &decode_pod, recorder.handler());
  std::promise<void> returned;
  std::future<void> run_ended = returned.get_future();
  std::jthread runner([&](std::stop_token stop) {
    reflector.run(stop);
    returned.set_value();
  });
  // The limit only guards against a hang.
  EXPECT_EQ(run_ended.wait_for(10s), std::future_status::ready)
      << "the run went on after its client was stopped";
  runner.request_stop();
  runner.join();
  std::lock_guard lock(recorder.mutex);
  EXPECT_THAT(recorder.problems, ::testing::IsEmpty());
  EXPECT_THAT(recorder.events, ::testing::IsEmpty());
}

// client-go's reflector LISTs with resourceVersion=0 first (the API server's watch cache, whole);
// after a 410 on the watch it relists consistently (no resourceVersion, paged), and then goes
// back to resourceVersion=0.
TEST(Reflector, ListsFromTheWatchCacheAndConsistentlyAfterA410) {
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> lists;
  int watches = 0;
  TestServer server([&](const TestRequest& req, Responder& out) {
    std::unique_lock lock(mutex);
    if (req.target.find("watch=1") == std::string::npos) {
      lists.push_back(req.target);
      return out.reply(200, list(std::to_string(5 + lists.size()), "", {pod("a", 1)}));
    }
    ++watches;
    cv.notify_all();
    if (watches <= 2) {
      // An HTTP 410, then an ERROR 410 event: both mean the watch's version is gone.
      if (watches == 1) return out.reply(410, R"({"kind":"Status","code":410,"reason":"Expired"})");
      out.start_chunked();
      out.chunk(event("ERROR", R"({"kind":"Status","code":410,"reason":"Expired"})"));
      return out.end_chunked();
    }
    out.start_chunked();
    cv.wait_for(lock, 10s, [&] { return release; });
    return out.end_chunked();
  });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  Recorder recorder;
  ReflectorOptions options;
  options.initial_backoff = 5ms;
  Reflector<Pod> reflector(client, "pods", "/api/v1/pods", &decode_pod, recorder.handler(),
                           options);
  std::jthread runner([&](std::stop_token stop) { reflector.run(stop); });
  {
    // Woken by each watch request; the limit only guards against a hang.
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return watches >= 3; }));
  }
  runner.request_stop();
  {
    std::lock_guard lock(mutex);
    release = true;
    cv.notify_all();
  }
  runner.join();
  std::lock_guard lock(mutex);
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[0], "/api/v1/pods?limit=500&resourceVersion=0");
  EXPECT_EQ(lists[1], "/api/v1/pods?limit=500");  // after the HTTP 410
  EXPECT_EQ(lists[2], "/api/v1/pods?limit=500");  // after the ERROR 410
  EXPECT_EQ(reflector.stats().consistent_lists.load(), 2u);
  EXPECT_EQ(reflector.stats().lists.load(), 3u);
}

// A server that refuses the cached read gets the consistent paged LIST at once (no backoff); one
// that pages a resourceVersion=0 answer anyway is followed page by page.
TEST(Reflector, RefusedCachedListFallsBackToAConsistentPagedList) {
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> lists;
  TestServer server([&](const TestRequest& req, Responder& out) {
    std::unique_lock lock(mutex);
    if (req.target.find("watch=1") == std::string::npos) {
      lists.push_back(req.target);
      if (query_value(req.target, "resourceVersion") == "0") {
        return out.reply(400, R"({"kind":"Status","code":400,"reason":"BadRequest",)"
                              R"("message":"resourceVersion=0 is not supported here"})");
      }
      if (query_value(req.target, "continue").empty()) {
        return out.reply(200, list("7", "next", {pod("a", 1)}));
      }
      return out.reply(200, list("7", "", {pod("b", 2)}));
    }
    out.start_chunked();
    cv.wait_for(lock, 10s, [&] { return release; });
    return out.end_chunked();
  });
  ClusterConfig config;
  config.server = server.url();
  RestClient client(config);
  Recorder recorder;
  ReflectorOptions options;
  options.page_size = 1;
  options.initial_backoff = 5s;  // a backoff would outlast the test
  Reflector<Pod> reflector(client, "pods", "/api/v1/pods", &decode_pod, recorder.handler(),
                           options);
  std::jthread runner([&](std::stop_token stop) { reflector.run(stop); });
  ASSERT_TRUE(recorder.await([&] { return reflector.synced(); }));
  runner.request_stop();
  {
    std::lock_guard lock(mutex);
    release = true;
    cv.notify_all();
  }
  runner.join();
  EXPECT_TRUE(reflector.synced());
  EXPECT_THAT(recorder.events, ElementsAre("ADDED d/a@1", "ADDED d/b@2", "SYNCED"));
  std::lock_guard lock(mutex);
  EXPECT_THAT(lists, ElementsAre("/api/v1/pods?limit=1&resourceVersion=0", "/api/v1/pods?limit=1",
                                 "/api/v1/pods?limit=1&continue=next"));
  ASSERT_FALSE(recorder.problems.empty());
  EXPECT_THAT(recorder.problems[0],
              HasSubstr("list with resourceVersion=0 refused (HTTP 400: resourceVersion=0 is not "
                        "supported here), listing consistently"));
  EXPECT_EQ(reflector.stats().consistent_lists.load(), 1u);
}

}  // namespace
}  // namespace fairway::k8s
