#pragma once
// A self-signed serving certificate made in memory, for the secure port when no
// --tls-cert-file/--tls-private-key-file is given: kube-scheduler does the same ("Generated
// self-signed cert in-memory"). Clients then skip verification (Prometheus'
// insecure_skip_verify, curl -k) or pin it; the bearer token still authenticates them, and TLS
// still keeps the token and the metrics from being read on the way.
//
// The certificate: an ECDSA P-256 key, subject CN "localhost@UNIX_SECONDS" (kube's naming),
// subjectAltName DNS:localhost, IP:127.0.0.1 and the given names, valid for one year from now.

#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace fairway::http {

struct PemPair {
  std::string certificate;
  std::string private_key;
};

tl::expected<PemPair, std::string> self_signed_certificate(
    const std::vector<std::string>& extra_dns_names = {});

}  // namespace fairway::http
