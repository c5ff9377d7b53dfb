#pragma once
// Limits on the request bodies fairway's servers accept, checked before any JSON DOM is built
// (docs/security.md). A hostile client must not be able to drive a parser, a serialiser or a
// decoder into deep recursion (a stack overflow ends the process) or into unbounded memory.
//
// - kMaxRequestBodyBytes: kube-apiserver's limit on a request body (3 MiB,
//   MaxRequestBodyBytes); a larger body is answered 413 "Request entity too large: limit is
//   3145728" before it is read.
// - kMaxJsonDepth: the deepest nesting of arrays and objects accepted. Go's encoding/json (and so
//   kube-apiserver) stops at 10000; 1000 is far beyond any Kubernetes object (a pod with its
//   managedFields nests about 15 deep) and below simdjson's default of 1024, so a body that passes
//   here also passes simdjson, and nlohmann's recursive dump() and merge functions stay within a
//   few hundred KB of stack.
//
// json_depth_within() is a linear pre-scan without recursion or allocation: it counts '[' and '{'
// outside strings (honouring backslash escapes) and stops at the first level past the limit. It
// does not validate the JSON: the parser that runs afterwards does.

#include <cstddef>
#include <string_view>

namespace fairway::k8s {

inline constexpr size_t kMaxRequestBodyBytes = size_t{3} << 20;  // 3145728
inline constexpr size_t kMaxJsonDepth = 1000;

// False when `text` nests arrays/objects more than `limit` deep.
constexpr bool json_depth_within(std::string_view text, size_t limit = kMaxJsonDepth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is, cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > limit) return false;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced: malformed, left for the parser to reject
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace fairway::k8s
