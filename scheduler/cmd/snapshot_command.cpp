// `fairway snapshot`: a read-only dump of what the scheduler watches (sim/whatif/snapshot.h),
// for `fairway sim --snapshot`. Lists every kind page by page (limit/continue, as client-go's
// pager does) and writes one JSON document to standard output.
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>

#include "k8s-client/config.h"
#include "k8s-client/objects.h"
#include "k8s-client/rest_client.h"
#include "scheduler/cmd/commands.h"
#include "scheduler/cmd/flags.h"
#include "scheduler/cmd/read_snapshot.h"
#include "sim/whatif/anonymize.h"
#include "sim/whatif/snapshot.h"

namespace fairway::cmd {
namespace {

constexpr int kPageSize = 500;

// Every page of one kind's LIST, items stripped for the snapshot. A kind the server does not
// serve (404) is an empty list; any other failure is an error with the server's message.
tl::expected<nlohmann::json, std::string> list_all(k8s::RestClient& client, std::string_view path) {
  nlohmann::json items = nlohmann::json::array();
  std::string continue_token;
  do {
    std::string query = fmt::format("{}?limit={}", path, kPageSize);
    if (!continue_token.empty()) query += "&continue=" + k8s::url_escape(continue_token);
    auto response = client.get(query);
    if (!response) return tl::unexpected(fmt::format("{}: {}", path, response.error().message));
    if (response->status == 404) return nlohmann::json{{"items", std::move(items)}};
    if (!response->ok()) {
      const auto status = k8s::decode_status(response->body);
      return tl::unexpected(fmt::format("{}: HTTP {}: {}", path, response->status,
                                        status ? status->message : response->body.substr(0, 200)));
    }
    nlohmann::json page = nlohmann::json::parse(response->body, nullptr, false);
    if (page.is_discarded() || !page.contains("items") || !page["items"].is_array()) {
      return tl::unexpected(fmt::format("{}: the answer is not a list", path));
    }
    for (nlohmann::json& item : page["items"]) {
      sim::strip_for_snapshot(item);
      items.push_back(std::move(item));
    }
    continue_token = page.value("/metadata/continue"_json_pointer, std::string());
  } while (!continue_token.empty());
  return nlohmann::json{{"items", std::move(items)}};
}

}  // namespace

tl::expected<nlohmann::json, std::string> read_snapshot(k8s::RestClient& client,
                                                        const std::string& server, WallMs now) {
  nlohmann::json document = {{"apiVersion", sim::kSnapshotApiVersion},
                             {"kind", sim::kSnapshotKind},
                             {"takenAt", k8s::format_rfc3339(now)},
                             {"server", server}};
  for (const sim::SnapshotKind& kind : sim::kSnapshotKinds) {
    auto list = list_all(client, kind.path);
    if (!list) return tl::unexpected(list.error());
    document[std::string(kind.key)] = std::move(*list);
  }
  return document;
}

int snapshot(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  std::string kubeconfig;
  std::string context;
  bool anonymize = false;
  FlagSet flags("snapshot");
  flags.add_string("kubeconfig", &kubeconfig,
                   "path to a kubeconfig; empty: $KUBECONFIG, then in-cluster");
  flags.add_string("context", &context, "kubeconfig context to use (default: current-context)");
  flags.add_bool("anonymize", &anonymize,
                 "replace names by stable hashes and drop what the scheduler does not read, for "
                 "sharing (docs/what-if.md)");
  auto positional = flags.parse(args);
  if (!positional) {
    err << "fairway snapshot: " << positional.error() << "\n\n" << flags.usage();
    return 2;
  }
  if (flags.help_requested()) {
    out << "Writes what the scheduler watches (nodes, pods, queues, PodGroups, Topologies, "
           "priority classes,\nnamespaces, storage) as one JSON document, for `fairway sim "
           "--snapshot`. Read-only.\n\n"
        << flags.usage();
    return 0;
  }
  if (!positional->empty()) {
    err << "fairway snapshot: unexpected argument \"" << positional->front() << "\"\n";
    return 2;
  }
  auto cluster = k8s::resolve_config(kubeconfig, context);
  if (!cluster) {
    err << "fairway snapshot: " << cluster.error() << "\n";
    return 1;
  }
  k8s::RestOptions rest;
  rest.request_timeout = std::chrono::seconds(60);
  rest.user_agent = "fairway-snapshot";
  k8s::RestClient client(*cluster, rest);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto document = read_snapshot(client, cluster->server, now);
  if (!document) {
    err << "fairway snapshot: " << document.error() << "\n";
    return 1;
  }
  if (anonymize) sim::Anonymizer(sim::random_anonymizer_key()).snapshot(*document);
  out << document->dump() << "\n";
  return 0;
}

}  // namespace fairway::cmd
