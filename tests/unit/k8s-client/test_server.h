#pragma once
// A tiny HTTP/1.1 server on 127.0.0.1 for the client's tests: plain or TLS (a throwaway CA and
// server certificate generated here with OpenSSL), keep-alive, a thread per connection, and a
// handler that can answer whole or stream chunked bodies piece by piece.

#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
// Asio's scheduler trips GCC's -Wnull-dereference after inlining (a system-header false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fairway::k8s::testing {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

// ---- certificates ----

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

inline Pkey make_key() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

inline Cert make_cert(const char* common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                      bool is_ca, const char* san) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san) add(NID_subject_alt_name, san);
  X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

inline std::string to_pem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}
inline std::string to_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all PEM.
struct TestPki {
  std::string ca_pem, server_cert_pem, server_key_pem, client_cert_pem, client_key_pem;
  std::string other_ca_pem;  // a CA that signed nothing here: verification must fail with it

  static const TestPki& get() {
    static const TestPki pki = [] {
      TestPki p;
      Pkey ca_key = make_key();
      Cert ca = make_cert("fairway-test-ca", ca_key.get(), nullptr, nullptr, true, nullptr);
      Pkey server_key = make_key();
      Cert server = make_cert("127.0.0.1", server_key.get(), ca.get(), ca_key.get(), false,
                              "IP:127.0.0.1,DNS:localhost,DNS:apiserver.test");
      Pkey client_key = make_key();
      Cert client =
          make_cert("fairway-client", client_key.get(), ca.get(), ca_key.get(), false, nullptr);
      Pkey other_key = make_key();
      Cert other = make_cert("other-ca", other_key.get(), nullptr, nullptr, true, nullptr);
      p.ca_pem = to_pem(ca.get());
      p.server_cert_pem = to_pem(server.get());
      p.server_key_pem = to_pem(server_key.get());
      p.client_cert_pem = to_pem(client.get());
      p.client_key_pem = to_pem(client_key.get());
      p.other_ca_pem = to_pem(other.get());
      return p;
    }();
    return pki;
  }
};

// ---- server ----

struct TestRequest {
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  int connection = 0;                          // which accepted connection (1, 2, ...)
};

// Writes raw HTTP/1.1 onto the connection.
class Responder {
 public:
  explicit Responder(std::function<bool(std::string_view)> write) : write_(std::move(write)) {}

  void reply(int status, std::string_view body,
             const std::map<std::string, std::string>& headers = {}) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
    head +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    if (close_) head += "Connection: close\r\n";
    head += "\r\n";
    write_(head + std::string(body));
  }
  void start_chunked(int status = 200) {
    write_("HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
  // One HTTP chunk; false once the client has gone.
  bool chunk(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return write_(std::string(size) + std::string(data) + "\r\n");
  }
  void end_chunked() { write_("0\r\n\r\n"); }
  // Answer, then close the connection (no keep-alive).
  void close_after() { close_ = true; }
  // Answer as if keeping the connection alive, then close it anyway (an idle timeout).
  void drop_after() { drop_ = true; }
  bool dropping() const { return drop_; }
  bool closing() const { return close_; }

 private:
  std::function<bool(std::string_view)> write_;
  bool close_ = false;
  bool drop_ = false;
};

class TestServer {
 public:
  using Handler = std::function<void(const TestRequest&, Responder&)>;

  explicit TestServer(Handler handler, bool tls = false, bool require_client_cert = false)
      : handler_(std::move(handler)),
        tls_(tls),
        acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    if (tls_) {
      const TestPki& pki = TestPki::get();
      ssl_.emplace(net::ssl::context::tls_server);
      ssl_->use_certificate_chain(net::buffer(pki.server_cert_pem));
      ssl_->use_private_key(net::buffer(pki.server_key_pem), net::ssl::context::pem);
      if (require_client_cert) {
        ssl_->add_certificate_authority(net::buffer(pki.ca_pem));
        ssl_->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
      }
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() { stop(); }

  void stop() {
    if (stopped_.exchange(true)) return;
    boost::system::error_code ignored;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    acceptor_.close(ignored);
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  int connections() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }
  // Waits until `count` connections have been closed by the server (the limit only guards
  // against a hang).
  bool await_closed(int count, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return closed_cv_.wait_for(lock, limit, [&] { return closed_ >= count; });
  }

 private:
  void accept_loop() {
    while (!stopped_) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) {
        if (stopped_) return;
        continue;
      }
      const int id = ++accepted_;
      std::lock_guard lock(mutex_);
      fds_.push_back(socket.native_handle());
      threads_.emplace_back(
          [this, id, s = std::move(socket)]() mutable { serve(std::move(s), id); });
    }
  }

  void serve(tcp::socket socket, int id) {
    const int fd = socket.native_handle();
    if (!tls_) {
      session(socket, id);
      forget(fd);  // before the socket closes: the number may be reused by the client
      return;
    }
    boost::beast::ssl_stream<tcp::socket> stream(std::move(socket), *ssl_);
    boost::system::error_code ec;
    stream.handshake(net::ssl::stream_base::server, ec);
    if (!ec) session(stream, id);
    forget(fd);
  }

  void forget(int fd) {
    std::lock_guard lock(mutex_);
    std::erase(fds_, fd);
    ++closed_;
    closed_cv_.notify_all();
  }

  template <typename Stream>
  void session(Stream& stream, int id) {
    boost::beast::flat_buffer buffer;
    while (!stopped_) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      ++requests_;
      TestRequest request;
      request.method = std::string(req.method_string());
      request.target = std::string(req.target());
      request.body = req.body();
      request.connection = id;
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        request.headers[name] = std::string(field.value());
      }
      Responder responder([&](std::string_view data) {
        boost::system::error_code wec;
        net::write(stream, net::buffer(data.data(), data.size()), wec);
        return !wec;
      });
      handler_(request, responder);
      if (responder.closing() || responder.dropping() || !req.keep_alive()) {
        boost::system::error_code ignored;
        boost::beast::get_lowest_layer(stream).shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
    }
  }

  Handler handler_;
  bool tls_;
  net::io_context ioc_;
  std::optional<net::ssl::context> ssl_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::condition_variable closed_cv_;
  int closed_ = 0;  // connections the server has closed; under mutex_
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace fairway::k8s::testing
