#include "sim/apiserver/server.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
// Asio's scheduler and executors trip GCC's -Wnull-dereference after inlining (a false positive
// in system headers that the usual system-header suppression misses). Only these headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "k8s-client/json_limits.h"
#include "sim/apiserver/api_handler.h"
#include "sim/apiserver/base64.h"
#include "sim/apiserver/embedded_crds.h"
#include "sim/apiserver/request_info.h"
#include "sim/apiserver/resource_claim_controller.h"
#include "sim/apiserver/tls.h"

namespace fairway::apiserver {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;

// ---- YAML → JSON ------------------------------------------------------------------------------

namespace {

json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  if (text == "~" || text == "null" || text == "Null" || text == "NULL" || text.empty())
    return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (end && *end == '\0' && errno == 0 &&
        (std::isdigit(static_cast<unsigned char>(text[0])) ||
         ((text[0] == '-' || text[0] == '+') && text.size() > 1))) {
      return v;
    }
  }
  {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    const bool numeric_start = std::isdigit(static_cast<unsigned char>(text[0])) ||
                               text[0] == '-' || text[0] == '+' || text[0] == '.';
    if (end && *end == '\0' && numeric_start && text.find_first_of("xXnN") == std::string::npos) {
      return v;
    }
  }
  return text;
}

json node_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : node) a.push_back(node_to_json(e));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : node) o[kv.first.as<std::string>()] = node_to_json(kv.second);
      return o;
    }
  }
  return nullptr;
}

}  // namespace

tl::expected<json, std::string> yaml_to_json(std::string_view yaml_text) {
  try {
    return node_to_json(YAML::Load(std::string(yaml_text)));
  } catch (const YAML::Exception& e) {
    return tl::unexpected(std::string(e.what()));
  }
}

tl::expected<std::vector<json>, std::string> yaml_documents_to_json(std::string_view yaml_text) {
  try {
    std::vector<json> out;
    for (const YAML::Node& document : YAML::LoadAll(std::string(yaml_text))) {
      if (!document.IsNull()) out.push_back(node_to_json(document));
    }
    return out;
  } catch (const YAML::Exception& e) {
    return tl::unexpected(std::string(e.what()));
  }
}

tl::expected<size_t, std::string> load_embedded_crds(Store& store) {
  const ResourceTypePtr crds = store.resource("apiextensions.k8s.io", "customresourcedefinitions");
  size_t n = 0;
  for (const EmbeddedFile& file : embedded_crds()) {
    auto doc = yaml_to_json(file.text);
    if (!doc) return tl::unexpected(fmt::format("{}: {}", file.name, doc.error()));
    auto created = store.create(*crds, "", std::move(*doc));
    if (!created && created.error().code != 409) {
      return tl::unexpected(fmt::format("{}: {}", file.name, created.error().message));
    }
    ++n;
  }
  return n;
}

// ---- the server -------------------------------------------------------------------------------

struct Server::Impl {
  ServerOptions options;
  Store store;
  Faults faults;
  ApiHandler handler;
  SelfSignedCert cert;
  std::string token;
  net::io_context ioc;
  std::optional<ssl::context> ssl_ctx;
  tcp::acceptor acceptor{ioc};
  net::steady_timer housekeeping{ioc};
  std::chrono::steady_clock::time_point last_watch_drop = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::mutex audit_mutex;
  std::ofstream audit;  // open when options.audit_log_path is set
  // kube-controller-manager's resourceclaim controller (1.34+); its sync runs on a server
  // thread, posted once per burst of changes.
  std::unique_ptr<ResourceClaimController> claim_controller;
  std::atomic<bool> claim_sync_posted{false};

  explicit Impl(ServerOptions o)
      : options(std::move(o)), store(options.store), handler(store, faults, {}) {}

  void log(int level, std::string_view message) const {
    if (options.log && level <= options.verbosity) options.log(level, message);
  }

  void accept();
  void schedule_housekeeping();
  void wake_claim_controller() {
    if (claim_sync_posted.exchange(true)) return;
    net::post(ioc, [this] {
      claim_sync_posted = false;  // changes from now on post another sync
      if (!stopped && claim_controller) claim_controller->sync();
    });
  }

  // One JSON line per API request that reached the handler, flushed at once so a test reading
  // the file while the server runs sees every call.
  // Every answered request goes to the audit hook (not watches) and the audit log file.
  void record(const HttpRequest& request, int status, bool watch = false) {
    if (options.audit && !watch) {
      options.audit({request.method, request.target, status, request.user_agent});
    }
    if (!audit.is_open()) return;
    const RequestInfo info = resolve_request_info(request.method, request.target);
    if (!info.resource_request) return;
    const nlohmann::json line = audit_line(info, request.user_agent, status);
    const std::lock_guard lock(audit_mutex);
    audit << line.dump() << '\n' << std::flush;
  }
};

namespace {

// kube-apiserver's limit on a request body (3 MiB): larger ones get its 413.
constexpr size_t kBodyLimit = k8s::kMaxRequestBodyBytes;
constexpr auto kIdleTimeout = std::chrono::seconds(300);
constexpr auto kWriteTimeout = std::chrono::seconds(60);

ApiError fault_error(int code, int retry_after) {
  ApiError e;
  e.code = code;
  e.retry_after_seconds = code == 429 || code >= 500 ? retry_after : 0;
  switch (code) {
    case 410:
      e.reason = "Expired";
      e.message = "injected fault: the resource version is too old";
      break;
    case 429:
      e.reason = "TooManyRequests";
      e.message = "injected fault: too many requests, please try again later";
      e.details = {{"retryAfterSeconds", retry_after}};
      break;
    case 500:
      e.reason = "InternalError";
      e.message = "Internal error occurred: injected fault";
      e.details = {{"retryAfterSeconds", retry_after}};
      break;
    case 503:
      e.reason = "ServiceUnavailable";
      e.message = "injected fault: the server is currently unable to handle the request";
      break;
    default:
      e.reason = "InternalError";
      e.message = "injected fault";
      break;
  }
  return e;
}

template <bool kTls>
class Session : public std::enable_shared_from_this<Session<kTls>> {
 public:
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

  Session(tcp::socket&& socket, Server::Impl& server)
      : server_(server),
        stream_(make_stream(std::move(socket), server)),
        timer_(stream_.get_executor()),
        bookmark_timer_(stream_.get_executor()) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->on_run(); });
  }

 private:
  static Stream make_stream(tcp::socket&& socket, Server::Impl& server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.ssl_ctx);
    } else {
      return Stream(std::move(socket));
    }
  }

  auto& lowest() { return beast::get_lowest_layer(stream_); }

  void on_run() {
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return;  // scanners, clients that gave up: nothing to say
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    lowest().expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      // As kube-apiserver answers, then the connection is closed (the body is never read).
      req_ = parser_->release();
      req_.keep_alive(false);
      send(error_response(
          ApiError{413, "RequestEntityTooLarge",
                   "Request entity too large: limit is " + std::to_string(kBodyLimit), nullptr}));
      return;
    }
    if (ec) {
      close();
      return;
    }
    req_ = parser_->release();
    const std::string_view target(req_.target().data(), req_.target().size());
    FaultDecision d;
    if (ApiHandler::is_api_path(target)) d = server_.faults.decide(target);
    if (d.action == FaultDecision::Action::kReset) {
      server_.log(2, fmt::format("fault: reset connection on {} {}",
                                 std::string(req_.method_string()), target));
      reset();
      return;
    }
    if (d.delay_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(d.delay_ms));
      timer_.async_wait(
          [self = this->shared_from_this(), d](beast::error_code) { self->process(d); });
      return;
    }
    process(d);
  }

  void process(const FaultDecision& d) {
    if (d.action == FaultDecision::Action::kFail) {
      send(error_response(fault_error(d.code, d.retry_after_seconds)));
      return;
    }
    HttpRequest r;
    r.method = std::string(req_.method_string());
    r.target = std::string(req_.target());
    r.body = std::move(req_.body());
    r.content_type = std::string(req_[http::field::content_type]);
    r.accept = std::string(req_[http::field::accept]);
    r.authorization = std::string(req_[http::field::authorization]);
    r.user_agent = std::string(req_[http::field::user_agent]);
    std::weak_ptr<Session> weak = this->shared_from_this();
    ApiReply reply = server_.handler.handle(r, [weak] {
      if (auto self = weak.lock()) self->notify();
    });
    if (auto* resp = std::get_if<HttpResponse>(&reply)) {
      server_.log(4, fmt::format("{} {} {}", r.method, r.target, resp->status));
      server_.record(r, resp->status);
      send(std::move(*resp));
    } else {
      server_.log(3, fmt::format("WATCH {}", r.target));
      server_.record(r, 200, /*watch=*/true);
      start_watch(std::move(std::get<WatchStream>(reply)));
    }
  }

  void send(HttpResponse r) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), req_.version());
    res->set(http::field::server, "fairway-apiserver");
    res->set(http::field::content_type, r.content_type);
    res->set("Cache-Control", "no-cache, private");
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(r.body);
    res->prepare_payload();
    lowest().expires_after(kWriteTimeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        if (res->need_eof()) return self->shutdown();
                        self->do_read();
                      });
  }

  // ---- watch streaming ----

  void start_watch(WatchStream w) {
    watcher_ = std::move(w.watcher);
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, req_.version());
    res->set(http::field::server, "fairway-apiserver");
    res->set(http::field::content_type, w.content_type);
    res->set("Cache-Control", "no-cache, private");
    res->chunked(true);
    res->keep_alive(false);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    // Watches are long: no idle deadline; slow readers are bounded by the watcher's queue.
    lowest().expires_never();
    writing_ = true;
    http::async_write_header(
        stream_, *sr, [self = this->shared_from_this(), res, sr](beast::error_code ec, size_t) {
          self->writing_ = false;
          if (ec) return self->abort_watch();
          self->pump();
        });
    timer_.expires_after(w.timeout);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->watch_done_) return;
      self->watcher_->close();
      self->pump();
    });
    if (w.bookmarks) schedule_bookmark();
    // Notice a client that goes away from a quiet watch.
    stream_.async_read_some(net::buffer(sink_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec || self->watch_done_) return;
                              self->watcher_->close();
                              self->pump();
                            });
  }

  void schedule_bookmark() {
    bookmark_timer_.expires_after(server_.options.bookmark_interval);
    bookmark_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->watch_done_) return;
      self->server_.store.bookmark(*self->watcher_);
      self->schedule_bookmark();
    });
  }

  void notify() {
    if (notify_pending_.exchange(true)) return;
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->pump(); });
  }

  void pump() {
    notify_pending_ = false;
    if (writing_ || watch_done_ || !watcher_) return;
    Watcher::Drained d = watcher_->drain();
    if (!d.data.empty()) {
      chunk_ = std::move(d.data);
      writing_ = true;
      net::async_write(stream_, http::make_chunk(net::buffer(chunk_)),
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (ec) return self->abort_watch();
                         self->pump();
                       });
      return;
    }
    if (d.finished) {
      watch_done_ = true;
      writing_ = true;
      net::async_write(stream_, http::make_chunk_last(),
                       [self = this->shared_from_this()](beast::error_code, size_t) {
                         self->writing_ = false;
                         self->end_watch();
                         self->shutdown();
                       });
    }
  }

  void end_watch() {
    watch_done_ = true;
    timer_.cancel();
    bookmark_timer_.cancel();
    if (watcher_) server_.store.stop_watch(watcher_);
  }

  void abort_watch() {
    end_watch();
    close();
  }

  // ---- connection ends ----

  void shutdown() {
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  void close() {
    if (watcher_ && !watch_done_) end_watch();
    beast::error_code ec;
    lowest().socket().close(ec);
  }

  void reset() {
    beast::error_code ec;
    lowest().socket().set_option(net::socket_base::linger(true, 0), ec);
    lowest().socket().close(ec);
  }

  Server::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  net::steady_timer timer_;
  net::steady_timer bookmark_timer_;
  std::shared_ptr<Watcher> watcher_;
  std::string chunk_;
  bool writing_ = false;
  bool watch_done_ = false;
  std::atomic<bool> notify_pending_{false};
  std::array<char, 256> sink_{};
};

}  // namespace

void Server::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopped) accept();
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (options.tls) {
      std::make_shared<Session<true>>(std::move(socket), *this)->run();
    } else {
      std::make_shared<Session<false>>(std::move(socket), *this)->run();
    }
    accept();
  });
}

void Server::Impl::schedule_housekeeping() {
  housekeeping.expires_after(std::chrono::milliseconds(100));
  housekeeping.async_wait([this](beast::error_code ec) {
    if (ec || stopped) return;
    if (const size_t n = store.finalize_due(); n > 0) {
      log(3, fmt::format("finalized {} graceful deletion(s)", n));
    }
    if (claim_controller && claim_controller->retry_due()) wake_claim_controller();
    const int every = faults.settings().drop_watches_every_seconds;
    const auto now = std::chrono::steady_clock::now();
    if (every > 0 && now - last_watch_drop >= std::chrono::seconds(every)) {
      last_watch_drop = now;
      const size_t n = store.close_all_watches();
      faults.count_dropped_watches(n);
      log(1, fmt::format("fault: dropped {} watch(es)", n));
    } else if (every == 0) {
      last_watch_drop = now;
    }
    schedule_housekeeping();
  });
}

tl::expected<std::unique_ptr<Server>, std::string> Server::start(ServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  ServerOptions& o = impl->options;
  impl->token = o.token.empty() ? random_token() : o.token;
  if (!o.audit_log_path.empty()) {
    impl->audit.open(o.audit_log_path, std::ios::app);
    if (!impl->audit) return tl::unexpected("cannot open the audit log " + o.audit_log_path);
  }
  if (o.load_fairway_crds) {
    auto loaded = load_embedded_crds(impl->store);
    if (!loaded) return tl::unexpected("loading the fairway CRDs: " + loaded.error());
  }
  if (o.tls) {
    auto cert = make_self_signed_cert("fairway-apiserver");
    if (!cert) return tl::unexpected(cert.error());
    impl->cert = std::move(*cert);
    try {
      impl->ssl_ctx.emplace(ssl::context::tls_server);
      impl->ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                 ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                 ssl::context::no_tlsv1_1);
      impl->ssl_ctx->use_certificate_chain(net::buffer(impl->cert.cert_pem));
      impl->ssl_ctx->use_private_key(net::buffer(impl->cert.key_pem), ssl::context::pem);
    } catch (const std::exception& e) {
      return tl::unexpected(std::string("TLS setup: ") + e.what());
    }
  }
  try {
    const auto address = net::ip::make_address(o.bind_address);
    const tcp::endpoint endpoint(address, o.port);
    impl->acceptor.open(endpoint.protocol());
    impl->acceptor.set_option(net::socket_base::reuse_address(true));
    impl->acceptor.bind(endpoint);
    impl->acceptor.listen(net::socket_base::max_listen_connections);
    impl->port = impl->acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    return tl::unexpected(
        fmt::format("cannot listen on {}:{}: {}", o.bind_address, o.port, e.what()));
  }
  impl->handler.set_token(o.require_token ? impl->token : std::string());
  impl->handler.set_server_address(fmt::format("{}:{}", o.bind_address, impl->port));
  impl->handler.set_kubernetes_version(o.kubernetes_version);
  impl->handler.set_token_users(o.token_users);
  if (o.resource_claim_controller &&
      ResourceClaimController::runs_at(impl->store, o.kubernetes_version)) {
    Impl* p = impl.get();
    impl->claim_controller = std::make_unique<ResourceClaimController>(
        impl->store,
        ResourceClaimControllerOptions{
            .clock = {},
            .wake = [p] { p->wake_claim_controller(); },
            .log = [p](int level, std::string_view message) { p->log(level, message); }});
  }
  impl->accept();
  impl->schedule_housekeeping();
  const int threads = std::max(1, o.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([p = impl.get()] { p->ioc.run(); });
  }
  impl->log(0, fmt::format("fairway apiserver listening on {}", impl->port));
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (impl_->stopped.exchange(true)) return;
  net::post(impl_->ioc, [p = impl_.get()] {
    beast::error_code ec;
    p->acceptor.close(ec);
    p->housekeeping.cancel();
  });
  impl_->store.close_all_watches();
  // Let the watch streams write their last chunk, then stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->claim_controller.reset();  // stops observing the store
}

uint16_t Server::port() const {
  return impl_->port;
}

std::string Server::url() const {
  const std::string host = impl_->options.bind_address.find(':') != std::string::npos
                               ? "[" + impl_->options.bind_address + "]"
                               : impl_->options.bind_address;
  return fmt::format("{}://{}:{}", impl_->options.tls ? "https" : "http", host, impl_->port);
}

const std::string& Server::token() const {
  return impl_->token;
}
const std::string& Server::ca_pem() const {
  return impl_->cert.cert_pem;
}
Store& Server::store() {
  return impl_->store;
}
Faults& Server::faults() {
  return impl_->faults;
}
ResourceClaimController* Server::resource_claim_controller() {
  return impl_->claim_controller.get();
}

size_t Server::drop_watches() {
  const size_t n = impl_->store.close_all_watches();
  impl_->faults.count_dropped_watches(n);
  return n;
}

void Server::compact() {
  impl_->store.compact();
}

std::string Server::kubeconfig() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "fairway-sim";
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "server" << YAML::Value << url();
  if (impl_->options.tls) {
    out << YAML::Key << "certificate-authority-data" << YAML::Value
        << base64_encode(impl_->cert.cert_pem);
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "fairway-sim";
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  if (impl_->options.require_token) out << YAML::Key << "token" << YAML::Value << impl_->token;
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "fairway-sim";
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << "fairway-sim";
  out << YAML::Key << "user" << YAML::Value << "fairway-sim";
  out << YAML::Key << "namespace" << YAML::Value << "default";
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "current-context" << YAML::Value << "fairway-sim";
  out << YAML::Key << "preferences" << YAML::Value << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

tl::expected<void, std::string> Server::write_kubeconfig(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return tl::unexpected("cannot write " + tmp);
    f << kubeconfig();
    if (!f) return tl::unexpected("cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);  // it holds the token
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return tl::unexpected("cannot rename to " + path);
  return {};
}

}  // namespace fairway::apiserver
