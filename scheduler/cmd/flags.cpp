#include "scheduler/cmd/flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace fairway::cmd {

tl::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  const std::string original(text);
  auto bad = [&original] {
    return tl::unexpected(
        fmt::format("invalid duration \"{}\" (use e.g. 100ms, 15s, 1m30s)", original));
  };
  if (text.empty()) return bad();
  if (text == "0") return std::chrono::milliseconds(0);
  double total_ms = 0;
  while (!text.empty()) {
    size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
      ++digits;
    }
    if (digits == 0) return bad();
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc() || end != text.data() + digits) return bad();
    text.remove_prefix(digits);
    size_t unit_length = 0;
    while (unit_length < text.size() && !(text[unit_length] >= '0' && text[unit_length] <= '9')) {
      ++unit_length;
    }
    const std::string_view unit = text.substr(0, unit_length);
    text.remove_prefix(unit_length);
    double scale = 0;
    if (unit == "ns")
      scale = 1e-6;
    else if (unit == "us" || unit == "µs")
      scale = 1e-3;
    else if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1e3;
    else if (unit == "m")
      scale = 60e3;
    else if (unit == "h")
      scale = 3600e3;
    else
      return bad();
    total_ms += value * scale;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e15) return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

std::string format_duration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

void FlagSet::add_string(std::string name, std::string* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), *target, false,
                    [target](std::string_view value) -> tl::expected<void, std::string> {
                      *target = std::string(value);
                      return {};
                    }});
}

void FlagSet::add_bool(std::string name, bool* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), *target ? "true" : "false", true,
                    [target](std::string_view value) -> tl::expected<void, std::string> {
                      if (value == "true" || value == "1")
                        *target = true;
                      else if (value == "false" || value == "0")
                        *target = false;
                      else
                        return tl::unexpected(fmt::format("\"{}\" is not true or false", value));
                      return {};
                    }});
}

void FlagSet::add_int(std::string name, int* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), std::to_string(*target), false,
                    [target](std::string_view value) -> tl::expected<void, std::string> {
                      int parsed = 0;
                      const auto [end, ec] =
                          std::from_chars(value.data(), value.data() + value.size(), parsed);
                      if (ec != std::errc() || end != value.data() + value.size()) {
                        return tl::unexpected(fmt::format("\"{}\" is not an integer", value));
                      }
                      *target = parsed;
                      return {};
                    }});
}

void FlagSet::add_double(std::string name, double* target, std::string help) {
  flags_.push_back(
      {std::move(name), std::move(help), fmt::format("{}", *target), false,
       [target](std::string_view value) -> tl::expected<void, std::string> {
         double parsed = 0;
         const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
         if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(parsed)) {
           return tl::unexpected(fmt::format("\"{}\" is not a number", value));
         }
         *target = parsed;
         return {};
       }});
}

void FlagSet::add_duration(std::string name, std::chrono::milliseconds* target, std::string help) {
  flags_.push_back({std::move(name), std::move(help), format_duration(*target), false,
                    [target](std::string_view value) -> tl::expected<void, std::string> {
                      auto parsed = parse_duration(value);
                      if (!parsed) return tl::unexpected(parsed.error());
                      *target = *parsed;
                      return {};
                    }});
}

void FlagSet::add_choice(std::string name, std::string* target, std::vector<std::string> choices,
                         std::string help,
                         std::vector<std::pair<std::string, std::string>> renamed) {
  help += fmt::format(" (one of: {})", fmt::join(choices, ", "));
  auto set = [this, name, target, choices = std::move(choices), renamed = std::move(renamed)](
                 std::string_view value) -> tl::expected<void, std::string> {
    for (const auto& [old_spelling, current] : renamed) {
      if (value == old_spelling) {
        warnings_.push_back(
            fmt::format("--{}={} is deprecated: write --{}={}", name, old_spelling, name, current));
        value = current;
      }
    }
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      return tl::unexpected(
          fmt::format("\"{}\" is not one of {}", value, fmt::join(choices, ", ")));
    }
    *target = std::string(value);
    return {};
  };
  flags_.push_back({std::move(name), std::move(help), *target, false, std::move(set)});
}

const FlagSet::Flag* FlagSet::find(std::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

tl::expected<std::vector<std::string>, std::string> FlagSet::parse(
    std::span<const std::string> args) {
  std::vector<std::string> positional;
  warnings_.clear();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                        args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const Flag* flag = find(name);
    if (flag == nullptr) return tl::unexpected(fmt::format("unknown flag --{}", name));
    if (!value) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return tl::unexpected(fmt::format("flag --{} needs a value", name));
      }
    }
    if (auto set = flag->set(*value); !set) {
      return tl::unexpected(fmt::format("invalid value for --{}: {}", name, set.error()));
    }
  }
  return positional;
}

std::string FlagSet::usage() const {
  std::string out = fmt::format("Usage: fairway {} [flags]\n\nFlags:\n", command_);
  for (const Flag& flag : flags_) {
    out += fmt::format("  --{:<34} {} (default {})\n", flag.name + (flag.is_bool ? "" : " value"),
                       flag.help, flag.default_text.empty() ? "\"\"" : flag.default_text);
  }
  return out;
}

}  // namespace fairway::cmd
