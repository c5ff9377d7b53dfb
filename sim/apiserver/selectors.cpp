#include "sim/apiserver/selectors.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "sim/apiserver/json_util.h"

namespace fairway::apiserver {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits on top-level commas (commas inside parentheses belong to a value set).
std::vector<std::string_view> split_requirements(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (text[i] == ',' && depth == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

bool valid_label_key(std::string_view key) {
  if (key.empty() || key.size() > 317) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

bool valid_label_value(std::string_view v) {
  return v.size() <= 63 && std::all_of(v.begin(), v.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

// Finds `word` as a whole token (surrounded by spaces) in s.
size_t find_word(std::string_view s, std::string_view word) {
  size_t pos = 0;
  while ((pos = s.find(word, pos)) != std::string_view::npos) {
    const bool left = pos > 0 && is_space(s[pos - 1]);
    const size_t end = pos + word.size();
    const bool right = end < s.size() && (is_space(s[end]) || s[end] == '(');
    if (left && right) return pos;
    pos = end;
  }
  return std::string_view::npos;
}

tl::expected<LabelSelector::Requirement, std::string> parse_requirement(std::string_view raw) {
  using Op = LabelSelector::Op;
  const std::string_view r = trim(raw);
  LabelSelector::Requirement req;
  auto bad = [&](std::string why) {
    return tl::unexpected("unable to parse requirement: " + why + " in \"" + std::string(r) + "\"");
  };
  if (r.empty()) return bad("empty requirement");
  for (const auto& [word, op] : {std::pair{std::string_view("notin"), Op::kNotIn},
                                 std::pair{std::string_view("in"), Op::kIn}}) {
    const size_t pos = find_word(r, word);
    if (pos == std::string_view::npos) continue;
    req.key = std::string(trim(r.substr(0, pos)));
    req.op = op;
    std::string_view rest = trim(r.substr(pos + word.size()));
    if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
      return bad("expected a parenthesised value set");
    }
    rest = rest.substr(1, rest.size() - 2);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t comma = rest.find(',', start);
      if (comma == std::string_view::npos) comma = rest.size();
      const std::string_view v = trim(rest.substr(start, comma - start));
      if (!valid_label_value(v)) return bad("invalid label value \"" + std::string(v) + "\"");
      req.values.emplace_back(v);
      start = comma + 1;
    }
    if (!valid_label_key(req.key)) return bad("invalid label key \"" + req.key + "\"");
    return req;
  }
  if (r.front() == '!') {
    req.key = std::string(trim(r.substr(1)));
    req.op = Op::kDoesNotExist;
    if (!valid_label_key(req.key)) return bad("invalid label key \"" + req.key + "\"");
    return req;
  }
  struct Sym {
    std::string_view text;
    Op op;
  };
  for (const Sym& s : {Sym{"!=", Op::kNotEquals}, Sym{"==", Op::kEquals}, Sym{"=", Op::kEquals},
                       Sym{">", Op::kGreater}, Sym{"<", Op::kLess}}) {
    const size_t pos = r.find(s.text);
    if (pos == std::string_view::npos) continue;
    req.key = std::string(trim(r.substr(0, pos)));
    req.op = s.op;
    const std::string_view v = trim(r.substr(pos + s.text.size()));
    if (!valid_label_key(req.key)) return bad("invalid label key \"" + req.key + "\"");
    if (!valid_label_value(v)) return bad("invalid label value \"" + std::string(v) + "\"");
    if (s.op == Op::kGreater || s.op == Op::kLess) {
      long long n = 0;
      if (std::from_chars(v.data(), v.data() + v.size(), n).ec != std::errc()) {
        return bad("for 'Gt', 'Lt' operators, the value must be an integer");
      }
    }
    req.values.emplace_back(v);
    return req;
  }
  req.key = std::string(r);
  req.op = Op::kExists;
  if (!valid_label_key(req.key)) return bad("invalid label key \"" + req.key + "\"");
  return req;
}

const nlohmann::json* label(const nlohmann::json& labels, const std::string& key) {
  if (!labels.is_object()) return nullptr;
  const auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return nullptr;
  return &*it;
}

}  // namespace

tl::expected<LabelSelector, std::string> LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  if (trim(text).empty()) return sel;
  for (std::string_view part : split_requirements(text)) {
    auto req = parse_requirement(part);
    if (!req) return tl::unexpected(req.error());
    sel.requirements_.push_back(std::move(*req));
  }
  return sel;
}

tl::expected<LabelSelector, std::string> LabelSelector::from_json(const nlohmann::json& selector) {
  LabelSelector sel;
  if (!selector.is_object()) return sel;
  if (const auto it = selector.find("matchLabels"); it != selector.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return tl::unexpected("matchLabels." + k + ": must be a string");
      sel.requirements_.push_back({k, Op::kEquals, {v.get<std::string>()}});
    }
  }
  if (const auto it = selector.find("matchExpressions"); it != selector.end() && it->is_array()) {
    for (const auto& e : *it) {
      Requirement req;
      req.key = str(e, "key");
      const std::string op = str(e, "operator");
      if (op == "In") {
        req.op = Op::kIn;
      } else if (op == "NotIn") {
        req.op = Op::kNotIn;
      } else if (op == "Exists") {
        req.op = Op::kExists;
      } else if (op == "DoesNotExist") {
        req.op = Op::kDoesNotExist;
      } else {
        return tl::unexpected("matchExpressions: \"" + op +
                              "\" is not a valid pod selector operator");
      }
      for (const auto& v : member(e, "values")) {
        if (v.is_string()) req.values.push_back(v.get<std::string>());
      }
      sel.requirements_.push_back(std::move(req));
    }
  }
  return sel;
}

bool LabelSelector::matches(const nlohmann::json& labels) const {
  for (const Requirement& r : requirements_) {
    const nlohmann::json* v = label(labels, r.key);
    const std::string* value = v ? v->get_ptr<const std::string*>() : nullptr;
    const auto in_values = [&] {
      return value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end();
    };
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values()) return false;
        break;
      case Op::kExists:
        if (!value) return false;
        break;
      case Op::kDoesNotExist:
        if (value) return false;
        break;
      case Op::kGreater:
      case Op::kLess: {
        if (!value) return false;
        long long have = 0;
        long long want = 0;
        if (std::from_chars(value->data(), value->data() + value->size(), have).ec != std::errc())
          return false;
        std::from_chars(r.values[0].data(), r.values[0].data() + r.values[0].size(), want);
        if (r.op == Op::kGreater ? !(have > want) : !(have < want)) return false;
        break;
      }
    }
  }
  return true;
}

tl::expected<FieldSelector, std::string> FieldSelector::parse(std::string_view text) {
  FieldSelector sel;
  if (trim(text).empty()) return sel;
  // Unescape while splitting: `\,` and `\=` are literal in values.
  std::vector<std::string> parts(1);
  std::vector<std::vector<size_t>> ops(1);  // unescaped '=' / '!' positions per part
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      parts.back() += text[++i];
      continue;
    }
    if (c == ',') {
      parts.emplace_back();
      ops.emplace_back();
      continue;
    }
    if (c == '=' || c == '!') ops.back().push_back(parts.back().size());
    parts.back() += c;
  }
  for (size_t p = 0; p < parts.size(); ++p) {
    const std::string& part = parts[p];
    if (ops[p].empty())
      return tl::unexpected("invalid selector: '" + part + "'; can't understand '" + part + "'");
    const size_t pos = ops[p].front();
    Requirement req;
    size_t value_start = 0;
    if (part.compare(pos, 2, "!=") == 0) {
      req.equals = false;
      value_start = pos + 2;
    } else if (part.compare(pos, 2, "==") == 0) {
      value_start = pos + 2;
    } else if (part[pos] == '=') {
      value_start = pos + 1;
    } else {
      return tl::unexpected("invalid selector: '" + part + "'");
    }
    req.field = std::string(trim(std::string_view(part).substr(0, pos)));
    req.value = std::string(trim(std::string_view(part).substr(value_start)));
    if (req.field.empty()) return tl::unexpected("invalid selector: '" + part + "'");
    sel.requirements_.push_back(std::move(req));
  }
  return sel;
}

std::string field_value(const nlohmann::json& object, std::string_view path) {
  const nlohmann::json* cur = &object;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    if (!cur->is_object()) return "";
    const auto it = cur->find(std::string(path.substr(start, dot - start)));
    if (it == cur->end()) return "";
    cur = &*it;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_number() || cur->is_boolean()) return cur->dump();
  return "";
}

bool FieldSelector::matches(const nlohmann::json& object) const {
  for (const Requirement& r : requirements_) {
    if ((field_value(object, r.field) == r.value) != r.equals) return false;
  }
  return true;
}

}  // namespace fairway::apiserver
