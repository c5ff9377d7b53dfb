#pragma once
// A self-signed serving certificate made at start: EC P-256, SANs 127.0.0.1, ::1 and localhost,
// valid for a year. It is both the server's certificate and the CA clients trust (kubeconfig
// certificate-authority-data), so verification stays on, as against a real cluster.

#include <string>
#include <tl/expected.hpp>

namespace fairway::apiserver {

struct SelfSignedCert {
  std::string cert_pem;
  std::string key_pem;
};

tl::expected<SelfSignedCert, std::string> make_self_signed_cert(const std::string& common_name);

// A random token of `bytes` random bytes, hex-encoded (OpenSSL's RAND_bytes).
std::string random_token(size_t bytes = 24);

}  // namespace fairway::apiserver
