// fairway's HTTP server: the route table, bind addresses, and real requests over loopback, plain
// and TLS (k8s-client's RestClient is the client).
#include "scheduler/http/http_server.h"

#include <gtest/gtest.h>

// Asio trips GCC's -Wnull-dereference after inlining (false positive in system headers).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop
#include <filesystem>
#include <fstream>

#include "k8s-client/rest_client.h"
#include "sim/apiserver/tls.h"

namespace fairway::http {
namespace {

TEST(BindAddress, AcceptsKubeSchedulerForms) {
  EXPECT_EQ(parse_bind_address(":8080").value(), (std::pair<std::string, uint16_t>{"", 8080}));
  EXPECT_EQ(parse_bind_address("127.0.0.1:0").value(),
            (std::pair<std::string, uint16_t>{"127.0.0.1", 0}));
  EXPECT_EQ(parse_bind_address("[::1]:9443").value(),
            (std::pair<std::string, uint16_t>{"::1", 9443}));
  EXPECT_FALSE(parse_bind_address("8080"));
  EXPECT_FALSE(parse_bind_address(":http"));
  EXPECT_FALSE(parse_bind_address(":70000"));
  EXPECT_FALSE(parse_bind_address("[::1]9443"));
}

TEST(Routes, ExactBeforeLongestPrefix) {
  Server server(ServerOptions{});
  server.route("/metrics", [](const Request&) { return text(200, "exact"); });
  server.route_prefix("/debug/", [](const Request&) { return text(200, "debug"); });
  server.route_prefix("/debug/pods/", [](const Request&) { return text(200, "pods"); });
  EXPECT_EQ((*server.find("/metrics"))({}).body, "exact");
  EXPECT_EQ((*server.find("/debug/pods/ns/p"))({}).body, "pods");
  EXPECT_EQ((*server.find("/debug/queues"))({}).body, "debug");
  EXPECT_EQ(server.find("/metrics/x"), nullptr);
  EXPECT_EQ(server.find("/"), nullptr);
}

Server& routed(Server& server) {
  server.route("/echo", [](const Request& request) {
    return text(200,
                request.method + " " + request.path + " ?" + request.query + " " + request.body);
  });
  server.route("/boom", [](const Request&) -> Response { throw std::runtime_error("kaput"); });
  return server;
}

TEST(Server, AnswersOverPlainHttpWithKeepAlive) {
  Server server(ServerOptions{.bind_address = "127.0.0.1:0"});
  routed(server);
  ASSERT_TRUE(server.start());
  ASSERT_NE(server.port(), 0);
  k8s::ClusterConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(server.port());
  k8s::RestClient client(config);
  for (int i = 0; i < 3; ++i) {  // one pooled connection, several requests
    auto response = client.request("POST", "/echo?x=1", "hello", "text/plain");
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "POST /echo ?x=1 hello");
  }
  auto missing = client.get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto boom = client.get("/boom");
  ASSERT_TRUE(boom);
  EXPECT_EQ(boom->status, 500);
  // The exception's text is internal: not shown to the client.
  EXPECT_EQ(boom->body, "internal error\n");
  server.stop();
  server.stop();  // idempotent
}

// Sends `raw` on a fresh plain connection and reads the answer until the server closes.
std::string exchange(uint16_t port, const std::string& raw) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(raw));
  std::string answer;
  boost::system::error_code ec;
  char chunk[4096];
  while (!ec) {
    const size_t n = socket.read_some(boost::asio::buffer(chunk), ec);
    answer.append(chunk, n);
  }
  return answer;
}

// kube-apiserver's body limit and answer: 413 "Request entity too large: limit is 3145728",
// decided from the headers, before the body is read; a body at the limit is served.
TEST(Server, BodiesOverThreeMebibytesAre413BeforeBeingRead) {
  Server server(ServerOptions{.bind_address = "127.0.0.1:0"});
  server.route("/size", [](const Request& request) {
    return text(200, std::to_string(request.body.size()));
  });
  ASSERT_TRUE(server.start());
  const std::string over =
      exchange(server.port(), "POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 3145729\r\n\r\n");
  EXPECT_TRUE(over.starts_with("HTTP/1.1 413 ")) << over;
  EXPECT_NE(over.find("Request entity too large: limit is 3145728"), std::string::npos) << over;
  EXPECT_NE(over.find("Connection: close"), std::string::npos) << over;
  k8s::ClusterConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(server.port());
  k8s::RestClient client(config);
  auto at_limit = client.request("POST", "/size", std::string(3145728, 'x'), "text/plain");
  ASSERT_TRUE(at_limit) << at_limit.error().message;
  EXPECT_EQ(at_limit->status, 200);
  EXPECT_EQ(at_limit->body, "3145728");
  client.stop();
  server.stop();
}

TEST(Server, ServesTlsFromCertificateFiles) {
  const auto cert = apiserver::make_self_signed_cert("fairway-test");
  ASSERT_TRUE(cert);
  const auto dir =
      std::filesystem::temp_directory_path() / ("fairway-http-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tls.crt") << cert->cert_pem;
  std::ofstream(dir / "tls.key") << cert->key_pem;
  Server server(ServerOptions{.bind_address = "127.0.0.1:0",
                              .tls_cert_file = (dir / "tls.crt").string(),
                              .tls_key_file = (dir / "tls.key").string()});
  routed(server);
  ASSERT_TRUE(server.start());
  k8s::ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(server.port());
  config.ca_pem = cert->cert_pem;  // verification on
  k8s::RestClient client(config);
  auto response = client.get("/echo");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /echo ? ");
  server.stop();
  std::filesystem::remove_all(dir);
}

// A GET of /echo over a fresh connection that trusts only `ca_pem`.
bool served_to(uint16_t port, const std::string& ca_pem) {
  k8s::ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.ca_pem = ca_pem;
  k8s::RestClient client(config);
  const auto response = client.get("/echo");
  return response && response->status == 200;
}

TEST(Server, ReloadsItsCertificateWhenTheFilesChange) {
  // cert-manager renews the webhook's Secret; the kubelet swaps the mounted files. New
  // connections must get the new certificate without a restart.
  const auto first = apiserver::make_self_signed_cert("fairway-first");
  const auto second = apiserver::make_self_signed_cert("fairway-second");
  ASSERT_TRUE(first && second);
  const auto dir =
      std::filesystem::temp_directory_path() / ("fairway-http-reload-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& cert, const std::string& key, int bump_seconds) {
    std::ofstream(dir / "tls.crt", std::ios::trunc) << cert;
    std::ofstream(dir / "tls.key", std::ios::trunc) << key;
    // Distinct times, whatever the file system's timestamp granularity.
    const auto when =
        std::filesystem::file_time_type::clock::now() + std::chrono::seconds(bump_seconds);
    std::filesystem::last_write_time(dir / "tls.crt", when);
    std::filesystem::last_write_time(dir / "tls.key", when);
  };
  write(first->cert_pem, first->key_pem, 0);
  Server server(ServerOptions{.bind_address = "127.0.0.1:0",
                              .tls_cert_file = (dir / "tls.crt").string(),
                              .tls_key_file = (dir / "tls.key").string()});
  routed(server);
  ASSERT_TRUE(server.start());
  EXPECT_TRUE(served_to(server.port(), first->cert_pem));
  EXPECT_FALSE(served_to(server.port(), second->cert_pem));

  write(second->cert_pem, second->key_pem, 10);
  EXPECT_TRUE(served_to(server.port(), second->cert_pem));
  EXPECT_FALSE(served_to(server.port(), first->cert_pem));

  // A rotation caught half way (a key that does not load) keeps the last good certificate.
  write(first->cert_pem, "not a key", 20);
  EXPECT_TRUE(served_to(server.port(), second->cert_pem));
  server.stop();
  std::filesystem::remove_all(dir);
}

TEST(Server, StartReportsBadCertificatesAndBusyPorts) {
  Server bad_cert(ServerOptions{.bind_address = "127.0.0.1:0",
                                .tls_cert_file = "/nonexistent.crt",
                                .tls_key_file = "/nonexistent.key"});
  auto started = bad_cert.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("/nonexistent.crt"), std::string::npos);
  Server half(ServerOptions{.bind_address = "127.0.0.1:0", .tls_cert_file = "/x.crt"});
  EXPECT_FALSE(half.start());

  Server first(ServerOptions{.bind_address = "127.0.0.1:0"});
  ASSERT_TRUE(first.start());
  Server second(ServerOptions{.bind_address = "127.0.0.1:" + std::to_string(first.port())});
  auto busy = second.start();
  ASSERT_FALSE(busy);
  EXPECT_NE(busy.error().find("listen on"), std::string::npos);
}

}  // namespace
}  // namespace fairway::http
