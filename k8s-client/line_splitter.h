#pragma once
// Splits a byte stream arriving in arbitrary pieces (HTTP chunks, TCP reads) into lines, as a
// watch stream needs: one JSON event per line, a line may straddle any number of reads.

#include <string>
#include <string_view>

namespace fairway::k8s {

class LineSplitter {
 public:
  // Calls on_line(std::string_view) for each complete line in `data` (newline and a trailing
  // '\r' stripped, empty lines skipped). Returns false as soon as on_line does.
  template <typename OnLine>
  bool feed(std::string_view data, OnLine&& on_line) {
    size_t start = 0;
    while (true) {
      const size_t newline = data.find('\n', start);
      if (newline == std::string_view::npos) break;
      std::string_view piece = data.substr(start, newline - start);
      start = newline + 1;
      std::string_view line = piece;
      if (!pending_.empty()) {  // the line began in an earlier read
        pending_.append(piece);
        line = pending_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      const bool go_on = line.empty() || on_line(line);
      pending_.clear();
      if (!go_on) return false;
    }
    pending_.append(data.substr(start));
    return true;
  }

  // The end of the stream: a last line without a newline is still a line.
  template <typename OnLine>
  bool finish(OnLine&& on_line) {
    if (pending_.empty()) return true;
    std::string last = std::move(pending_);
    pending_.clear();
    std::string_view line = last;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line.empty() || on_line(line);
  }

  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string pending_;
};

}  // namespace fairway::k8s
