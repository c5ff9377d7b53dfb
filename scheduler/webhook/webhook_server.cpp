#include "scheduler/webhook/webhook_server.h"

// Asio's scheduler and executors trip GCC's -Wnull-dereference after inlining (a false positive
// in system headers; the same pragma as k8s-client/rest_client.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include <fmt/format.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "scheduler/webhook/admission.h"

namespace fairway::webhook {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxBody = 4 << 20;  // an AdmissionReview of a pod is kilobytes

}  // namespace

HttpAnswer serve_webhook(std::string_view method, std::string_view target, std::string_view body) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz") return {200, "ok", "text/plain"};
  if (path != "/mutate") return {404, "not found", "text/plain"};
  if (method != "POST") return {405, "POST an AdmissionReview", "text/plain"};
  auto answer = review_pod_admission(body);
  if (!answer) return {400, answer.error(), "text/plain"};
  return {200, std::move(*answer), "application/json"};
}

struct WebhookServer::Impl {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  HttpHandler handler;
  std::thread accept_thread;
  std::mutex mutex;
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };
  std::list<Connection> connections;
  std::set<int> live;  // sockets of open connections, shut down by stop()
  std::atomic<bool> stopping{false};

  void serve(tcp::socket socket) {
    const int fd = socket.native_handle();
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      live.insert(fd);
    }
    serve_tls(std::move(socket));
    std::lock_guard lock(mutex);
    live.erase(fd);
  }

  void serve_tls(tcp::socket socket) {
    beast::ssl_stream<tcp::socket> stream(std::move(socket), tls);
    beast::error_code error;
    stream.handshake(asio::ssl::stream_base::server, error);
    if (error) return;
    beast::flat_buffer buffer;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      http::read(stream, buffer, parser, error);
      if (error) break;
      const auto& request = parser.get();
      HttpAnswer answer = handler(std::string_view(request.method_string()),
                                  std::string_view(request.target()), request.body());
      http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                                 request.version()};
      response.set(http::field::server, "fairway-webhook");
      response.set(http::field::content_type, answer.content_type);
      response.keep_alive(request.keep_alive());
      response.body() = std::move(answer.body);
      response.prepare_payload();
      http::write(stream, response, error);
      if (error || !response.keep_alive()) break;
    }
    stream.shutdown(error);
  }

  void accept_loop() {
    for (;;) {
      tcp::socket socket(io);
      beast::error_code error;
      acceptor.accept(socket, error);
      if (stopping) return;
      if (error) continue;
      std::lock_guard lock(mutex);
      // Reap connections that have ended, so a long-lived server does not collect threads.
      for (auto it = connections.begin(); it != connections.end();) {
        if (!it->done->load()) {
          ++it;
          continue;
        }
        it->thread.join();
        it = connections.erase(it);
      }
      Connection& connection = connections.emplace_back();
      connection.thread =
          std::thread([this, done = connection.done, s = std::move(socket)]() mutable {
            serve(std::move(s));
            *done = true;
          });
    }
  }
};

WebhookServer::WebhookServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebhookServer::~WebhookServer() {
  stop();
}

tl::expected<std::unique_ptr<WebhookServer>, std::string> WebhookServer::start(
    const std::string& bind_address, const std::string& cert_file, const std::string& key_file,
    HttpHandler handler) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  beast::error_code error;
  impl->tls.use_certificate_chain_file(cert_file, error);
  if (error)
    return tl::unexpected(fmt::format("webhook certificate {}: {}", cert_file, error.message()));
  impl->tls.use_private_key_file(key_file, asio::ssl::context::pem, error);
  if (error) return tl::unexpected(fmt::format("webhook key {}: {}", key_file, error.message()));

  const auto colon = bind_address.rfind(':');
  if (colon == std::string::npos) {
    return tl::unexpected(
        fmt::format("webhook bind address \"{}\": expected HOST:PORT", bind_address));
  }
  std::string host = bind_address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    port = std::stoi(bind_address.substr(colon + 1));
  } catch (const std::exception&) {
  }
  const auto address = asio::ip::make_address(host, error);
  if (error || port < 0 || port > 65535) {
    return tl::unexpected(
        fmt::format("webhook bind address \"{}\": expected HOST:PORT", bind_address));
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl->acceptor.open(endpoint.protocol(), error);
  if (!error) impl->acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) impl->acceptor.bind(endpoint, error);
  if (!error) impl->acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error)
    return tl::unexpected(fmt::format("webhook listen on {}: {}", bind_address, error.message()));
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<WebhookServer>(new WebhookServer(std::move(impl)));
}

uint16_t WebhookServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void WebhookServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  // Wake the blocking accept by connecting to ourselves, then close the acceptor.
  {
    beast::error_code error;
    tcp::socket poke(impl_->io);
    auto endpoint = impl_->acceptor.local_endpoint(error);
    if (!error) {
      if (endpoint.address().is_unspecified())
        endpoint.address(asio::ip::make_address("127.0.0.1"));
      poke.connect(endpoint, error);
    }
  }
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  beast::error_code error;
  impl_->acceptor.close(error);
  std::list<Impl::Connection> connections;
  {
    std::lock_guard lock(impl_->mutex);
    connections.swap(impl_->connections);
    // Kept-alive connections block in a read: end them.
    for (int fd : impl_->live) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& connection : connections) connection.thread.join();
}

}  // namespace fairway::webhook
