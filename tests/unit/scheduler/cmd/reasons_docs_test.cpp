// The docs name only reasons and metrics the code produces, and the code produces none the docs
// lack. Reasons: the one table in docs/scheduling.md ("### Reasons") against the code's list
// (scheduler/cycle/reasons.h), both ways, each with where it appears; and every reason-like name
// any doc puts on a line about reasons or Events must be one the code writes. Metrics: every
// fairway_* name in docs/ against the names the code registers, both ways.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "queues/queue_tree.h"
#include "scheduler/cycle/reasons.h"

namespace fairway {
namespace {

namespace fs = std::filesystem;
const fs::path kRoot = FAIRWAY_SOURCE_DIR;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> docs() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kRoot / "docs")) {
    if (entry.path().extension() == ".md") out.push_back(entry.path());
  }
  return out;
}

// Where each reason appears, by the code's lists.
std::map<std::string, std::set<std::string>> code_reasons() {
  std::map<std::string, std::set<std::string>> out;
  for (auto name : reasons::kPodCondition) out[std::string(name)].insert("pod condition");
  for (auto name : reasons::kPending) {
    out[std::string(name)].insert("PodGroup condition");
    out[std::string(name)].insert("PodGroup Event");
  }
  for (auto name : reasons::kPodGroupCondition) out[std::string(name)].insert("PodGroup condition");
  for (auto name : reasons::kPodEvent) out[std::string(name)].insert("pod Event");
  return out;
}

// The rows of docs/scheduling.md's "### Reasons" table: name → its "where" cell.
std::map<std::string, std::string> table_reasons() {
  std::istringstream text(read(kRoot / "docs/scheduling.md"));
  std::map<std::string, std::string> out;
  bool in_section = false;
  const std::regex row(R"(^\| `([A-Za-z]+)` \| ([^|]+) \|)");
  for (std::string line; std::getline(text, line);) {
    if (line.starts_with("#")) in_section = line == "### Reasons";
    std::smatch m;
    if (in_section && std::regex_search(line, m, row)) out[m[1]] = m[2];
  }
  return out;
}

TEST(ReasonsDocs, TheTableListsEveryReasonTheCodeWritesAndNoOther) {
  const auto code = code_reasons();
  const auto table = table_reasons();
  ASSERT_FALSE(table.empty()) << "docs/scheduling.md has no \"### Reasons\" table";
  for (const auto& [name, places] : code) {
    const auto row = table.find(name);
    if (row == table.end()) {
      ADD_FAILURE() << "the code writes reason " << name << "; docs/scheduling.md's table lacks it";
      continue;
    }
    for (const std::string& place : places) {
      EXPECT_NE(row->second.find(place), std::string::npos)
          << name << " is a " << place << " reason; its row says: " << row->second;
    }
  }
  for (const auto& [name, where] : table) {
    EXPECT_TRUE(code.contains(name))
        << "docs/scheduling.md's table names reason " << name << ", which the code never writes";
  }
}

// The Queue reasons: docs/scheduling.md's "## Queue tree and validation" table names every
// problem reason the code has and no other (Valid, the healthy queue's, is in its text).
TEST(ReasonsDocs, TheQueueTableListsEveryQueueReason) {
  std::istringstream text(read(kRoot / "docs/scheduling.md"));
  std::set<std::string> table;
  bool in_section = false;
  const std::regex quoted(R"(`([A-Z][A-Za-z]+)`)");
  for (std::string line; std::getline(text, line);) {
    if (line.starts_with("#")) in_section = line == "## Queue tree and validation";
    if (!in_section || !line.starts_with("| `")) continue;
    const std::string first_cell = line.substr(0, line.find(" | ", 2));
    for (std::sregex_iterator it(first_cell.begin(), first_cell.end(), quoted), end; it != end;
         ++it) {
      table.insert((*it)[1]);
    }
  }
  std::set<std::string> code;
  for (auto name : kQueueConditionReasons) {
    if (name != "Valid") code.insert(std::string(name));
  }
  EXPECT_EQ(table, code) << "docs/scheduling.md's queue reasons table differs from "
                            "kQueueConditionReasons (queues/queue_tree.h)";
}

// Names docs put in backquotes on lines about reasons or Events that are not fairway reasons:
// condition types and statuses, API status reasons, option names, and the reasons of
// kube-controller-manager's controllers that the embedded API server plays.
const std::set<std::string> kNotReasons = {"PodScheduled",
                                           "True",
                                           "False",
                                           "Status",
                                           "Invalid",
                                           "RequestEntityTooLarge",
                                           "MaxRequestBodyBytes",
                                           "Warning",
                                           "Unauthorized",
                                           "Forbidden",
                                           "FailedResourceClaimCreation"};

TEST(ReasonsDocs, EveryReasonTheDocsNameIsWritten) {
  std::set<std::string> known;
  for (const auto& [name, places] : code_reasons()) known.insert(name);
  for (auto name : kQueueConditionReasons) known.insert(std::string(name));
  const std::regex line_about(R"(reason|Event)", std::regex::icase);
  const std::regex quoted(R"(`([A-Z][A-Za-z]+)`)");
  for (const fs::path& doc : docs()) {
    std::istringstream text(read(doc));
    int number = 0;
    for (std::string line; std::getline(text, line);) {
      ++number;
      if (!std::regex_search(line, line_about)) continue;
      for (std::sregex_iterator it(line.begin(), line.end(), quoted), end; it != end; ++it) {
        const std::string name = (*it)[1];
        EXPECT_TRUE(known.contains(name) || kNotReasons.contains(name))
            << doc.filename().string() << ":" << number << " names reason `" << name
            << "`, which the code never writes";
      }
    }
  }
}

// The metric names the code registers: its "fairway_..." string literals.
std::set<std::string> code_metrics() {
  std::set<std::string> out;
  const std::regex literal(R"re("(fairway_[a-z0-9_]+)")re");
  for (const char* dir : {"scheduler", "sim"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kRoot / dir)) {
      const auto ext = entry.path().extension();
      if (ext != ".cpp" && ext != ".h") continue;
      const std::string text = read(entry.path());
      for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it) {
        out.insert((*it)[1]);
      }
    }
  }
  return out;
}

// fairway_* words that are build targets (add_library / add_executable), not metrics.
std::set<std::string> build_targets() {
  std::set<std::string> out;
  const std::regex target(R"(add_(?:library|executable)\((fairway_[a-z0-9_]+))");
  for (auto it = fs::recursive_directory_iterator(kRoot); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.starts_with(".") || name.starts_with("build"))) {
      it.disable_recursion_pending();
      continue;
    }
    if (name != "CMakeLists.txt") continue;
    const std::string text = read(it->path());
    for (std::sregex_iterator m(text.begin(), text.end(), target), end; m != end; ++m) {
      out.insert((*m)[1]);
    }
  }
  return out;
}

TEST(ReasonsDocs, DocsNameEveryMetricTheCodeRegistersAndNoOther) {
  const auto code = code_metrics();
  ASSERT_GT(code.size(), 20u);
  const auto targets = build_targets();
  ASSERT_TRUE(targets.contains("fairway_apiserver"));
  std::set<std::string> documented;
  const std::regex name(R"(fairway_[a-z0-9_]+)");
  const std::regex series_suffix(R"(_(bucket|sum|count)$)");
  for (const fs::path& doc : docs()) {
    const std::string text = read(doc);
    for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
      const std::string metric = std::regex_replace(it->str(), series_suffix, "");
      if (targets.contains(metric)) continue;
      documented.insert(metric);
      EXPECT_TRUE(code.contains(metric)) << doc.filename().string() << " names metric " << metric
                                         << ", which the code never registers";
    }
  }
  for (const std::string& metric : code) {
    EXPECT_TRUE(documented.contains(metric)) << "metric " << metric << " is in no doc";
  }
}

}  // namespace
}  // namespace fairway
