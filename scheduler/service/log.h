#pragma once
// Structured logs: one JSON object per line on stderr (spdlog), with kube-style verbosity
// (-v 0: info and above, -v 2: debug, -v 4: trace; below 0: warnings only). Fields are key/value pairs; values that are
// secrets never reach here.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace fairway::log {

void init(int verbosity);

using Field = std::pair<std::string_view, std::string>;

void info(std::string_view message, std::initializer_list<Field> fields = {});
void warn(std::string_view message, std::initializer_list<Field> fields = {});
void error(std::string_view message, std::initializer_list<Field> fields = {});
void debug(std::string_view message, std::initializer_list<Field> fields = {});
void trace(std::string_view message, std::initializer_list<Field> fields = {});

}  // namespace fairway::log
