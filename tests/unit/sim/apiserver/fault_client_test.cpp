// The fairway REST client against the embedded API server's fault switches: whatever the fault,
// a request ends with an answer or an error of its own, never by running into its timeout.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "k8s-client/config.h"
#include "k8s-client/rest_client.h"
#include "sim/apiserver/server.h"

namespace fairway::apiserver {
namespace {

TEST(FaultsAgainstRestClient, ResetsFailFastAndNeverHang) {
  ServerOptions options;
  auto server = Server::start(options);
  ASSERT_TRUE(server) << server.error();
  const std::string kubeconfig = ::testing::TempDir() + "/fault_client_kubeconfig";
  ASSERT_TRUE((*server)->write_kubeconfig(kubeconfig));
  auto config = k8s::load_kubeconfig(kubeconfig);
  ASSERT_TRUE(config) << config.error();
  k8s::RestOptions rest;
  rest.qps = 10000;
  rest.burst = 10000;
  rest.pool_size = 2;
  rest.request_timeout = std::chrono::seconds(10);
  k8s::RestClient client(*config, rest);

  // Bodies of a realistic size (a LIST of 1,500 pods is about a megabyte).
  auto pods = (*server)->store().resource("", "pods");
  ASSERT_TRUE(pods);
  for (int i = 0; i < 1500; ++i) {
    nlohmann::json pod = {{"metadata",
                           {{"name", "p" + std::to_string(i)},
                            {"namespace", "default"},
                            {"annotations", {{"filler", std::string(500, 'x')}}}}},
                          {"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}};
    ASSERT_TRUE((*server)->store().create(*pods, "default", pod));
  }
  FaultSettings faults;
  faults.reset_fraction = 0.3;
  (*server)->faults().set(faults);
  int ok = 0;
  int failed = 0;
  int timed_out = 0;  // a reset that hung until the request timeout instead of failing at once
  for (int i = 0; i < 200; ++i) {
    auto response =
        client.get(i % 2 == 0 ? "/api/v1/namespaces/default/pods?limit=10" : "/api/v1/pods");
    if (response && response->ok()) {
      ++ok;
    } else {
      ++failed;
      if (!response && response.error().message.starts_with("timed out")) ++timed_out;
    }
  }
  (*server)->faults().clear();
  EXPECT_GT(ok, 0);
  EXPECT_GT(failed, 0) << "30% of the connections were reset";
  EXPECT_EQ(timed_out, 0) << ok << " ok, " << failed << " failed";
  (*server)->stop();
}

}  // namespace
}  // namespace fairway::apiserver
