// The REST client against a tiny in-test server on 127.0.0.1, plain and TLS.
#include "k8s-client/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
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
using Clock = std::chrono::steady_clock;

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
  TestServer server([](const TestRequest&, Responder& out) {
    std::this_thread::sleep_for(5ms);
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
    std::this_thread::sleep_for(20ms);  // let the close arrive
    auto response = client.get("/version");
    ASSERT_TRUE(response) << "request " << i << ": " << response.error().message;
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST(RestClient, TooManyRequestsHonoursRetryAfter) {
  std::atomic<int> calls{0};
  TestServer server([&](const TestRequest&, Responder& out) {
    if (++calls == 1) {
      out.reply(429, R"({"kind":"Status","code":429})", {{"Retry-After", "1"}});
    } else {
      out.reply(200, "{}");
    }
  });
  std::vector<int> codes;
  RestClient client(plain_config(server));
  client.set_observer(
      [&](std::string_view verb, std::string_view path, int code, std::chrono::nanoseconds) {
        EXPECT_EQ(verb, "GET");
        EXPECT_EQ(path, "/api/v1/nodes");
        codes.push_back(code);
      });
  const auto start = Clock::now();
  auto response = client.get("/api/v1/nodes?limit=1");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_GE(Clock::now() - start, 950ms);
  EXPECT_EQ(calls, 2);
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
  TestServer server([&](const TestRequest& req, Responder& out) {
    if (req.method != "GET" && ++writes == 1) {
      out.reply(429, R"({"kind":"Status","code":429})", {{"Retry-After", "1"}});
    } else {
      out.reply(200, "{}");
    }
  });
  RestClient client(plain_config(server));
  std::atomic<bool> leading{true};
  std::vector<std::string> fenced_paths;
  client.set_write_fence([&](std::string_view method, std::string_view path) {
    EXPECT_NE(method, "GET");
    fenced_paths.emplace_back(path);
    return leading.load();
  });
  std::thread lose_lease([&] {
    std::this_thread::sleep_for(300ms);
    leading = false;
  });
  auto bind = client.request("POST", "/api/v1/namespaces/d/pods/p/binding", "{}");
  lose_lease.join();
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
  TestServer server([&](const TestRequest& req, Responder& out) {
    if (req.method == "GET") std::this_thread::sleep_for(400ms);
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
  std::this_thread::sleep_for(100ms);  // the read holds the connection now
  std::thread lose_lease([&] {
    std::this_thread::sleep_for(100ms);
    leading = false;
  });
  auto bind = client.request("POST", "/api/v1/namespaces/d/pods/p/binding", "{}");
  slow_read.join();
  lose_lease.join();
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
  TestServer server([](const TestRequest&, Responder& out) { out.reply(200, "{}"); });
  RestOptions options;
  options.qps = 20;
  options.burst = 1;
  RestClient client(plain_config(server), options);
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.get("/x"));
  EXPECT_GE(Clock::now() - start, 190ms);  // 4 waits of 50 ms after the first token
}

TEST(RestClient, RequestTimeout) {
  TestServer server([](const TestRequest&, Responder& out) {
    std::this_thread::sleep_for(1500ms);
    out.reply(200, "{}");
  });
  RestOptions options;
  options.request_timeout = 1s;
  RestClient client(plain_config(server), options);
  const auto start = Clock::now();
  auto response = client.get("/slow");
  ASSERT_FALSE(response);
  EXPECT_THAT(response.error().message, HasSubstr("timed out"));
  EXPECT_LT(Clock::now() - start, 1400ms);
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
  TestServer server([](const TestRequest& req, Responder& out) {
    EXPECT_THAT(req.target, HasSubstr("watch=1"));
    out.start_chunked();
    out.chunk(R"({"type":"ADDED","ob)");
    out.chunk("ject\":1}\n{\"type\"");
    std::this_thread::sleep_for(20ms);  // separate TCP reads
    out.chunk(":\"B\"}\n");
    out.chunk("{\"type\":\"C\"}\n{\"type\":\"D\"}\n");
    out.end_chunked();
  });
  RestClient client(plain_config(server));
  std::vector<std::string> lines;
  auto response = client.stream("/api/v1/pods?watch=1", [&](std::string_view line) {
    lines.emplace_back(line);
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
  TestServer server([](const TestRequest&, Responder& out) {
    out.start_chunked();
    for (int i = 0; i < 100 && out.chunk("{}\n"); ++i) std::this_thread::sleep_for(5ms);
  });
  RestClient client(plain_config(server));
  int lines = 0;
  auto response = client.stream("/w", [&](std::string_view) { return ++lines < 3; });
  ASSERT_TRUE(response);
  EXPECT_EQ(lines, 3);
}

// A quiet watch (the server holds it open) must end promptly on stop().
class BlockingWatch {
 public:
  void serve(Responder& out) {
    out.start_chunked();
    out.chunk("{\"type\":\"ADDED\"}\n");
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 10s, [&] { return released_; });
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
};

TEST(RestClientStream, StopUnblocksAQuietStream) {
  BlockingWatch watch;
  TestServer server([&](const TestRequest&, Responder& out) { watch.serve(out); });
  RestClient client(plain_config(server));
  std::atomic<int> lines{0};
  std::atomic<bool> done{false};
  tl::expected<Response, TransportError> result;
  std::thread watcher([&] {
    result = client.stream("/w", [&](std::string_view) {
      ++lines;
      return true;
    });
    done = true;
  });
  while (lines == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(done);
  const auto start = Clock::now();
  client.stop();
  watcher.join();
  EXPECT_LT(Clock::now() - start, 500ms);
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
  std::atomic<int> lines{0};
  std::thread watcher([&] {
    auto result = client.stream(
        "/w",
        [&](std::string_view) {
          ++lines;
          return true;
        },
        source.get_token());
    EXPECT_TRUE(result);
  });
  while (lines == 0) std::this_thread::sleep_for(1ms);
  const auto start = Clock::now();
  source.request_stop();
  watcher.join();
  EXPECT_LT(Clock::now() - start, 500ms);
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
