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
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace fairway::cmd {

// Parses a Go duration ("300ms", "1.5h", "2h45m", "0") into milliseconds.
tl::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);

// A duration as people (and fairway's docs) write it and parse_duration reads it back: whole
// hours in h ("24h"), else whole seconds in s ("60s", "600s"), else ms ("50ms"); zero is "0s".
std::string format_duration(std::chrono::milliseconds duration);

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}
  // Choice flags keep a pointer to this set (their warnings): it stays where it was made.
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  void add_string(std::string name, std::string* target, std::string help);
  void add_bool(std::string name, bool* target, std::string help);
  void add_int(std::string name, int* target, std::string help);
  void add_double(std::string name, double* target, std::string help);
  void add_duration(std::string name, std::chrono::milliseconds* target, std::string help);
  // A value from a fixed set, all spelt alike (lower case, no separators: "binpack"). `renamed`:
  // old spellings still accepted, each leaving a warning (warnings()) that names the new one.
  void add_choice(std::string name, std::string* target, std::vector<std::string> choices,
                  std::string help, std::vector<std::pair<std::string, std::string>> renamed = {});

  // Returns the positional arguments. `--help`/`-h` sets help_requested().
  tl::expected<std::vector<std::string>, std::string> parse(std::span<const std::string> args);
  bool help_requested() const { return help_; }
  // What the last parse() accepted but wants changed (deprecated spellings), one line each.
  const std::vector<std::string>& warnings() const { return warnings_; }
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
  std::vector<std::string> warnings_;
};

}  // namespace fairway::cmd
