// libFuzzer target: watch-stream framing. The same bytes cut into arbitrary pieces (the fuzzer
// picks the cuts) must give exactly the lines that one piece gives.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "k8s-client/line_splitter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // First byte: a seed for the cut points; the rest is the stream.
  const uint8_t seed = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  auto collect = [](std::vector<std::string>& out) {
    return [&out](std::string_view line) {
      out.emplace_back(line);
      return true;
    };
  };
  std::vector<std::string> whole;
  fairway::k8s::LineSplitter one;
  one.feed(stream, collect(whole));
  one.finish(collect(whole));

  std::vector<std::string> pieces;
  fairway::k8s::LineSplitter many;
  size_t at = 0;
  uint32_t state = seed | 1u;
  while (at < stream.size()) {
    state = state * 1103515245u + 12345u;
    const size_t len = 1 + (state >> 16) % 17;
    many.feed(stream.substr(at, len), collect(pieces));
    at += len;
  }
  many.finish(collect(pieces));
  if (pieces != whole) __builtin_trap();
  for (const std::string& line : whole) {
    if (line.empty() || line.find('\n') != std::string::npos) __builtin_trap();
  }

  // Stopping early: on_line returning false stops at once.
  fairway::k8s::LineSplitter stopper;
  size_t calls = 0;
  stopper.feed(stream, [&calls](std::string_view) { return ++calls < 2; });
  if (calls > 2) __builtin_trap();
  return 0;
}
