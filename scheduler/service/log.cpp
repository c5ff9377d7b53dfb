#include "scheduler/service/log.h"

#include <fmt/chrono.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

namespace fairway::log {
namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto made = spdlog::stderr_logger_mt("fairway");
    // The message is already a JSON object; spdlog adds nothing around it.
    made->set_pattern("%v");
    made->set_level(spdlog::level::info);
    return made;
  }();
  return instance;
}

void write(spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<Field> fields) {
  auto& sink = logger();
  if (!sink->should_log(level)) return;
  nlohmann::ordered_json line;
  const auto now = std::chrono::system_clock::now();
  line["ts"] =
      fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", std::chrono::floor<std::chrono::milliseconds>(now));
  line["level"] = spdlog::level::to_string_view(level).data();
  line["msg"] = message;
  for (const auto& [key, value] : fields) line[std::string(key)] = value;
  sink->log(level, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

void init(int verbosity) {
  auto level = spdlog::level::info;
  if (verbosity < 0)
    level = spdlog::level::warn;  // embedded uses (fairway sim): quiet
  else if (verbosity >= 4)
    level = spdlog::level::trace;
  else if (verbosity >= 2)
    level = spdlog::level::debug;
  logger()->set_level(level);
  logger()->flush_on(spdlog::level::info);
}

void info(std::string_view m, std::initializer_list<Field> f) {
  write(spdlog::level::info, m, f);
}
void warn(std::string_view m, std::initializer_list<Field> f) {
  write(spdlog::level::warn, m, f);
}
void error(std::string_view m, std::initializer_list<Field> f) {
  write(spdlog::level::err, m, f);
}
void debug(std::string_view m, std::initializer_list<Field> f) {
  write(spdlog::level::debug, m, f);
}
void trace(std::string_view m, std::initializer_list<Field> f) {
  write(spdlog::level::trace, m, f);
}

}  // namespace fairway::log
