#include "k8s-client/rest_client.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
// Asio's scheduler trips GCC's -Wnull-dereference after inlining (a false positive in system
// headers that the usual system-header suppression misses).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop
#include <charconv>
#include <condition_variable>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "k8s-client/line_splitter.h"
#include "k8s-client/objects.h"
#include "k8s-client/rate_limiter.h"

namespace fairway::k8s {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr std::string_view kFenced = "write fenced: this client may not write now";

struct Url {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string authority;  // Host header
  std::string base_path;  // a server URL may carry a path prefix (proxies, Rancher)
};

tl::expected<Url, std::string> parse_url(std::string_view server) {
  Url url;
  std::string_view rest;
  if (server.starts_with("https://")) {
    rest = server.substr(8);
  } else if (server.starts_with("http://")) {
    url.tls = false;
    rest = server.substr(7);
  } else {
    return tl::unexpected(fmt::format("server \"{}\": expected http:// or https://", server));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    url.base_path = std::string(rest.substr(slash));
    while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
  }
  if (authority.empty()) return tl::unexpected(fmt::format("server \"{}\": no host", server));
  url.authority = std::string(authority);
  if (authority.front() == '[') {  // [::1]:6443
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return tl::unexpected(fmt::format("server \"{}\": unbalanced '['", server));
    }
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      url.port = std::string(authority.substr(close + 2));
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) url.port = std::string(authority.substr(colon + 1));
  }
  if (url.port.empty()) url.port = url.tls ? "443" : "80";
  return url;
}

Response make_response(int status, std::string body, std::string content_type) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = std::move(content_type);
  return response;
}

std::string_view path_only(std::string_view path) {
  return path.substr(0, path.find('?'));
}

// Errors that mean "the server had already closed this kept-alive connection".
bool is_stale_connection_error(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted || ec == net::ssl::error::stream_truncated;
}

}  // namespace

struct RestClient::Impl {
  // One HTTP connection with its own io_context: async Beast operations run to completion on
  // whichever thread uses the connection, so each has a deadline, and stop() can post a close
  // into it from another thread.
  struct Connection {
    explicit Connection(Impl& owner) : impl(owner) {}
    ~Connection() { impl.unregister(this); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Impl& impl;
    net::io_context ioc{1};
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    bool reused = false;  // served a request before: may have been closed by the server since

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
    void close() {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest().socket().close(ignored);
    }
    // Starts an async operation through `start(stream, handler)` and runs it to completion.
    template <typename Start>
    beast::error_code run(Start&& start) {
      beast::error_code result = net::error::operation_aborted;
      auto handler = [&result](beast::error_code ec, auto&&...) { result = ec; };
      if (tls) {
        start(*tls, handler);
      } else {
        start(*plain, handler);
      }
      ioc.restart();
      ioc.run();
      return result;
    }
  };
  using ConnectionPtr = std::unique_ptr<Connection>;

  Impl(ClusterConfig cluster_config, RestOptions rest_options)
      : config(std::move(cluster_config)),
        options(std::move(rest_options)),
        limiter(options.qps, options.burst, clock()) {
    auto parsed = parse_url(config.server);
    if (!parsed) {
      init_error = parsed.error();
      return;
    }
    url = std::move(*parsed);
    if (url.tls) init_tls();
  }

  void init_tls() {
    ssl_ctx.emplace(ssl::context::tls_client);
    beast::error_code ec;
    ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1,
                         ec);
    if (!config.ca_pem.empty()) {
      ssl_ctx->add_certificate_authority(net::buffer(config.ca_pem), ec);
      if (ec) {
        init_error = "certificate authority: " + ec.message();
        return;
      }
    } else {
      ssl_ctx->set_default_verify_paths(ec);
      if (ec) {
        init_error = "system CA bundle: " + ec.message();
        return;
      }
    }
    if (!config.client_cert_pem.empty()) {
      ssl_ctx->use_certificate_chain(net::buffer(config.client_cert_pem), ec);
      if (ec) {
        init_error = "client certificate: " + ec.message();
        return;
      }
      ssl_ctx->use_private_key(net::buffer(config.client_key_pem), ssl::context::pem, ec);
      if (ec) {
        init_error = "client key: " + ec.message();
        return;
      }
    }
  }

  // ---- connections ----

  void unregister(Connection* connection) {
    std::lock_guard lock(active_mutex);
    active.erase(connection);
  }

  tl::expected<ConnectionPtr, TransportError> connect() {
    if (!init_error.empty()) return tl::unexpected(TransportError{init_error});
    auto connection = std::make_unique<Connection>(*this);
    {
      std::lock_guard lock(active_mutex);
      if (stopped_active) return tl::unexpected(TransportError{"client stopped"});
      active.insert(connection.get());
    }
    Connection& c = *connection;
    if (url.tls) {
      c.tls.emplace(c.ioc, *ssl_ctx);
    } else {
      c.plain.emplace(c.ioc);
    }
    tcp::resolver resolver(c.ioc);
    tcp::resolver::results_type endpoints;
    beast::error_code ec = net::error::operation_aborted;
    resolver.async_resolve(url.host, url.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    c.ioc.run();
    if (ec) {
      return tl::unexpected(TransportError{fmt::format("resolve {}: {}", url.host, ec.message())});
    }
    c.lowest().expires_after(options.request_timeout);
    ec = c.run([&](auto&, auto handler) { c.lowest().async_connect(endpoints, handler); });
    if (ec) {
      return tl::unexpected(
          TransportError{fmt::format("connect {}:{}: {}", url.host, url.port, ec.message())});
    }
    tune_socket(c.lowest().socket());
    if (c.tls) {
      if (auto r = prepare_tls(*c.tls); !r) return tl::unexpected(r.error());
      ec = c.run(
          [&](auto&, auto handler) { c.tls->async_handshake(ssl::stream_base::client, handler); });
      if (ec) {
        return tl::unexpected(
            TransportError{fmt::format("TLS handshake with {}: {}", url.host, describe_tls(ec))});
      }
    }
    c.lowest().expires_never();
    return connection;
  }

  static void tune_socket(tcp::socket& socket) {
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(net::socket_base::keep_alive(true), ignored);
    // Detect a vanished server on a quiet watch within about a minute, not the kernel's 2 hours.
    const int idle = 30, interval = 10, count = 3;
    const int fd = socket.native_handle();
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  }

  tl::expected<void, TransportError> prepare_tls(beast::ssl_stream<beast::tcp_stream>& stream) {
    const std::string& name = config.tls_server_name.empty() ? url.host : config.tls_server_name;
    beast::error_code ec;
    net::ip::make_address(name, ec);
    const bool is_ip = !ec;
    if (!is_ip) {
      // SNI. SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
      if (SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(name.c_str())) != 1) {
        return tl::unexpected(TransportError{"TLS: cannot set the server name"});
      }
    }
    if (config.insecure_skip_tls_verify) {
      stream.set_verify_mode(ssl::verify_none, ec);
    } else {
      stream.set_verify_mode(ssl::verify_peer, ec);
      // Checks DNS names and, for an address, IP SANs (X509_check_host / X509_check_ip).
      stream.set_verify_callback(ssl::host_name_verification(name), ec);
    }
    return {};
  }

  static std::string describe_tls(const beast::error_code& ec) {
    // OpenSSL's reason ("certificate verify failed", "wrong version number") is the message.
    return ec.message();
  }

  // ---- pool ----

  // Takes an idle connection, or a slot to open a new one (nullptr), waiting while all
  // pool_size connections are busy.
  tl::expected<ConnectionPtr, TransportError> checkout() {
    std::unique_lock lock(pool_mutex);
    pool_cv.wait(lock,
                 [&] { return stopped || !idle.empty() || open < std::max(options.pool_size, 1); });
    if (stopped) return tl::unexpected(TransportError{"client stopped"});
    if (!idle.empty()) {
      ConnectionPtr connection = std::move(idle.back());
      idle.pop_back();
      return connection;
    }
    ++open;
    return ConnectionPtr{};
  }

  void checkin(ConnectionPtr connection, bool reusable) {
    ConnectionPtr dropped;
    {
      std::lock_guard lock(pool_mutex);
      if (connection && reusable && !stopped) {
        connection->reused = true;
        idle.push_back(std::move(connection));
      } else {
        --open;
        dropped = std::move(connection);  // closed outside the lock
      }
    }
    pool_cv.notify_one();
  }

  // ---- auth ----

  std::string bearer_token() {
    if (config.token_file.empty()) return config.token;
    std::lock_guard lock(token_mutex);
    const auto now = clock().now();
    if (cached_token.empty() || now - token_read_at >= config.token_reload) {
      std::ifstream in(config.token_file, std::ios::binary);
      std::ostringstream text;
      if (in) text << in.rdbuf();
      std::string token = text.str();
      while (!token.empty() &&
             (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
        token.pop_back();
      }
      // An unreadable or empty file keeps the last good token (a rotation in progress).
      if (!token.empty()) cached_token = std::move(token);
      token_read_at = now;
    }
    return cached_token.empty() ? config.token : cached_token;
  }

  const Clock& clock() const {
    return options.clock != nullptr ? *options.clock : SystemClock::instance();
  }

  // ---- waits that stop() interrupts ----

  // Sleeps for `duration`; false when the client was stopped meanwhile.
  bool sleep_for(std::chrono::nanoseconds duration) {
    if (duration <= std::chrono::nanoseconds::zero()) return !is_stopped();
    std::unique_lock lock(pool_mutex);
    return !wait_until(clock(), pool_cv, lock, clock().now() + duration, [&] { return stopped; });
  }
  bool is_stopped() {
    std::lock_guard lock(pool_mutex);
    return stopped;
  }

  void observe(std::string_view verb, std::string_view path, int code, Clock::duration latency) {
    RequestObserver copy;
    {
      std::lock_guard lock(observer_mutex);
      copy = observer;
    }
    if (copy)
      copy(verb, path_only(path), code,
           std::chrono::duration_cast<std::chrono::nanoseconds>(latency));
  }

  // ---- requests ----

  http::request<http::string_body> make_request(http::verb verb, std::string_view path,
                                                std::string_view body,
                                                std::string_view content_type) {
    http::request<http::string_body> req{verb, url.base_path + std::string(path), 11};
    req.set(http::field::host, url.authority);
    req.set(http::field::user_agent, options.user_agent);
    req.set(http::field::accept, "application/json");
    const std::string token = bearer_token();
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty() || verb == http::verb::post || verb == http::verb::put ||
        verb == http::verb::patch) {
      req.set(http::field::content_type, content_type);
      req.body() = std::string(body);
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  struct Exchange {
    tl::expected<Response, TransportError> result;
    bool reusable = false;
    bool nothing_received = false;  // the failure happened before any response byte
  };

  Exchange exchange_on(Connection& c, const http::request<http::string_body>& req) {
    Exchange out{tl::unexpected(TransportError{}), false, true};
    c.lowest().expires_after(options.request_timeout);  // one deadline for write + read
    beast::error_code ec =
        c.run([&](auto& stream, auto handler) { http::async_write(stream, req, handler); });
    if (ec) {
      out.result = tl::unexpected(TransportError{fmt::format("write: {}", ec.message())});
      return out;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // a LIST can be 100s of MB
    ec = c.run([&](auto& stream, auto handler) {
      http::async_read_header(stream, c.buffer, parser, handler);
    });
    if (!ec) {
      // Room for the JSON parser's padding past the body, so that decode_list(std::string&)
      // parses a LIST in place instead of copying it (the body reader's own reserve of the
      // content length keeps this larger capacity).
      if (const auto length = parser.content_length()) {
        parser.get().body().reserve(static_cast<size_t>(*length) + kListPadding);
      }
      ec = c.run(
          [&](auto& stream, auto handler) { http::async_read(stream, c.buffer, parser, handler); });
    }
    c.lowest().expires_never();
    if (ec) {
      out.nothing_received = !parser.got_some() && is_stale_connection_error(ec);
      out.result = tl::unexpected(
          TransportError{ec == beast::error::timeout
                             ? fmt::format("timed out after {}s", options.request_timeout.count())
                             : fmt::format("read: {}", ec.message())});
      return out;
    }
    auto message = parser.release();
    Response response;
    response.status = static_cast<int>(message.result_int());
    response.content_type = std::string(message[http::field::content_type]);
    response.retry_after = std::string(message[http::field::retry_after]);
    response.body = std::move(message.body());
    out.reusable = message.keep_alive();
    out.result = std::move(response);
    out.nothing_received = false;
    return out;
  }

  // One HTTP exchange through the pool; a kept-alive connection the server closed meanwhile is
  // replaced once (the request had not reached the server: no response byte came back).
  // `may_send` (may be empty) is asked last, with a connection in hand and the request built, so
  // that waiting for a pooled connection or a TLS handshake cannot carry a write decided
  // before a lost lease past it.
  tl::expected<Response, TransportError> exchange(http::verb verb, std::string_view path,
                                                  std::string_view body,
                                                  std::string_view content_type,
                                                  const std::function<bool()>& may_send) {
    auto slot = checkout();
    if (!slot) return tl::unexpected(slot.error());
    ConnectionPtr connection = std::move(*slot);
    const auto req = make_request(verb, path, body, content_type);
    for (int attempt = 0;; ++attempt) {
      if (!connection) {
        auto fresh = connect();
        if (!fresh) {
          checkin(nullptr, false);
          return tl::unexpected(fresh.error());
        }
        connection = std::move(*fresh);
      }
      if (may_send && !may_send()) {
        checkin(std::move(connection), true);
        return tl::unexpected(TransportError{std::string(kFenced)});
      }
      Exchange result = exchange_on(*connection, req);
      if (!result.result && connection->reused && result.nothing_received && attempt == 0 &&
          !is_stopped()) {
        connection.reset();  // stale: reconnect once
        continue;
      }
      checkin(std::move(connection), result.result.has_value() && result.reusable);
      if (!result.result && is_stopped()) return tl::unexpected(TransportError{"client stopped"});
      return std::move(result.result);
    }
  }

  // Retry-After in seconds (what the API server sends); missing or unreadable: 1 s; capped.
  static std::chrono::seconds retry_after(std::string_view header) {
    int seconds = 1;
    if (!header.empty()) {
      auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
      if (ec != std::errc() || seconds < 0) seconds = 1;
    }
    return std::chrono::seconds(std::clamp(seconds, 0, 60));
  }

  void stop_all() {
    {
      std::lock_guard lock(pool_mutex);
      stopped = true;
    }
    pool_cv.notify_all();
    std::lock_guard lock(active_mutex);
    stopped_active = true;
    for (Connection* connection : active) {
      net::post(connection->ioc, [connection] { connection->close(); });
    }
  }

  ClusterConfig config;
  RestOptions options;
  TokenBucket limiter;
  Url url;
  std::optional<ssl::context> ssl_ctx;
  std::string init_error;

  std::mutex pool_mutex;  // also guards `stopped` and the interruptible sleeps
  std::condition_variable pool_cv;
  std::vector<ConnectionPtr> idle;
  int open = 0;
  bool stopped = false;

  std::mutex active_mutex;  // every live connection, so stop() can close it
  std::set<Connection*> active;
  bool stopped_active = false;

  std::mutex token_mutex;
  std::string cached_token;
  Clock::time_point token_read_at;

  std::mutex observer_mutex;
  RequestObserver observer;
  std::mutex fence_mutex;
  WriteFence fence;
};

RestClient::RestClient(ClusterConfig config, RestOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

RestClient::~RestClient() {
  impl_->stop_all();
  std::vector<Impl::ConnectionPtr> idle;
  {
    std::lock_guard lock(impl_->pool_mutex);
    idle.swap(impl_->idle);
  }
}

void RestClient::stop() {
  impl_->stop_all();
}

const Clock& RestClient::clock() const {
  return impl_->clock();
}

bool RestClient::stopped() const {
  return impl_->is_stopped();
}

void RestClient::set_write_fence(WriteFence fence) {
  std::lock_guard lock(impl_->fence_mutex);
  impl_->fence = std::move(fence);
}

void RestClient::set_observer(RequestObserver observer) {
  std::lock_guard lock(impl_->observer_mutex);
  impl_->observer = std::move(observer);
}

tl::expected<Response, TransportError> RestClient::request(std::string_view method,
                                                           std::string_view path,
                                                           std::string_view body,
                                                           std::string_view content_type) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    return tl::unexpected(TransportError{fmt::format("unknown HTTP method \"{}\"", method)});
  }
  Impl& impl = *impl_;
  for (int attempt = 0;; ++attempt) {
    if (!impl.sleep_for(impl.limiter.reserve())) {
      return tl::unexpected(TransportError{"client stopped"});
    }
    WriteFence fence;
    if (verb != http::verb::get) {
      std::lock_guard lock(impl.fence_mutex);
      fence = impl.fence;
    }
    const auto started = impl.clock().now();
    auto result = impl.exchange(verb, path, body, content_type,
                                fence ? std::function<bool()>([&] { return fence(method, path); })
                                      : std::function<bool()>());
    if (!result && result.error().message == kFenced) return result;  // never sent
    impl.observe(method, path, result ? result->status : 0, impl.clock().now() - started);
    if (!result) return result;
    if (result->status == 429 && attempt < impl.options.max_retries_429) {
      const std::chrono::seconds wait = Impl::retry_after(result->retry_after);
      if (!impl.sleep_for(wait)) return tl::unexpected(TransportError{"client stopped"});
      continue;
    }
    return result;
  }
}

tl::expected<Response, TransportError> RestClient::stream(std::string_view path,
                                                          const LineHandler& on_line) {
  return stream(path, on_line, std::stop_token{});
}

tl::expected<Response, TransportError> RestClient::stream(std::string_view path,
                                                          const LineHandler& on_line,
                                                          std::stop_token stop) {
  Impl& impl = *impl_;
  if (!impl.sleep_for(impl.limiter.reserve())) {
    return tl::unexpected(TransportError{"client stopped"});
  }
  if (stop.stop_requested()) return make_response(200, {}, {});
  const auto started = impl.clock().now();
  auto connected = impl.connect();
  if (!connected) {
    impl.observe("WATCH", path, 0, impl.clock().now() - started);
    return tl::unexpected(connected.error());
  }
  Impl::ConnectionPtr connection = std::move(*connected);
  Impl::Connection& c = *connection;
  std::atomic<bool> cancelled{false};
  // Runs on the thread that requests the stop; the close itself runs on ours, inside ioc.run().
  std::stop_callback on_stop(stop, [&] {
    cancelled = true;
    net::post(c.ioc, [&c] { c.close(); });
  });
  auto closed_by_us = [&] { return cancelled.load() || impl.is_stopped(); };

  auto req = impl.make_request(http::verb::get, path, {}, {});
  req.keep_alive(false);  // this connection serves one watch
  c.lowest().expires_after(impl.options.request_timeout);
  beast::error_code ec = c.run([&](auto& s, auto handler) { http::async_write(s, req, handler); });
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!ec) {
    ec = c.run(
        [&](auto& s, auto handler) { http::async_read_header(s, c.buffer, parser, handler); });
  }
  if (ec) {
    impl.observe("WATCH", path, 0, impl.clock().now() - started);
    if (closed_by_us()) return make_response(200, {}, {});
    return tl::unexpected(TransportError{fmt::format("watch: {}", ec.message())});
  }
  const int status = static_cast<int>(parser.get().result_int());
  std::string content_type(parser.get()[http::field::content_type]);
  impl.observe("WATCH", path, status, impl.clock().now() - started);

  const bool success = status >= 200 && status < 300;
  std::string error_body;  // a non-2xx answer is read whole and returned
  LineSplitter splitter;
  std::array<char, 64 * 1024> chunk;
  bool keep_going = true;
  while (keep_going && !parser.is_done()) {
    if (impl.options.stream_idle_timeout.count() > 0 && success) {
      c.lowest().expires_after(impl.options.stream_idle_timeout);
    } else if (success) {
      c.lowest().expires_never();
    } else {
      c.lowest().expires_after(impl.options.request_timeout);
    }
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    ec = c.run([&](auto& s, auto handler) { http::async_read_some(s, c.buffer, parser, handler); });
    const size_t got = chunk.size() - parser.get().body().size;
    if (ec == http::error::need_buffer) ec = {};
    if (got > 0) {
      const std::string_view data(chunk.data(), got);
      if (!success) {
        error_body.append(data);
      } else {
        keep_going = splitter.feed(data, [&](std::string_view line) { return on_line(line); });
      }
    }
    if (ec) break;
  }
  c.close();
  if (!success) return make_response(status, std::move(error_body), std::move(content_type));
  if (!keep_going || closed_by_us()) return make_response(status, {}, std::move(content_type));
  if (ec && !parser.is_done()) {
    // A body without a length ends at EOF (HTTP/1.0-style); anything else cut the watch short.
    if (ec == http::error::end_of_stream || ec == net::error::eof) {
      splitter.finish([&](std::string_view line) { return on_line(line); });
      return make_response(status, {}, std::move(content_type));
    }
    return tl::unexpected(TransportError{ec == beast::error::timeout
                                             ? std::string("watch: idle timeout")
                                             : fmt::format("watch: {}", ec.message())});
  }
  splitter.finish([&](std::string_view line) { return on_line(line); });
  return make_response(status, {}, std::move(content_type));
}

std::string url_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

}  // namespace fairway::k8s
