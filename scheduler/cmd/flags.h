#pragma once
// Command-line flags in kube-scheduler's style: `--name value` and `--name=value`, booleans as
// `--flag`, `--flag=true` or `--flag=false`, durations as Go writes them ("15s", "100ms",
// "1m30s"), `-v N` / `-v=N` for verbosity. Unknown flags and bad values are errors that name
// the flag.

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace fairway::cmd {

// Parses a Go duration ("300ms", "1.5h", "2h45m", "0") into milliseconds.
tl::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  void add_string(std::string name, std::string* target, std::string help);
  void add_bool(std::string name, bool* target, std::string help);
  void add_int(std::string name, int* target, std::string help);
  void add_double(std::string name, double* target, std::string help);
  void add_duration(std::string name, std::chrono::milliseconds* target, std::string help);

  // Returns the positional arguments. `--help`/`-h` sets help_requested().
  tl::expected<std::vector<std::string>, std::string> parse(std::span<const std::string> args);
  bool help_requested() const { return help_; }
  std::string usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<tl::expected<void, std::string>(std::string_view)> set;
  };
  const Flag* find(std::string_view name) const;

  std::string command_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

}  // namespace fairway::cmd
