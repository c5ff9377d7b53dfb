// Kubernetes quantities and resource vectors: parsing must agree with resource.Quantity's
// Value()/MilliValue() to the unit, because fits-on-node decisions compare these integers.

#include "queues/quantity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "queues/resources.h"

namespace fairway {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kBytes = 1;
constexpr int64_t kMilli = 1000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

int64_t parse_ok(std::string_view text, int64_t scale) {
  auto parsed = parse_quantity(text, scale);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error());
  return parsed.value_or(-424242);
}

std::string parse_error(std::string_view text, int64_t scale) {
  auto parsed = parse_quantity(text, scale);
  EXPECT_FALSE(parsed.has_value()) << text << " parsed as " << parsed.value_or(0);
  return parsed ? "" : parsed.error();
}

TEST(ParseQuantity, DecimalSuffixes) {
  EXPECT_EQ(parse_ok("100m", kMilli), 100);
  EXPECT_EQ(parse_ok("2", kMilli), 2000);
  EXPECT_EQ(parse_ok("1k", kBytes), 1000);
  EXPECT_EQ(parse_ok("1M", kBytes), 1'000'000);
  EXPECT_EQ(parse_ok("1G", kBytes), 1'000'000'000);
  EXPECT_EQ(parse_ok("1T", kBytes), 1'000'000'000'000);
  EXPECT_EQ(parse_ok("1P", kBytes), 1'000'000'000'000'000);
  EXPECT_EQ(parse_ok("2u", kMilli), 1);  // 0.002m rounds up
  EXPECT_EQ(parse_ok("500n", kMilli), 1);
  EXPECT_EQ(parse_ok("1000000n", kMilli), 1);
  EXPECT_EQ(parse_ok("1500000n", kMilli), 2);
}

// "E" alone is the exa suffix; only "E<digits>" is an exponent.
TEST(ParseQuantity, CapitalEAloneIsExa) {
  EXPECT_EQ(parse_ok("1E", kBytes), 1'000'000'000'000'000'000);
  EXPECT_EQ(parse_ok("2E", kBytes), 2'000'000'000'000'000'000);
  EXPECT_THAT(parse_error("1E", kMilli), HasSubstr("too large"));
}

TEST(ParseQuantity, BinarySuffixes) {
  EXPECT_EQ(parse_ok("1Ki", kBytes), 1024);
  EXPECT_EQ(parse_ok("1Mi", kBytes), 1024 * 1024);
  EXPECT_EQ(parse_ok("1.5Gi", kBytes), 1'610'612'736);
  EXPECT_EQ(parse_ok("1Ti", kBytes), int64_t{1} << 40);
  EXPECT_EQ(parse_ok("1Pi", kBytes), int64_t{1} << 50);
  EXPECT_EQ(parse_ok("1Ei", kBytes), int64_t{1} << 60);
  EXPECT_EQ(parse_ok("7Ei", kBytes), int64_t{7} << 60);
  EXPECT_EQ(parse_ok("1Ki", kMilli), 1'024'000);
  EXPECT_EQ(parse_ok("0.5Ki", kBytes), 512);
  EXPECT_EQ(parse_ok("0.001Ki", kBytes), 2);  // 1.024 bytes rounds up
}

TEST(ParseQuantity, Exponents) {
  EXPECT_EQ(parse_ok("2e3", kBytes), 2000);
  EXPECT_EQ(parse_ok("2e3", kMilli), 2'000'000);
  EXPECT_EQ(parse_ok("1E3", kBytes), 1000);
  EXPECT_EQ(parse_ok("1e+3", kBytes), 1000);
  EXPECT_EQ(parse_ok("1e-3", kMilli), 1);
  EXPECT_EQ(parse_ok("1e-3", kBytes), 1);  // rounds up
  EXPECT_EQ(parse_ok("15e-1", kBytes), 2);
  EXPECT_EQ(parse_ok("1e-9999", kBytes), 1);
  EXPECT_EQ(parse_ok("0e9999", kBytes), 0);
  EXPECT_EQ(parse_ok("1.5e1", kBytes), 15);
}

TEST(ParseQuantity, DecimalPointsAndSigns) {
  EXPECT_EQ(parse_ok("0.1", kMilli), 100);
  EXPECT_EQ(parse_ok(".5", kMilli), 500);
  EXPECT_EQ(parse_ok("5.", kBytes), 5);
  EXPECT_EQ(parse_ok("+1", kBytes), 1);
  EXPECT_EQ(parse_ok("-1", kMilli), -1000);
  EXPECT_EQ(parse_ok("0", kBytes), 0);
  EXPECT_EQ(parse_ok("0", kMilli), 0);
  EXPECT_EQ(parse_ok("-0", kMilli), 0);
  EXPECT_EQ(parse_ok("000.000", kMilli), 0);
  EXPECT_EQ(parse_ok("007", kBytes), 7);
  EXPECT_EQ(parse_ok("0.05", kMilli), 50);
}

// Quantity.Value()/MilliValue() round away from zero: a pod never gets less than it asked for.
TEST(ParseQuantity, RoundsUpToTheCanonicalUnit) {
  EXPECT_EQ(parse_ok("1m", kBytes), 1);
  EXPECT_EQ(parse_ok("1.000000001", kMilli), 1001);
  EXPECT_EQ(parse_ok("1.000000001", kBytes), 2);
  EXPECT_EQ(parse_ok("0.0001", kMilli), 1);
  EXPECT_EQ(parse_ok("-1m", kBytes), -1);
  EXPECT_EQ(parse_ok("-1.5", kBytes), -2);
  EXPECT_EQ(parse_ok("0.000000000000000000000000000000000000000001", kMilli), 1);
}

// Trailing zeros carry no precision; they used to count against the digit limit and overflow
// the intermediate when combined with a binary suffix.
TEST(ParseQuantity, TrailingZerosDoNotOverflow) {
  EXPECT_EQ(parse_ok("1.00000000000000000000000Ki", kBytes), 1024);
  EXPECT_EQ(parse_ok("1.0000000000000000000000000000000000000000000000", kMilli), 1000);
  EXPECT_EQ(parse_ok("100000000000000000000000000000000000000000e-40", kBytes), 10);
  EXPECT_EQ(parse_ok("2.50000000000000000000000000Gi", kBytes), 2'684'354'560);
}

TEST(ParseQuantity, Int64Limits) {
  EXPECT_EQ(parse_ok("9223372036854775807", kBytes), kMax);
  EXPECT_EQ(parse_ok("-9223372036854775807", kBytes), -kMax);
  EXPECT_EQ(parse_ok("9223372036854775807m", kMilli), kMax);
  // The most negative value is representable and round-trips through format_quantity.
  EXPECT_EQ(parse_ok("-9223372036854775808", kBytes), kMin);
  EXPECT_EQ(parse_ok("-8Ei", kBytes), kMin);
}

TEST(ParseQuantity, OverflowIsAnError) {
  EXPECT_THAT(parse_error("9223372036854775808", kBytes), HasSubstr("too large"));
  EXPECT_THAT(parse_error("8Ei", kBytes), HasSubstr("too large"));
  EXPECT_THAT(parse_error("1Ei", kMilli), HasSubstr("too large"));
  EXPECT_THAT(parse_error("10E", kBytes), HasSubstr("too large"));
  EXPECT_THAT(parse_error("9223372036854775807", kMilli), HasSubstr("too large"));
  EXPECT_THAT(parse_error("1e9999", kBytes), HasSubstr("too large"));
  EXPECT_THAT(parse_error("-9223372036854775809", kBytes), HasSubstr("too large"));
  EXPECT_THAT(parse_error("1234567890123456789012345678901234567890", kBytes), HasSubstr("too"));
}

TEST(ParseQuantity, MalformedTextIsAnErrorNamingIt) {
  EXPECT_EQ(parse_error("", kBytes), "quantity \"\": empty string");
  EXPECT_EQ(parse_error("abc", kBytes), "quantity \"abc\": expected a number");
  EXPECT_EQ(parse_error("1.5.3", kBytes), "quantity \"1.5.3\": unexpected character '.'");
  EXPECT_EQ(parse_error("1Kb", kBytes), "quantity \"1Kb\": unknown suffix \"Kb\"");
  EXPECT_THAT(parse_error("1e", kBytes), HasSubstr("exponent"));
  EXPECT_THAT(parse_error("1e+", kBytes), HasSubstr("exponent"));
  EXPECT_THAT(parse_error("1ex", kBytes), HasSubstr("exponent"));
  EXPECT_EQ(parse_error("--1", kBytes), "quantity \"--1\": expected a number");
  EXPECT_EQ(parse_error("1 Gi", kBytes), "quantity \"1 Gi\": unknown suffix \" Gi\"");
  EXPECT_EQ(parse_error("Ki", kBytes), "quantity \"Ki\": expected a number");
  EXPECT_THAT(parse_error("1ki", kBytes), HasSubstr("unknown suffix"));
  EXPECT_THAT(parse_error("1Gi ", kBytes), HasSubstr("unknown suffix"));
  EXPECT_THAT(parse_error(" 1", kBytes), HasSubstr("expected a number"));
  EXPECT_THAT(parse_error(".", kBytes), HasSubstr("expected a number"));
  EXPECT_THAT(parse_error("+", kBytes), HasSubstr("expected a number"));
  EXPECT_THAT(parse_error("1Mii", kBytes), HasSubstr("unknown suffix"));
  EXPECT_THAT(parse_error("1mm", kBytes), HasSubstr("unknown suffix"));
}

TEST(ParseQuantity, RejectsAnUnsupportedScale) {
  EXPECT_THAT(parse_error("1", 10), HasSubstr("scale"));
}

TEST(ParseResourceQuantity, PicksTheUnitFromTheResourceName) {
  EXPECT_EQ(canonical_scale("cpu"), kMilli);
  EXPECT_EQ(canonical_scale("nvidia.com/gpu"), kMilli);
  EXPECT_EQ(canonical_scale("pods"), kMilli);
  EXPECT_EQ(canonical_scale("memory"), kBytes);
  EXPECT_EQ(canonical_scale("ephemeral-storage"), kBytes);
  EXPECT_EQ(canonical_scale("hugepages-2Mi"), kBytes);
  EXPECT_EQ(canonical_scale("example.com/memory"), kBytes);

  EXPECT_EQ(parse_resource_quantity("cpu", "0.1").value(), 100);
  EXPECT_EQ(parse_resource_quantity("nvidia.com/gpu", "0.25").value(), 250);
  EXPECT_EQ(parse_resource_quantity("memory", "1m").value(), 1);
  EXPECT_EQ(parse_resource_quantity("memory", "16Gi").value(), int64_t{16} << 30);
  EXPECT_FALSE(parse_resource_quantity("memory", "lots").has_value());
}

TEST(FormatQuantity, ShowsWhatKubectlShows) {
  EXPECT_EQ(format_quantity(2000, kMilli), "2");
  EXPECT_EQ(format_quantity(1500, kMilli), "1500m");
  EXPECT_EQ(format_quantity(0, kMilli), "0");
  EXPECT_EQ(format_quantity(-250, kMilli), "-250m");
  EXPECT_EQ(format_quantity(int64_t{16} << 30, kBytes), "16Gi");
  EXPECT_EQ(format_quantity(1536, kBytes), "1536");
  EXPECT_EQ(format_quantity(int64_t{1536} * 1024, kBytes), "1536Ki");
  EXPECT_EQ(format_quantity(0, kBytes), "0");
  EXPECT_EQ(format_quantity(1, kBytes), "1");
  EXPECT_EQ(format_quantity(int64_t{1} << 60, kBytes), "1Ei");
  EXPECT_EQ(format_quantity(int64_t{4} << 60, kBytes), "4Ei");
  EXPECT_EQ(format_quantity(-1024, kBytes), "-1Ki");
}

TEST(FormatQuantity, RoundTripsThroughParse) {
  for (int64_t scale : {kBytes, kMilli}) {
    for (int64_t value : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{999}, int64_t{1000},
                          int64_t{1024}, int64_t{1500}, int64_t{123456789}, int64_t{1} << 30,
                          (int64_t{3} << 40) + 1, int64_t{1} << 62, kMax, -kMax, kMin}) {
      const std::string text = format_quantity(value, scale);
      auto parsed = parse_quantity(text, scale);
      ASSERT_TRUE(parsed.has_value()) << text << ": " << parsed.error();
      EXPECT_EQ(*parsed, value) << text << " at scale " << scale;
    }
  }
}

TEST(FormatQuantity, ToUnits) {
  EXPECT_DOUBLE_EQ(to_units(1500, kMilli), 1.5);
  EXPECT_DOUBLE_EQ(to_units(1024, kBytes), 1024.0);
}

// --- resources.h ---------------------------------------------------------------------------

TEST(ResourceRegistry, WellKnownIdsAreFixed) {
  ResourceRegistry registry;
  EXPECT_EQ(registry.find("cpu"), kCpu);
  EXPECT_EQ(registry.find("memory"), kMemory);
  EXPECT_EQ(registry.find(kGpuResourceName), kGpu);
  EXPECT_EQ(registry.find("pods"), kPods);
  EXPECT_EQ(registry.find("ephemeral-storage"), kEphemeralStorage);
  EXPECT_EQ(registry.size(), 5U);
  EXPECT_EQ(registry.scale(kCpu), kMilli);
  EXPECT_EQ(registry.scale(kMemory), kBytes);
}

TEST(ResourceRegistry, InternIsIdempotent) {
  ResourceRegistry registry;
  const ResourceId foo = registry.intern("example.com/foo");
  EXPECT_EQ(foo, 5);
  EXPECT_EQ(registry.intern("example.com/foo"), foo);
  EXPECT_EQ(registry.name(foo), "example.com/foo");
  EXPECT_EQ(registry.scale(foo), kMilli);
  EXPECT_EQ(registry.find("example.com/bar"), std::nullopt);
  EXPECT_EQ(registry.scale(registry.intern("hugepages-1Gi")), kBytes);
}

TEST(ResourceVector, ArithmeticAndSparseTail) {
  ResourceVector a;
  EXPECT_TRUE(a.is_zero());
  EXPECT_EQ(a[kGpu], 0);
  a.set(kGpu, 0);
  EXPECT_EQ(a.size(), 0U);  // setting a zero past the end does not grow it
  a.set(kCpu, 1000);
  a.add(kMemory, 512);
  ResourceVector b;
  b.set(kGpu, 2000);
  ResourceVector sum = a + b;
  EXPECT_EQ(sum[kCpu], 1000);
  EXPECT_EQ(sum[kMemory], 512);
  EXPECT_EQ(sum[kGpu], 2000);
  EXPECT_EQ(sum - b, a);
  ResourceVector zero_tail = a;
  zero_tail.set(kGpu, 5);
  zero_tail.set(kGpu, 0);
  EXPECT_EQ(zero_tail, a);  // trailing zeros do not make vectors differ
  EXPECT_FALSE(sum.is_zero());
  EXPECT_TRUE((a - a).is_zero());
}

TEST(ResourceVector, MaxWithAndFits) {
  ResourceVector a;
  a.set(kCpu, 1000);
  a.set(kMemory, 10);
  ResourceVector b;
  b.set(kCpu, 500);
  b.set(kGpu, 1000);
  a.max_with(b);
  EXPECT_EQ(a[kCpu], 1000);
  EXPECT_EQ(a[kMemory], 10);
  EXPECT_EQ(a[kGpu], 1000);

  ResourceVector available;
  available.set(kCpu, 1000);
  available.set(kMemory, 10);
  EXPECT_EQ(a.first_short(available), kGpu);
  EXPECT_FALSE(a.fits_in(available));
  available.set(kGpu, 1000);
  EXPECT_TRUE(a.fits_in(available));
  EXPECT_EQ(a.first_short(available), std::nullopt);
  ResourceVector negative;
  negative.set(kCpu, -5);
  EXPECT_TRUE(negative.fits_in(ResourceVector{}));  // nothing asked, nothing short
}

TEST(ResourceVector, ConvertsToAndFromNamedLists) {
  ResourceRegistry registry;
  const ResourceList list = {{"cpu", 2500},
                             {"memory", int64_t{4} << 30},
                             {"example.com/foo", 3000},
                             {"nvidia.com/gpu", 0}};
  const ResourceVector vector = to_vector(list, registry);
  EXPECT_EQ(vector[kCpu], 2500);
  EXPECT_EQ(vector[*registry.find("example.com/foo")], 3000);
  const ResourceList back = to_list(vector, registry);
  EXPECT_EQ(back,
            (ResourceList{{"cpu", 2500}, {"memory", int64_t{4} << 30}, {"example.com/foo", 3000}}));
  EXPECT_EQ(describe(vector, registry), "cpu=2500m, memory=4Gi, example.com/foo=3");
  EXPECT_EQ(describe(ResourceVector{}, registry), "none");
}

}  // namespace
}  // namespace fairway
