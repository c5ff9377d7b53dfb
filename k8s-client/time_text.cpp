// The time and duration texts of the API: RFC 3339 (metav1.Time, MicroTime) both ways, and Go
// durations ("1h30m").
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "k8s-client/objects.h"

namespace fairway::k8s {
namespace {

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};
Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool read_digits(std::string_view text, size_t& pos, size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += count;
  return true;
}

}  // namespace

tl::expected<int64_t, std::string> parse_rfc3339_ms(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("time \"{}\": {}", text, why));
  };
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !read_digits(text, pos, 2, day)) {
    return bad("expected YYYY-MM-DD");
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return bad("expected 'T' after the date");
  }
  ++pos;
  if (!read_digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
      !read_digits(text, pos, 2, minute) || pos >= text.size() || text[pos++] != ':' ||
      !read_digits(text, pos, 2, second)) {
    return bad("expected hh:mm:ss");
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return bad("field out of range");
  }
  int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      millis += (text[pos] - '0') * scale;  // digits past milliseconds are truncated
      scale /= 10;
      ++pos;
      ++digits;
    }
    if (digits == 0) return bad("expected digits after '.'");
  }
  int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(text, pos, 2, oh) || pos >= text.size() || text[pos++] != ':' ||
        !read_digits(text, pos, 2, om)) {
      return bad("expected a zone offset ±hh:mm");
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad("expected 'Z' or a zone offset");
  }
  if (pos != text.size()) return bad("trailing characters");
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string format_rfc3339(int64_t epoch_ms, bool micro) {
  int64_t days = epoch_ms >= 0 ? epoch_ms / 86'400'000 : (epoch_ms - 86'399'999) / 86'400'000;
  const int64_t ms_of_day = epoch_ms - days * 86'400'000;
  const Civil date = civil_from_days(days);
  const int64_t secs = ms_of_day / 1000;
  if (micro) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", date.year, date.month,
                       date.day, secs / 3600, secs / 60 % 60, secs % 60, (ms_of_day % 1000) * 1000);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.year, date.month, date.day,
                     secs / 3600, secs / 60 % 60, secs % 60);
}

tl::expected<int64_t, std::string> parse_go_duration_seconds(std::string_view text) {
  // time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, units ns us µs ms s m h; "0" alone.
  auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("duration \"{}\": {}", text, why));
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return 0;
  if (rest.empty()) return bad("empty");
  long double nanos = 0;
  while (!rest.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      value = value * 10 + (rest[i] - '0');
      ++i;
      digits = true;
    }
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
        value += (rest[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return bad("expected a number");
    size_t unit_end = i;
    while (unit_end < rest.size() && !(rest[unit_end] >= '0' && rest[unit_end] <= '9') &&
           rest[unit_end] != '.') {
      ++unit_end;
    }
    const std::string_view unit = rest.substr(i, unit_end - i);
    long double factor = 0;
    if (unit == "ns") {
      factor = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      factor = 1e3L;
    } else if (unit == "ms") {
      factor = 1e6L;
    } else if (unit == "s") {
      factor = 1e9L;
    } else if (unit == "m") {
      factor = 60e9L;
    } else if (unit == "h") {
      factor = 3600e9L;
    } else if (unit.empty()) {
      return bad("missing unit");
    } else {
      return bad(fmt::format("unknown unit \"{}\"", unit));
    }
    nanos += value * factor;
    rest.remove_prefix(unit_end);
  }
  if (nanos > 9.2e18L) return bad("out of range");
  const auto seconds = static_cast<int64_t>(nanos / 1e9L + 1e-9L);  // guard 0.1+0.2-style drift
  return negative ? -seconds : seconds;
}

}  // namespace fairway::k8s
