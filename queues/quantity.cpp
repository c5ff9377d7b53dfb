#include "queues/quantity.h"

#include <fmt/format.h>

#include <array>
#include <cstdlib>
#include <limits>

namespace fairway {
namespace {

__extension__ using i128 = __int128;  // exact intermediate for 64-bit results
constexpr int kMaxDigits = 36;        // keeps every intermediate inside 128 bits

bool is_memory_like(std::string_view name) {
  return name == "memory" || name == "ephemeral-storage" || name == "storage" ||
         name.starts_with("hugepages-") || name.ends_with("/memory");
}

tl::unexpected<std::string> error(std::string_view text, std::string_view why) {
  return tl::unexpected(fmt::format("quantity \"{}\": {}", text, why));
}

// Multiplies with an overflow check against the int64 range.
bool mul_checked(i128& value, i128 factor) {
  constexpr i128 kLimit = static_cast<i128>(std::numeric_limits<int64_t>::max()) * 1024;
  if (value != 0 && (factor > kLimit / (value < 0 ? -value : value))) return false;
  value *= factor;
  return true;
}

}  // namespace

int64_t canonical_scale(std::string_view resource_name) {
  return is_memory_like(resource_name) ? 1 : 1000;
}

tl::expected<int64_t, std::string> parse_quantity(std::string_view text, int64_t scale) {
  if (text.empty()) return error(text, "empty string");
  size_t pos = 0;
  bool negative = false;
  if (text[pos] == '+' || text[pos] == '-') {
    negative = text[pos] == '-';
    ++pos;
  }
  // <digits> | <digits>.<digits> | <digits>. | .<digits>
  // The mantissa keeps significant digits only: zeros are held back until a non-zero digit
  // follows, so that trailing zeros ("1.000000000000000000000Gi") cost neither precision nor
  // headroom; those left over at the end move into the exponent.
  i128 mantissa = 0;
  int digits = 0;
  int exp10 = 0;
  int pending_zeros = 0;
  bool seen_point = false;
  bool seen_digit = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (seen_point) --exp10;
      if (c == '0') {
        if (mantissa != 0) ++pending_zeros;  // leading zeros carry nothing at all
        continue;
      }
      digits += pending_zeros + 1;
      if (digits > kMaxDigits) return error(text, "too many significant digits");
      for (; pending_zeros > 0; --pending_zeros) mantissa *= 10;
      mantissa = mantissa * 10 + (c - '0');
    } else if (c == '.') {
      if (seen_point) return error(text, "unexpected character '.'");
      seen_point = true;
    } else {
      break;
    }
  }
  exp10 += pending_zeros;
  if (!seen_digit) return error(text, "expected a number");

  // Suffix: binary SI, decimal SI, or a decimal exponent.
  const std::string_view suffix = text.substr(pos);
  int exp2 = 0;
  if (suffix.empty()) {
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    constexpr std::string_view kBinary = "KMGTPE";
    const auto at = kBinary.find(suffix[0]);
    if (at == std::string_view::npos)
      return error(text, fmt::format("unknown suffix \"{}\"", suffix));
    exp2 = 10 * static_cast<int>(at + 1);
  } else if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    // "E" alone is the exa suffix below; "E3", "e-3" are exponents.
    std::string_view exponent = suffix.substr(1);
    bool exp_negative = false;
    if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) {
      exp_negative = exponent[0] == '-';
      exponent.remove_prefix(1);
    }
    if (exponent.empty() || exponent.size() > 4) return error(text, "bad exponent");
    int value = 0;
    for (char c : exponent) {
      if (c < '0' || c > '9') return error(text, "bad exponent");
      value = value * 10 + (c - '0');
    }
    exp10 += exp_negative ? -value : value;
  } else if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'n':
        exp10 -= 9;
        break;
      case 'u':
        exp10 -= 6;
        break;
      case 'm':
        exp10 -= 3;
        break;
      case 'k':
        exp10 += 3;
        break;
      case 'M':
        exp10 += 6;
        break;
      case 'G':
        exp10 += 9;
        break;
      case 'T':
        exp10 += 12;
        break;
      case 'P':
        exp10 += 15;
        break;
      case 'E':
        exp10 += 18;
        break;
      case 'e':
        return error(text, "bad exponent");  // "1e": an exponent without digits
      default:
        return error(text, fmt::format("unknown suffix \"{}\"", suffix));
    }
  } else {
    return error(text, fmt::format("unknown suffix \"{}\"", suffix));
  }

  if (scale == 1000)
    exp10 += 3;
  else if (scale != 1)
    return error(text, "internal: scale must be 1 or 1000");

  i128 value = mantissa;
  if (exp2 > 0 && !mul_checked(value, static_cast<i128>(1) << exp2)) {
    // With a fraction still to divide out, the value itself may be small; the mantissa is what
    // does not fit ("0.12345678901234567890123Ei").
    return error(text, exp10 < 0 ? "too many significant digits for a binary suffix" : "too large");
  }
  if (value != 0 && exp10 > 0) {
    for (int i = 0; i < exp10; ++i) {
      if (!mul_checked(value, 10)) return error(text, "too large");
    }
  } else if (exp10 < 0) {
    // Round up to the canonical unit, as Quantity.Value()/MilliValue() do.
    i128 divisor = 1;
    bool tiny = false;
    for (int i = 0; i < -exp10; ++i) {
      if (divisor > value) {
        tiny = true;
        break;
      }
      divisor *= 10;
    }
    if (tiny)
      value = value == 0 ? 0 : 1;
    else
      value = (value + divisor - 1) / divisor;
  }
  if (negative) value = -value;
  // The range is asymmetric: "-8Ei" (INT64_MIN) is representable, "8Ei" is not.
  if (value > std::numeric_limits<int64_t>::max() || value < std::numeric_limits<int64_t>::min()) {
    return error(text, "too large");
  }
  return static_cast<int64_t>(value);
}

tl::expected<int64_t, std::string> parse_resource_quantity(std::string_view resource_name,
                                                           std::string_view text) {
  return parse_quantity(text, canonical_scale(resource_name));
}

std::string format_quantity(int64_t canonical, int64_t scale) {
  if (scale == 1000) {
    if (canonical % 1000 == 0) return fmt::format("{}", canonical / 1000);
    return fmt::format("{}m", canonical);
  }
  static constexpr std::array<std::string_view, 6> kBinary = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (canonical == 0) return "0";
  int64_t value = canonical;
  int unit = -1;
  while (unit + 1 < static_cast<int>(kBinary.size()) && value % 1024 == 0) {
    value /= 1024;
    ++unit;
  }
  if (unit < 0) return fmt::format("{}", canonical);
  return fmt::format("{}{}", value, kBinary[static_cast<size_t>(unit)]);
}

}  // namespace fairway
