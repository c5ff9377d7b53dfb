#pragma once
// The admission webhook served over HTTPS on fairway's shared HTTP server (scheduler/http):
// POST /mutate answers AdmissionReviews (admission.h), GET /healthz says the listener is up.
// The API server calls webhooks only over TLS, so a certificate and key are required.

#include <memory>
#include <string>
#include <tl/expected.hpp>

#include "scheduler/http/http_server.h"
#include "scheduler/webhook/admission.h"

namespace fairway::webhook {

// The webhook's routes, for any http::Server.
void add_webhook_routes(http::Server& server, AdmissionConfig config = {});

// An HTTPS server with the webhook's routes, started. `bind_address`: "HOST:PORT" or ":PORT";
// port 0 picks a free one (see http::Server::port()).
tl::expected<std::unique_ptr<http::Server>, std::string> start_webhook_server(
    const std::string& bind_address, const std::string& cert_file, const std::string& key_file,
    AdmissionConfig config = {});

}  // namespace fairway::webhook
