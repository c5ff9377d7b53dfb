#include "scheduler/http/http_server.h"

#include <charconv>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

// Asio's scheduler and executors trip GCC's -Wnull-dereference after inlining (a false positive
// in system headers that the usual system-header suppression misses). Only these headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop

namespace fairway::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using BeastRequest = beast::http::request<beast::http::string_body>;
using BeastResponse = beast::http::response<beast::http::string_body>;

Response make(int status, std::string body, std::string type) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = std::move(type);
  return response;
}

}  // namespace

Response text(int status, std::string body) {
  return make(status, std::move(body), "text/plain; charset=utf-8");
}
Response json(int status, std::string body) {
  return make(status, std::move(body), "application/json");
}

tl::expected<std::pair<std::string, uint16_t>, std::string> parse_bind_address(
    std::string_view address) {
  std::string_view host;
  std::string_view port;
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return tl::unexpected(std::string("bind address \"") + std::string(address) +
                            "\": expected [IPv6]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return tl::unexpected(std::string("bind address \"") + std::string(address) +
                            "\": expected host:port or :port");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535) {
    return tl::unexpected(std::string("bind address \"") + std::string(address) + "\": bad port");
  }
  return std::pair{std::string(host), static_cast<uint16_t>(value)};
}

struct Server::Impl {
  ServerOptions options;
  std::map<std::string, Handler, std::less<>> exact;
  std::map<std::string, Handler, std::less<>> prefixes;
  // Declared before io so that sessions still queued in io (destroyed with it) outlive neither.
  // Replaced, never changed, when the certificate files change (cert-manager or the kubelet
  // rotating a Secret volume): each session keeps the context it started with.
  std::shared_ptr<asio::ssl::context> tls;
  std::filesystem::file_time_type cert_time{};
  std::filesystem::file_time_type key_time{};
  std::mutex tls_mutex;
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::mutex stop_mutex;
  bool stopped = false;

  const Handler* find(std::string_view path) const {
    if (auto it = exact.find(path); it != exact.end()) return &it->second;
    const Handler* best = nullptr;
    size_t best_length = 0;
    for (const auto& [prefix, handler] : prefixes) {
      if (path.starts_with(prefix) && prefix.size() >= best_length) {
        best = &handler;
        best_length = prefix.size();
      }
    }
    return best;
  }

  BeastResponse too_large(unsigned version) const {
    BeastResponse response{beast::http::status::payload_too_large, version};
    response.set(beast::http::field::server, "fairway");
    response.set(beast::http::field::content_type, "text/plain; charset=utf-8");
    response.keep_alive(false);
    response.body() =
        "Request entity too large: limit is " + std::to_string(options.max_body_bytes) + "\n";
    response.prepare_payload();
    return response;
  }

  BeastResponse answer(const BeastRequest& request) const {
    Request in;
    in.method = std::string(request.method_string());
    const std::string_view target = request.target();
    const auto question = target.find('?');
    in.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) in.query = std::string(target.substr(question + 1));
    in.body = request.body();
    for (const auto& field : request) {
      in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      if (field.name() == beast::http::field::content_type)
        in.content_type = std::string(field.value());
    }
    Response out;
    std::optional<Response> refused;
    try {
      if (options.gate) refused = options.gate(in);
    } catch (const std::exception&) {
      refused = text(500, "internal error\n");
    }
    if (refused) {
      out = std::move(*refused);
    } else if (const Handler* handler = find(in.path)) {
      try {
        out = (*handler)(in);
      } catch (const std::exception&) {
        // Exception text is internal (a parser's type_error, a container's out_of_range): it is
        // not shown to whoever sent the request.
        out = text(500, "internal error\n");
      }
    } else {
      out = text(404, "404 page not found\n");
    }
    BeastResponse response{static_cast<beast::http::status>(out.status), request.version()};
    response.set(beast::http::field::server, "fairway");
    response.set(beast::http::field::content_type, out.content_type);
    response.keep_alive(request.keep_alive());
    if (request.method() != beast::http::verb::head) response.body() = std::move(out.body);
    response.prepare_payload();
    return response;
  }
};

namespace {

// One connection: read a request, answer it, repeat while keep-alive. Instantiated for the two
// stream types only.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const Server::Impl& server,
          std::shared_ptr<asio::ssl::context> tls = nullptr)
      : tls_(std::move(tls)), stream_(std::move(stream)), server_(server) {}

  void start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(server_.options.io_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->read();
                              });
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(server_.options.io_timeout);
    beast::http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast::http::error::body_limit) {
      // As kube-apiserver answers: 413, then the connection is closed (the rest of the body is
      // never read).
      response_ = server_.too_large(parser_->get().version());
      beast::get_lowest_layer(stream_).expires_after(server_.options.io_timeout);
      beast::http::async_write(
          stream_, response_,
          [self = this->shared_from_this()](beast::error_code, size_t) { self->close(); });
      return;
    }
    if (ec) return close();
    response_ = server_.answer(parser_->get());
    beast::get_lowest_layer(stream_).expires_after(server_.options.io_timeout);
    beast::http::async_write(stream_, response_,
                             [self = this->shared_from_this()](beast::error_code write_ec, size_t) {
                               if (write_ec || !self->response_.keep_alive()) return self->close();
                               self->read();
                             });
  }

  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  std::shared_ptr<asio::ssl::context> tls_;  // the context stream_ was made from
  Stream stream_;
  const Server::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  BeastResponse response_;
};

// A TLS context from the certificate chain and key files.
tl::expected<std::shared_ptr<asio::ssl::context>, std::string> load_tls(
    const ServerOptions& options) {
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (options.tls_cert_file.empty()) {
    tls->use_certificate_chain(asio::buffer(options.tls_cert_pem), ec);
    if (ec) return tl::unexpected("TLS certificate (in memory): " + ec.message());
    tls->use_private_key(asio::buffer(options.tls_key_pem), asio::ssl::context::pem, ec);
    if (ec) return tl::unexpected("TLS key (in memory): " + ec.message());
    return tls;
  }
  tls->use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) return tl::unexpected("TLS certificate " + options.tls_cert_file + ": " + ec.message());
  tls->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) return tl::unexpected("TLS key " + options.tls_key_file + ": " + ec.message());
  return tls;
}

// The context for a new connection: reloaded first when either file changed since it was
// loaded. A pair that does not load (a half-written rotation) keeps the previous context, and is
// tried again on the next connection.
std::shared_ptr<asio::ssl::context> current_tls(Server::Impl& server) {
  std::lock_guard lock(server.tls_mutex);
  if (server.options.tls_cert_file.empty()) return server.tls;  // in memory: nothing to reload
  std::error_code cert_error;
  std::error_code key_error;
  const auto cert_time = std::filesystem::last_write_time(server.options.tls_cert_file, cert_error);
  const auto key_time = std::filesystem::last_write_time(server.options.tls_key_file, key_error);
  if (cert_error || key_error || (cert_time == server.cert_time && key_time == server.key_time)) {
    return server.tls;
  }
  if (auto reloaded = load_tls(server.options)) {
    server.tls = std::move(*reloaded);
    server.cert_time = cert_time;
    server.key_time = key_time;
  }
  return server.tls;
}

void accept(Server::Impl& server) {
  server.acceptor->async_accept(asio::make_strand(server.io), [&server](beast::error_code ec,
                                                                        tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !server.acceptor->is_open()) return;
    if (!ec) {
      if (server.tls) {
        std::shared_ptr<asio::ssl::context> tls = current_tls(server);
        beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(stream), server,
                                                                        std::move(tls))
            ->start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), server)
            ->start();
      }
    }
    accept(server);
  });
}

}  // namespace

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Server::~Server() {
  stop();
}

void Server::route(std::string path, Handler handler) {
  impl_->exact.insert_or_assign(std::move(path), std::move(handler));
}

void Server::route_prefix(std::string prefix, Handler handler) {
  impl_->prefixes.insert_or_assign(std::move(prefix), std::move(handler));
}

const Handler* Server::find(std::string_view path) const {
  return impl_->find(path);
}

tl::expected<void, std::string> Server::start() {
  Impl& s = *impl_;
  const auto address = parse_bind_address(s.options.bind_address);
  if (!address) return tl::unexpected(address.error());
  if (s.options.tls_cert_file.empty() != s.options.tls_key_file.empty()) {
    return tl::unexpected(std::string("TLS needs both a certificate file and a key file"));
  }
  if (s.options.tls_cert_file.empty() && s.options.tls_key_file.empty() &&
      !s.options.tls_cert_pem.empty()) {
    auto tls = load_tls(s.options);
    if (!tls) return tl::unexpected(tls.error());
    s.tls = std::move(*tls);
  } else if (!s.options.tls_cert_file.empty()) {
    std::error_code ignored;
    s.cert_time = std::filesystem::last_write_time(s.options.tls_cert_file, ignored);
    s.key_time = std::filesystem::last_write_time(s.options.tls_key_file, ignored);
    auto tls = load_tls(s.options);
    if (!tls) return tl::unexpected(tls.error());
    s.tls = std::move(*tls);
  }
  beast::error_code ec;
  const auto ip = address->first.empty() ? asio::ip::address_v4::any()
                                         : asio::ip::make_address(address->first, ec);
  if (ec) return tl::unexpected("bind address \"" + s.options.bind_address + "\": " + ec.message());
  const tcp::endpoint endpoint(ip, address->second);
  s.acceptor = std::make_unique<tcp::acceptor>(s.io);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return tl::unexpected("listen on " + s.options.bind_address + ": " + ec.message());
  accept(s);
  for (int i = 0; i < std::max(s.options.threads, 1); ++i) {
    s.threads.emplace_back([&s] { s.io.run(); });
  }
  return {};
}

uint16_t Server::port() const {
  if (!impl_->acceptor) return 0;
  beast::error_code ec;
  const auto endpoint = impl_->acceptor->local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Server::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->io.stop();  // abandons open sessions: their sockets close with the io_context
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  if (impl_->acceptor) {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  }
}

}  // namespace fairway::http
