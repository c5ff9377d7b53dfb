// `fairway explain NS/NAME`: why a pod is (or is not) where it is, for a person. Asks the
// scheduler's /debug/pods/NS/NAME endpoint (--address) and renders its answer: the pod's queue,
// gang and requests, the explanation fairway last wrote, and every node class with the reason
// its nodes fail the pod's filters.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <ostream>

#include "k8s-client/rest_client.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/service/debug_views.h"

namespace fairway::cmd {

int explain(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string address = "http://127.0.0.1:8080";
  std::string output = "text";
  std::string token;
  bool insecure = false;
  FlagSet flags("explain NAMESPACE/NAME");
  flags.add_string("address", &address,
                   "the scheduler's metrics endpoint (--metrics-bind-address), or "
                   "https://HOST:PORT for its secure port (--secure-port)");
  flags.add_string("token", &token,
                   "bearer token for the secure port (a user granted get on /debug/*)");
  flags.add_bool("insecure-skip-tls-verify", &insecure,
                 "accept the secure port's self-signed certificate");
  flags.add_choice("output", &output, {"text", "json"},
                   "answer format (json: the endpoint's answer as is)");
  auto positional = flags.parse(args);
  if (!positional) {
    err << "fairway explain: " << positional.error() << "\n\n" << flags.usage();
    return 2;
  }
  if (flags.help_requested()) {
    out << "Explains where a pod is or why it is pending, as the running scheduler sees it.\n\n"
        << flags.usage();
    return 0;
  }
  if (positional->size() != 1 || positional->front().find('/') == std::string::npos ||
      positional->front().front() == '/' || positional->front().back() == '/') {
    err << "fairway explain: expected one NAMESPACE/NAME\n\n" << flags.usage();
    return 2;
  }
  if (!address.starts_with("http://") && !address.starts_with("https://"))
    address = "http://" + address;

  k8s::ClusterConfig config;
  config.server = address;
  config.token = token;
  config.insecure_skip_tls_verify = insecure;
  k8s::RestOptions rest;
  rest.request_timeout = std::chrono::seconds(15);
  rest.user_agent = "fairway-explain";
  k8s::RestClient client(config, rest);
  const std::string path = "/debug/pods/" + positional->front();
  const auto response = client.get(path);
  if (!response) {
    err << fmt::format("fairway explain: cannot reach the scheduler at {}: {}\n", address,
                       response.error().message);
    return 1;
  }
  if (response->status == 404) {
    err << fmt::format("fairway explain: the scheduler does not know pod {}\n",
                       positional->front());
    return 1;
  }
  if (!response->ok()) {
    err << fmt::format("fairway explain: {} answered HTTP {}: {}", address + path, response->status,
                       response->body);
    return 1;
  }
  if (output == "json") {
    out << response->body;
    return 0;
  }
  const auto answer = nlohmann::json::parse(response->body, nullptr, false);
  if (answer.is_discarded()) {
    err << "fairway explain: the scheduler's answer is not JSON\n";
    return 1;
  }
  out << render_pod_explanation(answer);
  return 0;
}

}  // namespace fairway::cmd
