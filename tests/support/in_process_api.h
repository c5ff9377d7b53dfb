#pragma once
// A fixture base for tests against the embedded API server in-process (loopback HTTP, no TLS):
// the server, a client config for it, and a REST client.

#include <gtest/gtest.h>

#include <memory>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "sim/apiserver/server.h"

namespace fairway::testing {

class InProcessApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::ServerOptions options;
    options.tls = false;
    options.threads = 2;
    auto started = apiserver::Server::start(options);
    ASSERT_TRUE(started) << (started ? "" : started.error());
    server_ = std::move(*started);
    cluster_.server = server_->url();
    cluster_.token = server_->token();
    client_ = std::make_unique<k8s::RestClient>(cluster_);
  }
  void TearDown() override {
    if (client_) client_->stop();
  }

  std::unique_ptr<apiserver::Server> server_;
  k8s::ClusterConfig cluster_;
  std::unique_ptr<k8s::RestClient> client_;
};

}  // namespace fairway::testing
