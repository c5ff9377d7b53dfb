// The CEL subset of DRA device selectors: each operator and function, CEL's error semantics, and
// a compile error for each construct outside the subset.
#include "scheduler/dra/cel.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <variant>

namespace fairway::dra {
namespace {

Device sample_device() {
  Device device;
  device.name = "gpu-0";
  device.attributes = {
      {"gpu.example.com/model", AttributeValue{std::string("A100-SXM4-80GB")}},
      {"gpu.example.com/index", AttributeValue{int64_t{3}}},
      {"gpu.example.com/healthy", AttributeValue{true}},
      {"gpu.example.com/driverVersion", AttributeValue{Version{"550.54.15"}}},
      {"ext.example.com/family", AttributeValue{std::string("ampere")}},
  };
  device.capacity = {
      {"gpu.example.com/memory", Quantity{int64_t{80} * 1024 * 1024 * 1024 * 1000}},
      {"gpu.example.com/cores", Quantity{108000}},
  };
  return device;
}

struct Case {
  std::string expression;
  std::variant<bool, std::string> expected;  // a result, or a substring of the runtime error
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.expression;
}

class CelEvaluation : public testing::TestWithParam<Case> {};

TEST_P(CelEvaluation, Evaluates) {
  const Case& c = GetParam();
  auto program = compile_cel(c.expression);
  ASSERT_TRUE(program) << program.error();
  const std::string driver = "gpu.example.com";
  const Device device = sample_device();
  auto result = (*program)->evaluate(DeviceView{driver, device});
  if (const bool* expected = std::get_if<bool>(&c.expected)) {
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(*result, *expected);
  } else {
    ASSERT_FALSE(result) << "evaluated to " << *result;
    EXPECT_NE(result.error().find(std::get<std::string>(c.expected)), std::string::npos)
        << result.error();
  }
}

const Case kEvaluations[] = {
    // literals and device.driver
    {"true", true},
    {"false", false},
    {R"(device.driver == "gpu.example.com")", true},
    {R"(device.driver == 'other.example.com')", false},
    {R"(device.driver != "gpu.example.com")", false},
    // attributes: qualified by domain, by field or by index
    {R"(device.attributes["gpu.example.com"].model == "A100-SXM4-80GB")", true},
    {R"(device.attributes["gpu.example.com"]["index"] == 3)", true},
    {R"(device.attributes["gpu.example.com"].healthy)", true},
    {R"(device.attributes["ext.example.com"].family == "ampere")", true},
    // comparisons of ints, doubles (across int and double), strings, bools
    {R"(device.attributes["gpu.example.com"].index < 4)", true},
    {R"(device.attributes["gpu.example.com"].index <= 3)", true},
    {R"(device.attributes["gpu.example.com"].index > 3)", false},
    {R"(device.attributes["gpu.example.com"].index >= 3)", true},
    {R"(device.attributes["gpu.example.com"].index == 3.0)", true},
    {"2.5 < 3", true},
    {"-1 < 0", true},
    {"0x10 == 16", true},
    {"1e3 == 1000", true},
    {R"("abc" < "abd")", true},
    {"false < true", true},
    {R"(1 == "1")", false},  // different types are never equal
    {R"(device.attributes["gpu.example.com"].index != "3")", true},
    // logical operators and their error semantics
    {R"(!device.attributes["gpu.example.com"].healthy)", false},
    {"true && false", false},
    {"true || false", true},
    {R"(false && device.attributes["gpu.example.com"].missing)", false},
    {R"(device.attributes["gpu.example.com"].missing == 1 && false)", false},
    {R"(true || device.attributes["gpu.example.com"].missing == 1)", true},
    {R"(device.attributes["gpu.example.com"].missing == 1 || true)", true},
    {R"(true && device.attributes["gpu.example.com"].missing == 1)", "no such key: missing"},
    {R"(false || device.attributes["gpu.example.com"].missing == 1)", "no such key: missing"},
    {R"(!(device.attributes["gpu.example.com"].missing == 1))", "no such key: missing"},
    {R"(device.attributes["gpu.example.com"].index && true)", "no such overload"},
    {R"(!device.attributes["gpu.example.com"].index)", "no such overload"},
    // in: list literals and map keys
    {R"(device.attributes["gpu.example.com"].model in ["H100", "A100-SXM4-80GB"])", true},
    {R"(device.attributes["gpu.example.com"].index in [1, 2])", false},
    {R"("model" in device.attributes["gpu.example.com"])", true},
    {R"("family" in device.attributes["gpu.example.com"])", false},
    {R"("ext.example.com" in device.attributes)", true},
    {R"("none.example.com" in device.attributes)", false},
    {R"("memory" in device.capacity["gpu.example.com"])", true},
    {R"(1 in device.attributes)", "no such overload"},
    // strings
    {R"(device.attributes["gpu.example.com"].model.startsWith("A100"))", true},
    {R"(device.attributes["gpu.example.com"].model.endsWith("40GB"))", false},
    {R"(device.attributes["gpu.example.com"].model.contains("SXM"))", true},
    {R"(device.attributes["gpu.example.com"].model.matches("^A[0-9]+-"))", true},
    {R"(device.attributes["gpu.example.com"].model.matches("H[0-9]+"))", false},
    {R"(device.attributes["gpu.example.com"].model.matches(device.driver))", false},
    {R"(device.attributes["gpu.example.com"].index.startsWith("3"))", "no such overload"},
    // quantities
    {R"(device.capacity["gpu.example.com"].memory.compareTo(quantity("80Gi")) == 0)", true},
    {R"(device.capacity["gpu.example.com"].memory.compareTo(quantity("40Gi")) > 0)", true},
    {R"(device.capacity["gpu.example.com"].memory.isGreaterThan(quantity("79Gi")))", true},
    {R"(device.capacity["gpu.example.com"].memory.isLessThan(quantity("79Gi")))", false},
    {R"(device.capacity["gpu.example.com"].cores == quantity("108"))", true},
    {R"(quantity("500m").isLessThan(quantity("1")))", true},
    {R"(quantity("1.5.3").isLessThan(quantity("1")))", "quantity \"1.5.3\""},
    {R"(device.capacity["gpu.example.com"].memory < quantity("1"))", "no such overload"},
    {R"(device.capacity["gpu.example.com"].memory.compareTo(1) == 0)", "no such overload"},
    {R"(device.capacity["gpu.example.com"].missing.isLessThan(quantity("1")))",
     "no such key: missing"},
    // semantic versions
    {R"(device.attributes["gpu.example.com"].driverVersion.isGreaterThan(semver("550.9.0")))",
     true},
    {R"(device.attributes["gpu.example.com"].driverVersion.compareTo(semver("550.54.15")) == 0)",
     true},
    {R"(device.attributes["gpu.example.com"].driverVersion == semver("550.54.15"))", true},
    {R"(semver("1.0.0-rc.1").isLessThan(semver("1.0.0")))", true},
    {R"(semver("1.0.0-alpha.2").isLessThan(semver("1.0.0-alpha.10")))", true},
    {R"(device.attributes["gpu.example.com"].driverVersion.major() == 550)", true},
    {R"(semver("1.2").major() == 1)", "invalid semver"},
    // missing attributes and wrong shapes are runtime errors
    {R"(device.attributes["gpu.example.com"].missing == "x")", "no such key: missing"},
    {R"(device.attributes["none.example.com"].model == "x")", "no such key: model"},
    {R"(device.attributes["gpu.example.com"].model.family == "x")", "does not support field"},
    {R"(device.attributes["gpu.example.com"].model)", "must evaluate to bool, not string"},
};

INSTANTIATE_TEST_SUITE_P(Subset, CelEvaluation, testing::ValuesIn(kEvaluations));

struct CompileCase {
  std::string expression;
  std::string error;  // substring of the compile error
};

void PrintTo(const CompileCase& c, std::ostream* os) {
  *os << c.expression;
}

class CelCompileError : public testing::TestWithParam<CompileCase> {};

TEST_P(CelCompileError, NamesWhatIsWrong) {
  auto program = compile_cel(GetParam().expression);
  ASSERT_FALSE(program) << "compiled";
  EXPECT_NE(program.error().find(GetParam().error), std::string::npos) << program.error();
}

const CompileCase kCompileErrors[] = {
    {"", "empty CEL expression"},
    {"device.driver ==", "unexpected end of expression"},
    {"(true", "expected ')'"},
    {R"(device.driver == "abc)", "unterminated string literal"},
    {"device.driver = 'x'", "unexpected character '='"},
    {"true #", "unexpected character '#'"},
    {"1 + 1 == 2", "unsupported CEL operator '+'"},
    {"2 * 3 == 6", "unsupported CEL operator '*'"},
    {"true ? true : false", "unsupported CEL conditional operator"},
    {R"(size(device.driver) > 0)", "unsupported CEL function \"size\""},
    {R"(has(device.attributes.x))", "unsupported CEL function \"has\""},
    {R"(device.attributes.exists(d, true))", "unsupported CEL function \"exists\""},
    {R"({"a": 1}["a"] == 1)", "unsupported CEL map literal"},
    {"null == null", "unsupported CEL value null"},
    {"[1, 2] == [1, 2]", "unsupported CEL list outside"},
    {"1u == 1u", "unsigned integer literals are not supported"},
    {"nodes.driver == 'x'", "undeclared reference to 'nodes'"},
    {"device.name == 'gpu-0'", "undefined field 'name'"},
    {R"(device.driver.startsWith())", "no matching overload for 'startsWith'"},
    {R"(quantity("1", "2").isLessThan(quantity("3")))", "no matching overload for 'quantity'"},
    {R"(device.driver.matches("[unclosed"))", "invalid regular expression"},
    {"1 == 1 && 3", "no matching overload for '&&' applied to int"},
    {"!'x'", "no matching overload for '!' applied to string"},
    {"quantity('1')", "must evaluate to bool, not quantity"},
    {"'text'", "must evaluate to bool, not string"},
    {"99999999999999999999 > 1", "integer literal out of range"},
    {std::string(100, '(') + "true" + std::string(100, ')'), "nested too deeply"},
};

INSTANTIATE_TEST_SUITE_P(Subset, CelCompileError, testing::ValuesIn(kCompileErrors));

TEST(CelCache, CompilesEachExpressionOnce) {
  CelCache cache;
  auto first = cache.get_or_compile(R"(device.driver == "a")");
  auto second = cache.get_or_compile(R"(device.driver == "a")");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->get(), second->get());  // the same program, not a second parse
  auto bad = cache.get_or_compile("size(device.driver) > 0");
  EXPECT_FALSE(bad);
  EXPECT_EQ(cache.size(), 2u);
}

// Token soup from a fixed seed: compiling and evaluating odd text gives values, never a crash.
TEST(CelOddInput, NeverCrashes) {
  const char* fragments[] = {"device",     ".",
                             "attributes", "[",
                             "]",          "\"gpu.example.com\"",
                             "model",      "(",
                             ")",          "==",
                             "&&",         "||",
                             "!",          "-",
                             "in",         "1",
                             "2.5",        "'x'",
                             "quantity",   "semver",
                             "compareTo",  "matches",
                             "\"(\"",      ",",
                             "true",       "capacity",
                             "memory",     "<",
                             "\\",         "\"",
                             "0x",         "9999999999999999999"};
  std::mt19937 random(42);
  const std::string driver = "gpu.example.com";
  const Device device = sample_device();
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int length = 1 + static_cast<int>(random() % 12);
    for (int t = 0; t < length; ++t)
      text += std::string(fragments[random() % std::size(fragments)]) + " ";
    auto program = compile_cel(text);
    if (program) (void)(*program)->evaluate(DeviceView{driver, device});
  }
}

TEST(SemVer, ParsesStrictForms) {
  EXPECT_TRUE(parse_semver("1.2.3"));
  EXPECT_TRUE(parse_semver("1.2.3-rc.1+build.5"));
  EXPECT_FALSE(parse_semver("1.2"));
  EXPECT_FALSE(parse_semver("01.2.3"));
  EXPECT_FALSE(parse_semver("1.2.3-"));
  EXPECT_FALSE(parse_semver("1.2.3-01"));
  EXPECT_FALSE(parse_semver("v1.2.3"));
}

}  // namespace
}  // namespace fairway::dra
