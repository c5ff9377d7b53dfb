// The REST client against a tiny in-test server on 127.0.0.1, plain and TLS.
#include "k8s-client/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
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
using testing::TestPki;
using testing::TestRequest;
using testing::TestServer;
// Counts what happened (lines read, requests served) and lets the test wait for a count; the
// limit only guards against a hang.
class Signal {
 public:
  void notify() {
    std::lock_guard lock(mutex_);
    ++count_;
    cv_.notify_all();
  }
  bool await(int count, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return count_ >= count; });
  }
  int count() {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_ = 0;
};

// Moves `clock` 10 ms at a time until `pending` is ready, giving the client up to 5 ms of real
// time per step to act (the limit of 2,000 steps only guards against a hang).
template <typename T>
bool advance_until_ready(ManualClock& clock, std::future<T>& pending) {
  for (int step = 0; step < 2000; ++step) {
    if (pending.wait_for(5ms) == std::future_status::ready) return true;
    clock.advance(10ms);
  }
  return pending.wait_for(0ms) == std::future_status::ready;
}

ClusterConfig plain_config(const TestServer& server) {
  ClusterConfig config;
  config.server = server.url();
  config.token = "secret-token";
  return config;
}

TEST(RestClient, KeepAliveReusesOneConnection) {
  std::mutex mutex;
  std::vector<TestRequest> seen;
  TestServer server([&](const TestRequest& req, Responder& out) {
    {
      std::lock_guard lock(mutex);
      seen.push_back(req);
    }
    out.reply(200, R"({"kind":"PodList"})", {{"X-Test", "1"}});
  });
  RestOptions options;
  options.pool_size = 1;
  RestClient client(plain_config(server), options);
  for (int i = 0; i < 5; ++i) {
    auto response = client.get("/api/v1/pods?limit=2");
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, R"({"kind":"PodList"})");
    EXPECT_EQ(response->content_type, "application/json");
  }
  EXPECT_EQ(server.connections(), 1);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].target, "/api/v1/pods?limit=2");
  EXPECT_EQ(seen[0].headers["authorization"], "Bearer secret-token");
  EXPECT_EQ(seen[0].headers["user-agent"], "fairway");
  EXPECT_EQ(seen[0].headers["host"], server.url().substr(7));

  auto post = client.request("POST", "/api/v1/namespaces/d/pods/p/binding", R"({"a":1})");
  ASSERT_TRUE(post);
  EXPECT_EQ(seen.back().method, "POST");
  EXPECT_EQ(seen.back().body, R"({"a":1})");
  EXPECT_EQ(seen.back().headers["content-type"], "application/json");
  auto patch = client.request("PATCH", "/x", "{}", "application/merge-patch+json");
  ASSERT_TRUE(patch);
  EXPECT_EQ(seen.back().headers["content-type"], "application/merge-patch+json");
}

TEST(RestClient, PoolBoundsConnectionsAcrossThreads) {
  // Each request waits (up to 5 ms) for the pool to be full, so requests overlap.
  std::mutex mutex;
  std::condition_variable cv;
  int active = 0;
  TestServer server([&](const TestRequest&, Responder& out) {
    {
      std::unique_lock lock(mutex);
      ++active;
      cv.notify_all();
      cv.wait_for(lock, 5ms, [&] { return active >= 3; });
      --active;
    }
    out.reply(200, "{}");
  });
  RestOptions options;
  options.pool_size = 3;
  options.qps = 0;
  RestClient client(plain_config(server), options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (auto r = client.get("/healthz"); r && r->status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 80);
  EXPECT_LE(server.connections(), 3);
}

TEST(RestClient, ReconnectsOnceWhenAKeptAliveConnectionWentStale) {
  TestServer server([](const TestRequest&, Responder& out) {
    out.drop_after();  // promises keep-alive, then closes: like an idle timeout on the server
    out.reply(200, "{}");
  });
  RestOptions options;
  options.pool_size = 1;
  RestClient client(plain_config(server), options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(server.await_closed(i));  // the server has closed the kept-alive connection
    auto response = client.get("/version");
    ASSERT_TRUE(response) << "request " << i << ": " << response.error().message;
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST(RestClient, TooManyRequestsHonoursRetryAfter) {
  std::atomic<int> calls{0};
  ManualClock clock;  // the client's: the Retry-After wait is on it
  std::mutex mutex;
  std::vector<Clock::time_point> served_at;  // on that clock
  TestServer server([&](const TestRequest&, Responder& out) {
    {
      std::lock_guard lock(mutex);
      served_at.push_back(clock.now());
    }
    if (++calls == 1) {
      out.reply(429, R"({"kind":"Status","code":429})", {{"Retry-After", "1"}});
    } else {
      out.reply(200, "{}");
    }
  });
  std::vector<int> codes;
  RestOptions options;
  options.clock = &clock;
  RestClient client(plain_config(server), options);
  client.set_observer(
      [&](std::string_view verb, std::string_view path, int code, std::chrono::nanoseconds) {
        EXPECT_EQ(verb, "GET");
        EXPECT_EQ(path, "/api/v1/nodes");
        codes.push_back(code);
      });
  auto pending =
      std::async(std::launch::async, [&] { return client.get("/api/v1/nodes?limit=1"); });
  ASSERT_TRUE(advance_until_ready(clock, pending));
  auto response = pending.get();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(calls, 2);
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(served_at.size(), 2u);
    EXPECT_GE(served_at[1] - served_at[0], 1s);  // the retry waited the second it was told
  }
  EXPECT_THAT(codes, ElementsAre(429, 200));

  // Out of retries: the 429 comes back to the caller.
  calls = 0;
  RestOptions no_retries;
  no_retries.max_retries_429 = 0;
  RestClient impatient(plain_config(server), no_retries);
  auto refused = impatient.get("/x");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->retry_after, "1");
}

TEST(RestClient, WriteFenceIsCheckedBeforeEveryAttemptIncludingAfterRetryAfter) {
  // A write decided while leading, held up by a 429's Retry-After during which the lease is
  // lost, must not go out.
  std::atomic<int> writes{0};
  Signal write_seen;
  TestServer server([&](const TestRequest& req, Responder& out) {
    const int write = req.method != "GET" ? ++writes : 0;
    if (write > 0) write_seen.notify();
    if (write == 1) {
      out.reply(429, R"({"kind":"Status","code":429})", {{"Retry-After", "1"}});
    } else {
      out.reply(200, "{}");
    }
  });
  ManualClock clock;  // the client's: the Retry-After wait is on it
  RestOptions options;
  options.clock = &clock;
  RestClient client(plain_config(server), options);
  std::atomic<bool> leading{true};
  std::vector<std::string> fenced_paths;
  client.set_write_fence([&](std::string_view method, std::string_view path) {
    EXPECT_NE(method, "GET");
    fenced_paths.emplace_back(path);
    return leading.load();
  });
  auto pending = std::async(std::launch::async, [&] {
    return client.request("POST", "/api/v1/namespaces/d/pods/p/binding", "{}");
  });
  // The 429 came back; the lease is lost while the client waits out its Retry-After.
  ASSERT_TRUE(write_seen.await(1));
  ASSERT_EQ(writes.load(), 1);
  leading = false;
  ASSERT_TRUE(advance_until_ready(clock, pending));
  auto bind = pending.get();
  ASSERT_FALSE(bind);
  EXPECT_THAT(bind.error().message, ::testing::HasSubstr("write fenced"));
  EXPECT_EQ(writes, 1);  // the retry after Retry-After was never sent
  EXPECT_EQ(fenced_paths.size(), 2U);
  auto read = client.get("/api/v1/pods");  // reads are never fenced
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
}

TEST(RestClient, WriteFenceIsCheckedAfterWaitingForAPooledConnection) {
  // The only connection is busy with a slow read; a bind waits for it, and the lease is lost
  // meanwhile: the bind must not go out once the connection frees up.
  std::atomic<int> writes{0};
  Signal read_arrived;
  std::mutex mutex;
  std::condition_variable cv;
  bool release_read = false;
  TestServer server([&](const TestRequest& req, Responder& out) {
    if (req.method == "GET") {
      // The slow read: held until the test lets it go (the limit only guards against a hang).
      read_arrived.notify();
      std::unique_lock lock(mutex);
      cv.wait_for(lock, 10s, [&] { return release_read; });
    }
    if (req.method != "GET") ++writes;
    out.reply(200, "{}");
  });
  RestOptions options;
  options.pool_size = 1;
  options.qps = 0;
  RestClient client(plain_config(server), options);
  std::atomic<bool> leading{true};
  client.set_write_fence([&](std::string_view, std::string_view) { return leading.load(); });
  std::thread slow_read([&] { (void)client.get("/api/v1/pods"); });
  ASSERT_TRUE(read_arrived.await(1));  // the read holds the connection now
  auto pending = std::async(std::launch::async, [&] {
    return client.request("POST", "/api/v1/namespaces/d/pods/p/binding", "{}");
  });
  // The bind waits for the connection while the read holds it...
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);
  leading = false;  // ...and the lease is lost meanwhile
  {
    std::lock_guard lock(mutex);
    release_read = true;
    cv.notify_all();
  }
  auto bind = pending.get();
  slow_read.join();
  ASSERT_FALSE(bind);
  EXPECT_THAT(bind.error().message, ::testing::HasSubstr("write fenced"));
  EXPECT_EQ(writes, 0);
  // The connection went back to the pool unharmed.
  leading = true;
  auto later = client.request("POST", "/api/v1/namespaces/d/pods/p/binding", "{}");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 200);
  EXPECT_EQ(writes, 1);
}

TEST(RestClient, RateLimitSpacesRequests) {
  ManualClock clock;  // the client's: the limiter's waits are on it
  std::mutex mutex;
  std::vector<Clock::time_point> served_at;  // on that clock
  TestServer server([&](const TestRequest&, Responder& out) {
    {
      std::lock_guard lock(mutex);
      served_at.push_back(clock.now());
    }
    out.reply(200, "{}");
  });
  RestOptions options;
  options.qps = 20;
  options.burst = 1;
  options.clock = &clock;
  RestClient client(plain_config(server), options);
  const auto start = clock.now();
  auto pending = std::async(std::launch::async, [&] {
    for (int i = 0; i < 5; ++i) {
      if (!client.get("/x")) return false;
    }
    return true;
  });
  ASSERT_TRUE(advance_until_ready(clock, pending));
  ASSERT_TRUE(pending.get());
  std::lock_guard lock(mutex);
  ASSERT_EQ(served_at.size(), 5u);
  EXPECT_GE(served_at[4] - start, 190ms);  // 4 waits of 50 ms after the first token
}

TEST(RestClient, RequestTimeout) {
  // The server holds the answer until the test lets it go (the limit only guards a hang).
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  bool answered = false;
  TestServer server([&](const TestRequest&, Responder& out) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 10s, [&] { return release; });
    answered = true;
    out.reply(200, "{}");
  });
  RestOptions options;
  options.request_timeout = 1s;
  RestClient client(plain_config(server), options);
  auto response = client.get("/slow");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error().message, HasSubstr("timed out"));
  std::lock_guard lock(mutex);
  EXPECT_FALSE(answered);  // the client gave up on its own, the server still held the answer
  release = true;
  cv.notify_all();
}

TEST(RestClient, TokenFileIsReread) {
  const auto path =
      std::filesystem::temp_directory_path() / ("fairway-token-" + std::to_string(::getpid()));
  std::ofstream(path) << "first\n";
  std::mutex mutex;
  std::vector<std::string> tokens;
  TestServer server([&](const TestRequest& req, Responder& out) {
    std::lock_guard lock(mutex);
    tokens.push_back(req.headers.at("authorization"));
    out.reply(200, "{}");
  });
  ClusterConfig config;
  config.server = server.url();
  config.token = "ignored-when-a-file-is-given";
  config.token_file = path.string();
  config.token_reload = 0s;
  RestClient client(config);
  ASSERT_TRUE(client.get("/a"));
  std::ofstream(path) << "second";
  ASSERT_TRUE(client.get("/b"));
  std::filesystem::remove(path);  // rotation in progress: keep the last good token
  ASSERT_TRUE(client.get("/c"));
  EXPECT_THAT(tokens, ElementsAre("Bearer first", "Bearer second", "Bearer second"));
}

TEST(RestClient, TransportErrors) {
  ClusterConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens on port 1
  RestClient client(config);
  auto response = client.get("/x");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error().message, HasSubstr("connect"));
  ClusterConfig bad_url;
  bad_url.server = "ftp://x";
  RestClient bad(bad_url);
  EXPECT_FALSE(bad.get("/x"));
  EXPECT_FALSE(client.request("BREW", "/coffee"));
}

// ---- TLS ----

TEST(RestClientTls, VerifiesTheServerAgainstTheConfiguredCa) {
  TestServer server([](const TestRequest&, Responder& out) { out.reply(200, "{}"); }, true);
  const TestPki& pki = TestPki::get();
  ClusterConfig config;
  config.server = server.url();
  config.ca_pem = pki.ca_pem;
  {
    RestClient client(config);
    auto response = client.get("/version");
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(client.get("/version"));
    EXPECT_EQ(server.connections(), 1);  // keep-alive over TLS too
  }
  {
    ClusterConfig wrong_ca = config;
    wrong_ca.ca_pem = pki.other_ca_pem;
    RestClient client(wrong_ca);
    auto response = client.get("/version");
    ASSERT_FALSE(response);
    EXPECT_THAT(response.error().message, HasSubstr("certificate verify failed"));
  }
  {
    ClusterConfig insecure = config;
    insecure.ca_pem = pki.other_ca_pem;
    insecure.insecure_skip_tls_verify = true;
    RestClient client(insecure);
    EXPECT_TRUE(client.get("/version"));
  }
  {
    ClusterConfig by_name = config;
    by_name.tls_server_name = "apiserver.test";  // a DNS SAN of the certificate
    RestClient client(by_name);
    EXPECT_TRUE(client.get("/version"));
    by_name.tls_server_name = "elsewhere.test";
    RestClient wrong_name(by_name);
    EXPECT_FALSE(wrong_name.get("/version"));
  }
  {
    ClusterConfig garbage = config;
    garbage.ca_pem = "not a certificate";
    RestClient client(garbage);
    auto response = client.get("/version");
    ASSERT_FALSE(response);
    EXPECT_THAT(response.error().message, HasSubstr("certificate authority"));
  }
}

TEST(RestClientTls, PresentsAClientCertificate) {
  TestServer server([](const TestRequest&, Responder& out) { out.reply(200, "{}"); }, true, true);
  const TestPki& pki = TestPki::get();
  ClusterConfig config;
  config.server = server.url();
  config.ca_pem = pki.ca_pem;
  {
    RestClient anonymous(config);
    EXPECT_FALSE(anonymous.get("/version"));
  }
  config.client_cert_pem = pki.client_cert_pem;
  config.client_key_pem = pki.client_key_pem;
  RestClient client(config);
  auto response = client.get("/version");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

// ---- streams ----

TEST(RestClientStream, SplitsLinesAcrossChunks) {
  Signal line_read;
  TestServer server([&](const TestRequest& req, Responder& out) {
    EXPECT_THAT(req.target, HasSubstr("watch=1"));
    out.start_chunked();
    out.chunk(R"({"type":"ADDED","ob)");
    out.chunk("ject\":1}\n{\"type\"");
    EXPECT_TRUE(line_read.await(1));  // the client has read that: the rest is a separate read
    out.chunk(":\"B\"}\n");
    out.chunk("{\"type\":\"C\"}\n{\"type\":\"D\"}\n");
    out.end_chunked();
  });
  RestClient client(plain_config(server));
  std::vector<std::string> lines;
  auto response = client.stream("/api/v1/pods?watch=1", [&](std::string_view line) {
    lines.emplace_back(line);
    line_read.notify();
    return true;
  });
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(lines, ElementsAre(R"({"type":"ADDED","object":1})", R"({"type":"B"})",
                                 R"({"type":"C"})", R"({"type":"D"})"));
}

TEST(RestClientStream, NonSuccessComesBackWhole) {
  TestServer server([](const TestRequest&, Responder& out) {
    out.reply(410, R"({"kind":"Status","code":410,"reason":"Expired"})");
  });
  RestClient client(plain_config(server));
  bool called = false;
  auto response = client.stream("/w", [&](std::string_view) { return called = true; });
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 410);
  EXPECT_THAT(response->body, HasSubstr("Expired"));
  EXPECT_FALSE(called);
}

TEST(RestClientStream, HandlerCanCloseTheStream) {
  // Five lines, then the server holds the stream open until the test is done with it (the limit
  // only guards against a hang).
  std::mutex mutex;
  std::condition_variable cv;
  bool returned = false;
  bool server_gave_up = false;
  TestServer server([&](const TestRequest&, Responder& out) {
    out.start_chunked();
    out.chunk("{}\n{}\n{}\n{}\n{}\n");
    std::unique_lock lock(mutex);
    server_gave_up = !cv.wait_for(lock, 10s, [&] { return returned; });
  });
  RestClient client(plain_config(server));
  int lines = 0;
  auto response = client.stream("/w", [&](std::string_view) { return ++lines < 3; });
  ASSERT_TRUE(response);
  EXPECT_EQ(lines, 3);
  std::lock_guard lock(mutex);
  EXPECT_FALSE(server_gave_up);  // the client closed the stream; the server still held it
  returned = true;
  cv.notify_all();
}

// A quiet watch (the server holds it open) must end promptly on stop().
class BlockingWatch {
 public:
  void serve(Responder& out) {
    out.start_chunked();
    out.chunk("{\"type\":\"ADDED\"}\n");
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 10s, [&] { return released_; });
    ended_ = true;
  }
  // Whether the server ended the stream (released, or held for its 10 s).
  bool ended() {
    std::lock_guard lock(mutex_);
    return ended_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool released_ = false;
  bool ended_ = false;
};

TEST(RestClientStream, StopUnblocksAQuietStream) {
  BlockingWatch watch;
  TestServer server([&](const TestRequest&, Responder& out) { watch.serve(out); });
  RestClient client(plain_config(server));
  Signal lines;
  std::atomic<bool> done{false};
  tl::expected<Response, TransportError> result;
  std::thread watcher([&] {
    result = client.stream("/w", [&](std::string_view) {
      lines.notify();
      return true;
    });
    done = true;
  });
  ASSERT_TRUE(lines.await(1));
  EXPECT_FALSE(done);
  client.stop();
  watcher.join();
  EXPECT_FALSE(watch.ended());  // stop() ended it, not the server
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_FALSE(client.get("/after-stop"));  // a stopped client refuses new work
  watch.release();
}

TEST(RestClientStream, StopTokenClosesOnlyThatStream) {
  BlockingWatch watch;
  TestServer server([&](const TestRequest& req, Responder& out) {
    if (req.target == "/w") {
      watch.serve(out);
    } else {
      out.reply(200, "{}");
    }
  });
  RestClient client(plain_config(server));
  std::stop_source source;
  Signal lines;
  std::thread watcher([&] {
    auto result = client.stream(
        "/w",
        [&](std::string_view) {
          lines.notify();
          return true;
        },
        source.get_token());
    EXPECT_TRUE(result);
  });
  ASSERT_TRUE(lines.await(1));
  source.request_stop();
  watcher.join();
  EXPECT_FALSE(watch.ended());  // the stop token ended it, not the server
  EXPECT_TRUE(client.get("/still-works"));
  watch.release();
}

TEST(RestClientStream, TlsStream) {
  TestServer server(
      [](const TestRequest&, Responder& out) {
        out.start_chunked();
        out.chunk("{\"a\":1}\n{\"b\"");
        out.chunk(":2}\n");
        out.end_chunked();
      },
      true);
  ClusterConfig config;
  config.server = server.url();
  config.ca_pem = TestPki::get().ca_pem;
  RestClient client(config);
  std::vector<std::string> lines;
  auto response = client.stream("/w", [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_THAT(lines, ElementsAre(R"({"a":1})", R"({"b":2})"));
}

}  // namespace
}  // namespace fairway::k8s
