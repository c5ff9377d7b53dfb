#include "scheduler/cmd/config_file.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace fairway::cmd {

tl::expected<std::vector<std::string>, std::string> config_file_args(const std::string& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap())
      return tl::unexpected(fmt::format("{}: expected a map of flag names to values", path));
    std::vector<std::string> args;
    for (const auto& entry : root) {
      const auto key = entry.first.as<std::string>();
      if (key == "config") return tl::unexpected(fmt::format("{}: \"config\" cannot nest", path));
      if (!entry.second.IsScalar()) {
        return tl::unexpected(fmt::format("{}: {}: expected a single value", path, key));
      }
      args.push_back(fmt::format("--{}={}", key, entry.second.as<std::string>()));
    }
    return args;
  } catch (const YAML::Exception& e) {
    return tl::unexpected(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace fairway::cmd
