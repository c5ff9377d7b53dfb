#include "scheduler/dra/cel.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <regex>
#include <variant>

#include "queues/quantity.h"

namespace fairway::dra {

// --- semantic versions ---

namespace {

bool is_numeric(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<int64_t> parse_version_number(std::string_view s) {
  if (!is_numeric(s) || (s.size() > 1 && s[0] == '0')) return std::nullopt;  // no leading zeros
  int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

bool valid_identifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == separator) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

}  // namespace

std::optional<SemVer> parse_semver(std::string_view text) {
  std::string_view rest = text;
  if (size_t plus = rest.find('+'); plus != std::string_view::npos) {
    for (std::string_view part : split(rest.substr(plus + 1), '.')) {
      if (!valid_identifier(part)) return std::nullopt;
    }
    rest = rest.substr(0, plus);
  }
  SemVer out;
  if (size_t dash = rest.find('-'); dash != std::string_view::npos) {
    for (std::string_view part : split(rest.substr(dash + 1), '.')) {
      if (!valid_identifier(part) || (is_numeric(part) && part.size() > 1 && part[0] == '0')) {
        return std::nullopt;
      }
      out.prerelease.emplace_back(part);
    }
    rest = rest.substr(0, dash);
  }
  std::vector<std::string_view> core = split(rest, '.');
  if (core.size() != 3) return std::nullopt;
  auto major = parse_version_number(core[0]);
  auto minor = parse_version_number(core[1]);
  auto patch = parse_version_number(core[2]);
  if (!major || !minor || !patch) return std::nullopt;
  out.major = *major, out.minor = *minor, out.patch = *patch;
  return out;
}

int compare_semver(const SemVer& a, const SemVer& b) {
  auto three_way = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (int c = three_way(std::tie(a.major, a.minor, a.patch), std::tie(b.major, b.minor, b.patch))) {
    return c;
  }
  // A version with a prerelease sorts before the same version without one.
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  for (size_t i = 0; i < std::min(a.prerelease.size(), b.prerelease.size()); ++i) {
    const std::string& x = a.prerelease[i];
    const std::string& y = b.prerelease[i];
    const bool xn = is_numeric(x), yn = is_numeric(y);
    int c = 0;
    if (xn && yn) {
      c = three_way(x.size(), y.size());  // no leading zeros: longer is larger
      if (c == 0) c = three_way(x, y);
    } else if (xn != yn) {
      c = xn ? -1 : 1;  // numeric identifiers sort before alphanumeric ones
    } else {
      c = three_way(x, y);
    }
    if (c != 0) return c;
  }
  return three_way(a.prerelease.size(), b.prerelease.size());
}

// --- values ---

namespace {

struct Error {
  std::string message;
};
struct DeviceRef {};
// device.attributes or device.capacity: a map from domain to the attributes of that domain.
struct Domains {
  bool capacity = false;
};
// device.attributes["domain"]: the attributes (or capacities) whose name starts with "domain/".
struct Domain {
  bool capacity = false;
  std::string name;
};

using Value = std::variant<Error, bool, int64_t, double, std::string, Version, Quantity, DeviceRef,
                           Domains, Domain>;

std::string type_name(const Value& value) {
  struct Visitor {
    std::string operator()(const Error&) const { return "error"; }
    std::string operator()(bool) const { return "bool"; }
    std::string operator()(int64_t) const { return "int"; }
    std::string operator()(double) const { return "double"; }
    std::string operator()(const std::string&) const { return "string"; }
    std::string operator()(const Version&) const { return "semver"; }
    std::string operator()(const Quantity&) const { return "quantity"; }
    std::string operator()(const DeviceRef&) const { return "device"; }
    std::string operator()(const Domains&) const { return "map"; }
    std::string operator()(const Domain&) const { return "map"; }
  };
  return std::visit(Visitor{}, value);
}

Value no_overload(std::string_view function, const Value& a) {
  return Error{fmt::format("no such overload: {}({})", function, type_name(a))};
}
Value no_overload(std::string_view function, const Value& a, const Value& b) {
  return Error{fmt::format("no such overload: {}({}, {})", function, type_name(a), type_name(b))};
}

const Error* error_of(const Value& value) {
  return std::get_if<Error>(&value);
}

}  // namespace

// --- the AST ---

struct CelNode {
  enum class Kind {
    kLiteral,  // literal
    kDevice,   // the variable `device`
    kSelect,   // children[0].name
    kIndex,    // children[0][children[1]]
    kCall,     // name(children...) or, with has_target, children[0].name(children[1...])
    kNot,
    kNegate,
    kAnd,
    kOr,
    kCompare,  // children[0] name children[1], name one of == != < <= > >=
    kIn,       // children[0] in children[1]
    kList,     // [children...], only as the right side of `in`
  };
  Kind kind = Kind::kLiteral;
  Value literal;
  std::string name;
  std::vector<CelNode> children;
  bool has_target = false;
  std::shared_ptr<const std::regex> regex;  // `matches` with a literal pattern, compiled once
};

namespace {

// --- lexer ---

struct Token {
  enum class Kind { kEnd, kInt, kDouble, kString, kIdent, kPunct };
  Kind kind = Kind::kEnd;
  std::string text;  // identifier, punctuation, or the decoded string literal
  int64_t int_value = 0;
  double double_value = 0;
  size_t column = 0;  // 1-based
};

using Tokens = tl::expected<std::vector<Token>, std::string>;

tl::unexpected<std::string> syntax_error(size_t column, std::string_view what) {
  return tl::unexpected(fmt::format("syntax error at column {}: {}", column, what));
}

tl::expected<size_t, std::string> lex_string(std::string_view text, size_t pos, Token& token) {
  bool raw = false;
  if (text[pos] == 'r' || text[pos] == 'R') raw = true, ++pos;
  const char quote = text[pos];
  if (text.substr(pos, 3) == std::string(3, quote)) {
    return syntax_error(pos + 1, "triple-quoted strings are not supported");
  }
  ++pos;
  std::string out;
  while (pos < text.size() && text[pos] != quote) {
    char c = text[pos++];
    if (c == '\n') return syntax_error(pos, "newline in string literal");
    if (c == '\\' && !raw) {
      if (pos >= text.size()) break;
      const char e = text[pos++];
      switch (e) {
        case 'n':
          c = '\n';
          break;
        case 't':
          c = '\t';
          break;
        case 'r':
          c = '\r';
          break;
        case '\\':
        case '"':
        case '\'':
        case '`':
        case '?':
          c = e;
          break;
        default:
          return syntax_error(pos - 1, fmt::format("unsupported escape sequence \\{}", e));
      }
    }
    out.push_back(c);
  }
  if (pos >= text.size()) return syntax_error(token.column, "unterminated string literal");
  token.kind = Token::Kind::kString;
  token.text = std::move(out);
  return pos + 1;
}

tl::expected<size_t, std::string> lex_number(std::string_view text, size_t pos, Token& token) {
  size_t end = pos;
  bool is_double = false;
  const bool hex = text.substr(pos, 2) == "0x" || text.substr(pos, 2) == "0X";
  if (hex) {
    end += 2;
    while (end < text.size() && std::isxdigit(static_cast<unsigned char>(text[end]))) ++end;
  } else {
    while (end < text.size()) {
      const char c = text[end];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        ++end;
      } else if (c == '.' && end + 1 < text.size() &&
                 std::isdigit(static_cast<unsigned char>(text[end + 1]))) {
        is_double = true, ++end;
      } else if ((c == 'e' || c == 'E')) {
        is_double = true, ++end;
        if (end < text.size() && (text[end] == '+' || text[end] == '-')) ++end;
      } else {
        break;
      }
    }
  }
  const std::string_view digits = text.substr(hex ? pos + 2 : pos, end - (hex ? pos + 2 : pos));
  if (end < text.size() && (text[end] == 'u' || text[end] == 'U')) {
    return syntax_error(token.column, "unsigned integer literals are not supported");
  }
  if (is_double) {
    token.kind = Token::Kind::kDouble;
    const std::string copy(digits);
    char* parsed_end = nullptr;
    token.double_value = std::strtod(copy.c_str(), &parsed_end);
    if (parsed_end != copy.c_str() + copy.size())
      return syntax_error(token.column, "malformed number");
  } else {
    token.kind = Token::Kind::kInt;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), token.int_value,
                                   hex ? 16 : 10);
    if (ec != std::errc() || p != digits.data() + digits.size()) {
      return syntax_error(token.column, "integer literal out of range or malformed");
    }
  }
  return end;
}

Tokens lex(std::string_view text) {
  static constexpr std::string_view kTwoChar[] = {"==", "!=", "<=", ">=", "&&", "||"};
  static constexpr std::string_view kOneChar = "<>!()[].,?:+-*/%{}";
  std::vector<Token> tokens;
  size_t pos = 0;
  while (true) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    Token token;
    token.column = pos + 1;
    if (pos >= text.size()) {
      tokens.push_back(std::move(token));
      return tokens;
    }
    const char c = text[pos];
    const bool raw_prefix = (c == 'r' || c == 'R') && pos + 1 < text.size() &&
                            (text[pos + 1] == '"' || text[pos + 1] == '\'');
    tl::expected<size_t, std::string> next = pos;
    if (c == '"' || c == '\'' || raw_prefix) {
      next = lex_string(text, pos, token);
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      next = lex_number(text, pos, token);
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos;
      while (end < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
        ++end;
      token.kind = Token::Kind::kIdent;
      token.text = std::string(text.substr(pos, end - pos));
      next = end;
    } else if (std::find(std::begin(kTwoChar), std::end(kTwoChar), text.substr(pos, 2)) !=
               std::end(kTwoChar)) {
      token.kind = Token::Kind::kPunct;
      token.text = std::string(text.substr(pos, 2));
      next = pos + 2;
    } else if (kOneChar.find(c) != std::string_view::npos) {
      token.kind = Token::Kind::kPunct;
      token.text = std::string(1, c);
      next = pos + 1;
    } else {
      return syntax_error(pos + 1, fmt::format("unexpected character '{}'", c));
    }
    if (!next) return tl::unexpected(next.error());
    pos = *next;
    tokens.push_back(std::move(token));
  }
}

}  // namespace

// --- parser ---

namespace {

struct FunctionSignature {
  std::string_view name;
  bool method;   // called as target.name(...)
  size_t arity;  // arguments besides the target
};
constexpr FunctionSignature kFunctions[] = {
    {"quantity", false, 1}, {"semver", false, 1},       {"startsWith", true, 1},
    {"endsWith", true, 1},  {"contains", true, 1},      {"matches", true, 1},
    {"compareTo", true, 1}, {"isGreaterThan", true, 1}, {"isLessThan", true, 1},
    {"major", true, 0},     {"minor", true, 0},         {"patch", true, 0},
};

bool is_known_function(std::string_view name) {
  return std::any_of(std::begin(kFunctions), std::end(kFunctions),
                     [&](const FunctionSignature& f) { return f.name == name; });
}

using Parsed = tl::expected<CelNode, std::string>;

tl::unexpected<std::string> unsupported(std::string_view what) {
  return tl::unexpected(fmt::format("unsupported CEL {}", what));
}

// Recursive descent over CEL's grammar, precedence from loosest: ?: || && relations + * unary
// member. Constructs outside the subset are recognised so that the error can name them.
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Parsed parse() {
    Parsed root = expression();
    if (!root) return root;
    if (peek().kind != Token::Kind::kEnd) return unexpected_token();
    return root;
  }

 private:
  // Bounds on nesting and on chains (a && b && ... nests too): odd input must not exhaust the
  // stack of the parser or of the evaluator.
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxOperators = 1000;

  const Token& peek() const { return tokens_[pos_]; }
  bool at(std::string_view punct) const {
    return peek().kind == Token::Kind::kPunct && peek().text == punct;
  }
  bool accept(std::string_view punct) {
    if (!at(punct)) return false;
    ++pos_;
    return true;
  }
  tl::unexpected<std::string> unexpected_token() const {
    const Token& t = peek();
    if (t.kind == Token::Kind::kEnd) return syntax_error(t.column, "unexpected end of expression");
    return syntax_error(t.column, fmt::format("unexpected '{}'",
                                              t.kind == Token::Kind::kString ? "string" : t.text));
  }
  tl::expected<void, std::string> expect(std::string_view punct) {
    if (accept(punct)) return {};
    return syntax_error(peek().column, fmt::format("expected '{}'", punct));
  }

  static CelNode make(CelNode::Kind kind, std::string name, std::vector<CelNode> children) {
    CelNode node;
    node.kind = kind;
    node.name = std::move(name);
    node.children = std::move(children);
    return node;
  }

  Parsed expression() {
    if (++depth_ > kMaxDepth) return unsupported("expression: nested too deeply");
    Parsed node = logical_or();
    --depth_;
    if (node && at("?")) return unsupported("conditional operator '?:'");
    return node;
  }

  Parsed logical_or() { return binary_chain(&Parser::logical_and, "||", CelNode::Kind::kOr); }
  Parsed logical_and() { return binary_chain(&Parser::relation, "&&", CelNode::Kind::kAnd); }

  Parsed binary_chain(Parsed (Parser::*operand)(), std::string_view op, CelNode::Kind kind) {
    Parsed left = (this->*operand)();
    while (left && accept(op)) {
      Parsed right = (this->*operand)();
      if (!right) return right;
      if (++operators_ > kMaxOperators) return unsupported("expression: too many operators");
      left = make(kind, std::string(op), {std::move(*left), std::move(*right)});
    }
    return left;
  }

  Parsed relation() {
    Parsed left = arithmetic();
    while (left) {
      static constexpr std::string_view kOps[] = {"==", "!=", "<", "<=", ">", ">="};
      const Token& t = peek();
      const bool is_in = t.kind == Token::Kind::kIdent && t.text == "in";
      const bool is_compare = t.kind == Token::Kind::kPunct &&
                              std::find(std::begin(kOps), std::end(kOps), t.text) != std::end(kOps);
      if (!is_in && !is_compare) break;
      std::string op = t.text;
      ++pos_;
      Parsed right = arithmetic();
      if (!right) return right;
      if (++operators_ > kMaxOperators) return unsupported("expression: too many operators");
      if (is_in) {
        left = make(CelNode::Kind::kIn, "in", {std::move(*left), std::move(*right)});
      } else {
        left = make(CelNode::Kind::kCompare, std::move(op), {std::move(*left), std::move(*right)});
      }
    }
    return left;
  }

  Parsed arithmetic() {
    Parsed operand = unary();
    for (std::string_view op : {"+", "-", "*", "/", "%"}) {
      if (operand && at(op)) return unsupported(fmt::format("operator '{}'", op));
    }
    return operand;
  }

  Parsed unary() {
    if (accept("!")) {
      if (++depth_ > kMaxDepth) return unsupported("expression: nested too deeply");
      Parsed operand = unary();
      --depth_;
      if (!operand) return operand;
      return make(CelNode::Kind::kNot, "!", {std::move(*operand)});
    }
    if (accept("-")) {
      // A negative literal folds (so that -9223372036854775808 is representable).
      if (peek().kind == Token::Kind::kInt) {
        CelNode node;
        node.literal = peek().int_value == std::numeric_limits<int64_t>::min()
                           ? Value{Error{"int overflow"}}
                           : Value{-peek().int_value};
        ++pos_;
        return member_chain(std::move(node));
      }
      if (++depth_ > kMaxDepth) return unsupported("expression: nested too deeply");
      Parsed operand = unary();
      --depth_;
      if (!operand) return operand;
      return make(CelNode::Kind::kNegate, "-", {std::move(*operand)});
    }
    Parsed node = primary();
    if (!node) return node;
    return member_chain(std::move(*node));
  }

  tl::expected<std::vector<CelNode>, std::string> arguments(std::string_view close) {
    std::vector<CelNode> args;
    if (accept(close)) return args;
    while (true) {
      Parsed arg = expression();
      if (!arg) return tl::unexpected(arg.error());
      args.push_back(std::move(*arg));
      if (accept(close)) return args;
      if (auto e = expect(","); !e) return tl::unexpected(e.error());
      if (accept(close)) return args;  // CEL allows a trailing comma
    }
  }

  Parsed member_chain(CelNode node) {
    while (true) {
      if (accept(".")) {
        if (peek().kind != Token::Kind::kIdent) return unexpected_token();
        std::string name = peek().text;
        ++pos_;
        if (accept("(")) {
          // Named before its arguments are parsed: the macros (exists, all, map) bind variables.
          if (!is_known_function(name)) return unsupported(fmt::format("function \"{}\"", name));
          auto args = arguments(")");
          if (!args) return tl::unexpected(args.error());
          args->insert(args->begin(), std::move(node));
          node = make(CelNode::Kind::kCall, std::move(name), std::move(*args));
          node.has_target = true;
        } else {
          node = make(CelNode::Kind::kSelect, std::move(name), {std::move(node)});
        }
      } else if (accept("[")) {
        Parsed index = expression();
        if (!index) return index;
        if (auto e = expect("]"); !e) return tl::unexpected(e.error());
        node = make(CelNode::Kind::kIndex, "[]", {std::move(node), std::move(*index)});
      } else {
        return node;
      }
    }
  }

  Parsed primary() {
    const Token t = peek();
    CelNode node;
    switch (t.kind) {
      case Token::Kind::kInt:
        ++pos_, node.literal = t.int_value;
        return node;
      case Token::Kind::kDouble:
        ++pos_, node.literal = t.double_value;
        return node;
      case Token::Kind::kString:
        ++pos_, node.literal = t.text;
        return node;
      case Token::Kind::kIdent:
        return identifier();
      case Token::Kind::kEnd:
        return unexpected_token();
      case Token::Kind::kPunct:
        break;
    }
    if (accept("(")) {
      Parsed inner = expression();
      if (!inner) return inner;
      if (auto e = expect(")"); !e) return tl::unexpected(e.error());
      return inner;
    }
    if (accept("[")) {
      auto items = arguments("]");
      if (!items) return tl::unexpected(items.error());
      return make(CelNode::Kind::kList, "[]", std::move(*items));
    }
    if (at("{")) return unsupported("map literal");
    return unexpected_token();
  }

  Parsed identifier() {
    const Token t = peek();
    ++pos_;
    CelNode node;
    if (t.text == "true" || t.text == "false") {
      node.literal = t.text == "true";
      return node;
    }
    if (t.text == "null") return unsupported("value null");
    if (accept("(")) {
      if (!is_known_function(t.text)) return unsupported(fmt::format("function \"{}\"", t.text));
      auto args = arguments(")");
      if (!args) return tl::unexpected(args.error());
      return make(CelNode::Kind::kCall, t.text, std::move(*args));
    }
    if (t.text == "device") return make(CelNode::Kind::kDevice, "device", {});
    return tl::unexpected(fmt::format("undeclared reference to '{}'", t.text));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int operators_ = 0;
};

}  // namespace

// --- checker ---

namespace {

using Checked = tl::expected<void, std::string>;

tl::expected<std::shared_ptr<const std::regex>, std::string> compile_regex(
    const std::string& pattern) {
  try {
    return std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return tl::unexpected(fmt::format("invalid regular expression \"{}\": {}", pattern, e.what()));
  }
}

Checked check_call(CelNode& node) {
  const size_t arity = node.children.size() - (node.has_target ? 1 : 0);
  for (const FunctionSignature& f : kFunctions) {
    if (f.name != node.name) continue;
    if (f.method != node.has_target || f.arity != arity) {
      return tl::unexpected(
          fmt::format("found no matching overload for '{}' with {} argument(s)", node.name, arity));
    }
    if (node.name == "matches") {
      const auto* pattern = std::get_if<std::string>(&node.children[1].literal);
      if (node.children[1].kind == CelNode::Kind::kLiteral && pattern != nullptr) {
        auto regex = compile_regex(*pattern);
        if (!regex) return tl::unexpected(regex.error());
        node.regex = std::move(*regex);
      }
    }
    return {};
  }
  return unsupported(fmt::format("function \"{}\"", node.name));
}

// The type of a node where it is known without a device (literals, operators, functions);
// empty where it depends on the device's attributes.
std::optional<std::string> static_type(const CelNode& node) {
  switch (node.kind) {
    case CelNode::Kind::kLiteral:
      return type_name(node.literal);
    case CelNode::Kind::kDevice:
      return "device";
    case CelNode::Kind::kNot:
    case CelNode::Kind::kAnd:
    case CelNode::Kind::kOr:
    case CelNode::Kind::kCompare:
    case CelNode::Kind::kIn:
      return "bool";
    case CelNode::Kind::kCall:
      if (node.name == "quantity") return "quantity";
      if (node.name == "semver") return "semver";
      if (node.name == "compareTo" || node.name == "major" || node.name == "minor" ||
          node.name == "patch") {
        return "int";
      }
      return "bool";
    default:
      return std::nullopt;
  }
}

Checked check_boolean_operands(const CelNode& node) {
  for (const CelNode& child : node.children) {
    if (auto type = static_type(child); type && *type != "bool") {
      return tl::unexpected(
          fmt::format("found no matching overload for '{}' applied to {}", node.name, *type));
    }
  }
  return {};
}

Checked check(CelNode& node, bool list_allowed) {
  switch (node.kind) {
    case CelNode::Kind::kList:
      if (!list_allowed) return unsupported("list outside the right side of 'in'");
      break;
    case CelNode::Kind::kCall:
      if (Checked c = check_call(node); !c) return c;
      break;
    case CelNode::Kind::kAnd:
    case CelNode::Kind::kOr:
    case CelNode::Kind::kNot:
      if (Checked c = check_boolean_operands(node); !c) return c;
      break;
    case CelNode::Kind::kSelect:
      if (node.children[0].kind == CelNode::Kind::kDevice && node.name != "driver" &&
          node.name != "attributes" && node.name != "capacity" &&
          node.name != "allowMultipleAllocations") {
        return tl::unexpected(fmt::format("undefined field '{}'", node.name));
      }
      break;
    default:
      break;
  }
  for (size_t i = 0; i < node.children.size(); ++i) {
    const bool list_here = node.kind == CelNode::Kind::kIn && i == 1;
    if (Checked c = check(node.children[i], list_here); !c) return c;
  }
  return {};
}

}  // namespace

tl::expected<std::shared_ptr<const CelProgram>, std::string> compile_cel(
    std::string_view expression) {
  if (expression.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return tl::unexpected(std::string("empty CEL expression"));
  }
  Tokens tokens = lex(expression);
  if (!tokens) return tl::unexpected(tokens.error());
  Parsed root = Parser(std::move(*tokens)).parse();
  if (!root) return tl::unexpected(root.error());
  if (Checked c = check(*root, false); !c) return tl::unexpected(c.error());
  if (auto type = static_type(*root); type && *type != "bool") {
    return tl::unexpected(fmt::format("must evaluate to bool, not {}", *type));
  }
  return std::make_shared<const CelProgram>(std::string(expression),
                                            std::make_shared<const CelNode>(std::move(*root)));
}

CelCache::Compiled CelCache::get_or_compile(const std::string& expression) {
  std::lock_guard lock(mutex_);
  auto it = programs_.find(expression);
  if (it == programs_.end()) it = programs_.emplace(expression, compile_cel(expression)).first;
  return it->second;
}

size_t CelCache::size() const {
  std::lock_guard lock(mutex_);
  return programs_.size();
}

// --- evaluator ---

namespace {

Value attribute_value(const AttributeValue& attribute) {
  return std::visit([](const auto& v) -> Value { return v; }, attribute);
}

// device.attributes["domain"].name (or .capacity): "no such key" when the device lacks it.
Value lookup(const Domain& domain, const DeviceView& device, const std::string& name) {
  // "domain/name", built on the stack: this runs for every device a selector looks at.
  std::array<char, 256> buffer;
  std::string heap;
  std::string_view key;
  if (domain.name.size() + 1 + name.size() <= buffer.size()) {
    char* end = std::copy(domain.name.begin(), domain.name.end(), buffer.begin());
    *end++ = '/';
    end = std::copy(name.begin(), name.end(), end);
    key = std::string_view(buffer.data(), static_cast<size_t>(end - buffer.data()));
  } else {
    heap = domain.name + "/" + name;
    key = heap;
  }
  if (domain.capacity) {
    auto it = device.device.capacity.find(key);
    if (it != device.device.capacity.end()) return it->second;
  } else {
    auto it = device.device.attributes.find(key);
    if (it != device.device.attributes.end()) return attribute_value(it->second);
  }
  return Error{fmt::format("no such key: {}", name)};
}

Value select(const Value& object, const std::string& field, const DeviceView& device) {
  if (std::holds_alternative<DeviceRef>(object)) {
    if (field == "driver") return device.driver;
    if (field == "attributes") return Domains{false};
    if (field == "capacity") return Domains{true};
    return false;  // allowMultipleAllocations: fairway allocates each device once
  }
  if (const auto* domains = std::get_if<Domains>(&object)) return Domain{domains->capacity, field};
  if (const auto* domain = std::get_if<Domain>(&object)) return lookup(*domain, device, field);
  return Error{fmt::format("type '{}' does not support field selection", type_name(object))};
}

Value index(const Value& object, const Value& key, const DeviceView& device) {
  const auto* name = std::get_if<std::string>(&key);
  if (name != nullptr) {
    if (const auto* domains = std::get_if<Domains>(&object))
      return Domain{domains->capacity, *name};
    if (const auto* domain = std::get_if<Domain>(&object)) return lookup(*domain, device, *name);
  }
  return no_overload("_[_]", object, key);
}

bool has_key(const Value& map, const std::string& key, const DeviceView& device) {
  if (const auto* domains = std::get_if<Domains>(&map)) {
    const std::string prefix = key + "/";
    auto has_prefix = [&](const auto& entries) {
      auto it = entries.lower_bound(prefix);
      return it != entries.end() && it->first.starts_with(prefix);
    };
    return domains->capacity ? has_prefix(device.device.capacity)
                             : has_prefix(device.device.attributes);
  }
  const auto& domain = std::get<Domain>(map);
  return !std::holds_alternative<Error>(lookup(domain, device, key));
}

// Numbers compare across int and double (CEL's heterogeneous numeric comparison).
std::optional<double> as_number(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

// -1/0/1, or empty when the two cannot be ordered (different types, maps).
std::optional<int> order(const Value& a, const Value& b) {
  auto three_way = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  if (std::holds_alternative<int64_t>(a) && std::holds_alternative<int64_t>(b)) {
    return three_way(std::get<int64_t>(a), std::get<int64_t>(b));
  }
  if (auto x = as_number(a), y = as_number(b); x && y) {
    if (std::isnan(*x) || std::isnan(*y)) return std::nullopt;
    return three_way(*x, *y);
  }
  if (a.index() != b.index()) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&a)) return three_way(*s, std::get<std::string>(b));
  if (const auto* x = std::get_if<bool>(&a)) return three_way(*x, std::get<bool>(b));
  if (const auto* q = std::get_if<Quantity>(&a))
    return three_way(q->milli, std::get<Quantity>(b).milli);
  if (const auto* v = std::get_if<Version>(&a)) {
    auto x = parse_semver(v->text), y = parse_semver(std::get<Version>(b).text);
    if (x && y) return compare_semver(*x, *y);
  }
  return std::nullopt;
}

Value equals(const Value& a, const Value& b) {
  if (const Error* e = error_of(a)) return *e;
  if (const Error* e = error_of(b)) return *e;
  if (auto c = order(a, b)) return *c == 0;
  const bool comparable_kind = !std::holds_alternative<DeviceRef>(a) &&
                               !std::holds_alternative<Domains>(a) &&
                               !std::holds_alternative<Domain>(a);
  if (comparable_kind) return false;  // values of different types are never equal
  return no_overload("_==_", a, b);
}

Value compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==" || op == "!=") {
    Value eq = equals(a, b);
    if (op == "!=" && std::holds_alternative<bool>(eq)) return !std::get<bool>(eq);
    return eq;
  }
  if (const Error* e = error_of(a)) return *e;
  if (const Error* e = error_of(b)) return *e;
  // Ordering is defined for numbers, strings and bools; quantities and versions are ordered
  // with compareTo/isGreaterThan/isLessThan as in Kubernetes' CEL libraries.
  const bool orderable =
      as_number(a) || std::holds_alternative<std::string>(a) || std::holds_alternative<bool>(a);
  auto c = orderable ? order(a, b) : std::nullopt;
  if (!c) return no_overload("_" + op + "_", a, b);
  if (op == "<") return *c < 0;
  if (op == "<=") return *c <= 0;
  if (op == ">") return *c > 0;
  return *c >= 0;
}

class Evaluator {
 public:
  explicit Evaluator(const DeviceView& device) : device_(device) {}

  Value eval(const CelNode& node) {
    switch (node.kind) {
      case CelNode::Kind::kLiteral:
        return node.literal;
      case CelNode::Kind::kDevice:
        return DeviceRef{};
      case CelNode::Kind::kSelect: {
        Value object = eval(node.children[0]);
        if (error_of(object)) return object;
        return select(object, node.name, device_);
      }
      case CelNode::Kind::kIndex: {
        Value object = eval(node.children[0]);
        if (error_of(object)) return object;
        Value key = eval(node.children[1]);
        if (error_of(key)) return key;
        return index(object, key, device_);
      }
      case CelNode::Kind::kNot: {
        Value v = eval(node.children[0]);
        if (const auto* b = std::get_if<bool>(&v)) return !*b;
        return error_of(v) ? v : no_overload("!_", v);
      }
      case CelNode::Kind::kNegate: {
        Value v = eval(node.children[0]);
        if (const auto* d = std::get_if<double>(&v)) return -*d;
        if (const auto* i = std::get_if<int64_t>(&v)) {
          if (*i == std::numeric_limits<int64_t>::min()) return Error{"int overflow"};
          return -*i;
        }
        return error_of(v) ? v : no_overload("-_", v);
      }
      case CelNode::Kind::kAnd:
        return logical(node, false);
      case CelNode::Kind::kOr:
        return logical(node, true);
      case CelNode::Kind::kCompare:
        return compare(node.name, eval(node.children[0]), eval(node.children[1]));
      case CelNode::Kind::kIn:
        return in(node);
      case CelNode::Kind::kCall:
        return call(node);
      case CelNode::Kind::kList:
        return Error{"list outside of 'in'"};  // rejected by check()
    }
    return Error{"internal error: unknown node"};
  }

 private:
  // `a && b` (decisive = false) or `a || b` (decisive = true): a decisive operand on either side
  // wins over an error on the other; otherwise the left error, then the right one.
  Value logical(const CelNode& node, bool decisive) {
    const std::string_view op = decisive ? "_||_" : "_&&_";
    Value left = eval(node.children[0]);
    if (const auto* b = std::get_if<bool>(&left); b && *b == decisive) return decisive;
    Value right = eval(node.children[1]);
    if (const auto* b = std::get_if<bool>(&right); b && *b == decisive) return decisive;
    if (error_of(left)) return left;
    if (!std::holds_alternative<bool>(left)) return no_overload(op, left, right);
    if (error_of(right)) return right;
    if (!std::holds_alternative<bool>(right)) return no_overload(op, left, right);
    return !decisive;
  }

  Value in(const CelNode& node) {
    Value element = eval(node.children[0]);
    if (error_of(element)) return element;
    const CelNode& container = node.children[1];
    if (container.kind == CelNode::Kind::kList) {
      std::vector<Value> items;
      items.reserve(container.children.size());
      for (const CelNode& item : container.children) {
        items.push_back(eval(item));
        if (error_of(items.back())) return items.back();
      }
      for (const Value& item : items) {
        Value eq = equals(element, item);
        if (error_of(eq) || std::get<bool>(eq)) return eq;
      }
      return false;
    }
    Value map = eval(container);
    if (error_of(map)) return map;
    const auto* key = std::get_if<std::string>(&element);
    if (key == nullptr ||
        !(std::holds_alternative<Domains>(map) || std::holds_alternative<Domain>(map))) {
      return no_overload("@in", element, map);
    }
    return has_key(map, *key, device_);
  }

  Value call(const CelNode& node) {
    std::vector<Value> args;
    args.reserve(node.children.size());
    for (const CelNode& child : node.children) {
      args.push_back(eval(child));
      if (error_of(args.back())) return args.back();
    }
    if (!node.has_target) return global_call(node.name, args[0]);
    if (const auto* s = std::get_if<std::string>(&args[0])) return string_call(node, *s, args);
    return ordered_call(node.name, args);
  }

  static Value global_call(const std::string& name, const Value& arg) {
    const auto* text = std::get_if<std::string>(&arg);
    if (text == nullptr) return no_overload(name, arg);
    if (name == "quantity") {
      auto milli = parse_quantity(*text, 1000);
      if (!milli) return Error{milli.error()};
      return Quantity{*milli};
    }
    if (!parse_semver(*text)) return Error{fmt::format("invalid semver \"{}\"", *text)};
    return Version{*text};
  }

  static Value string_call(const CelNode& node, const std::string& target,
                           const std::vector<Value>& args) {
    const auto* arg = std::get_if<std::string>(&args[1]);
    if (arg == nullptr) return no_overload(node.name, args[0], args[1]);
    if (node.name == "startsWith") return target.starts_with(*arg);
    if (node.name == "endsWith") return target.ends_with(*arg);
    if (node.name == "contains") return target.find(*arg) != std::string::npos;
    if (node.name == "matches") {
      std::shared_ptr<const std::regex> regex = node.regex;
      if (regex == nullptr) {
        auto compiled = compile_regex(*arg);
        if (!compiled) return Error{compiled.error()};
        regex = std::move(*compiled);
      }
      try {
        return std::regex_search(target, *regex);  // CEL's matches is unanchored
      } catch (const std::regex_error& e) {
        return Error{fmt::format("matches: {}", e.what())};
      }
    }
    return no_overload(node.name, args[0], args[1]);
  }

  // compareTo/isGreaterThan/isLessThan of quantities and versions; major/minor/patch of versions.
  static Value ordered_call(const std::string& name, const std::vector<Value>& args) {
    const Value& target = args[0];
    if (const auto* v = std::get_if<Version>(&target); v && args.size() == 1) {
      auto parsed = parse_semver(v->text);
      if (!parsed) return Error{fmt::format("invalid semver \"{}\"", v->text)};
      return name == "major" ? parsed->major : name == "minor" ? parsed->minor : parsed->patch;
    }
    const bool kind_ok =
        std::holds_alternative<Quantity>(target) || std::holds_alternative<Version>(target);
    if (args.size() != 2 || !kind_ok || target.index() != args[1].index()) {
      return args.size() == 2 ? no_overload(name, target, args[1]) : no_overload(name, target);
    }
    auto c = order(target, args[1]);
    if (!c) return no_overload(name, target, args[1]);
    if (name == "compareTo") return int64_t{*c};
    if (name == "isGreaterThan") return *c > 0;
    return *c < 0;
  }

  const DeviceView& device_;
};

}  // namespace

CelProgram::CelProgram(std::string expression, std::shared_ptr<const CelNode> root)
    : expression_(std::move(expression)), root_(std::move(root)) {}

tl::expected<bool, std::string> CelProgram::evaluate(const DeviceView& device) const {
  Value result = Evaluator(device).eval(*root_);
  if (const auto* b = std::get_if<bool>(&result)) return *b;
  if (const Error* e = error_of(result)) return tl::unexpected(e->message);
  return tl::unexpected(fmt::format("must evaluate to bool, not {}", type_name(result)));
}

}  // namespace fairway::dra
