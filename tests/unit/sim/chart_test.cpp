// The picture of a run (sim/chart.h), read back: which series it draws, and that their points
// say what the samples say.
#include "sim/chart.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "sim/demo_scenario.h"
#include "sim/scenario.h"

namespace fairway::sim {
namespace {

using ::testing::HasSubstr;

struct Point {
  double x = 0;
  double y = 0;
};

struct Series {
  std::string cls;    // allocation, fair-share, utilization
  std::string queue;  // data-queue, empty for utilization
  std::vector<Point> points;
};

struct PanelBox {
  double left = 0, right = 0, top = 0, bottom = 0, y_max = 0, t_max = 0;
  // The value and time a point stands for.
  double value(const Point& p) const { return y_max * (bottom - p.y) / (bottom - top); }
  double seconds(const Point& p) const { return t_max * (p.x - left) / (right - left); }
};

std::string attribute(const std::string& tag, const std::string& name) {
  std::smatch match;
  const std::regex pattern(" " + name + "=\"([^\"]*)\"");
  return std::regex_search(tag, match, pattern) ? match[1].str() : std::string();
}

std::vector<Series> series_of(const std::string& svg) {
  std::vector<Series> all;
  const std::regex polyline("<polyline [^>]*>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    const std::string tag = it->str();
    Series series{attribute(tag, "class"), attribute(tag, "data-queue"), {}};
    std::istringstream points(attribute(tag, "points"));
    std::string pair;
    while (points >> pair) {
      const auto comma = pair.find(',');
      series.points.push_back(
          {std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
    }
    all.push_back(std::move(series));
  }
  return all;
}

std::map<std::string, PanelBox> panels_of(const std::string& svg) {
  std::map<std::string, PanelBox> panels;
  const std::regex panel("<g class=\"panel\"[^>]*>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), panel); it != std::sregex_iterator();
       ++it) {
    const std::string tag = it->str();
    panels[attribute(tag, "data-panel")] = {
        std::stod(attribute(tag, "data-left")),  std::stod(attribute(tag, "data-right")),
        std::stod(attribute(tag, "data-top")),   std::stod(attribute(tag, "data-bottom")),
        std::stod(attribute(tag, "data-y-max")), std::stod(attribute(tag, "data-t-max-seconds"))};
  }
  return panels;
}

// The value a step series holds at `seconds`: the last point at or before it (coordinates are
// written to a tenth of a unit, so "at" is within a tenth of a unit's time).
double value_at(const Series& series, const PanelBox& box, double seconds) {
  const double slack = 0.1 * box.t_max / (box.right - box.left);
  double value = 0;
  for (const Point& p : series.points) {
    if (box.seconds(p) <= seconds + slack) value = box.value(p);
  }
  return value;
}

const Series* find(const std::vector<Series>& all, const std::string& cls,
                   const std::string& queue = "") {
  for (const Series& s : all) {
    if (s.cls == cls && s.queue == queue) return &s;
  }
  return nullptr;
}

SimResult demo() {
  auto scenario = parse_scenario(demo_scenario_yaml());
  EXPECT_TRUE(scenario.has_value());
  return simulate(*scenario);
}

TEST(SvgChart, DemoHasOneAllocationAndOneFairShareSeriesPerQueueAndUtilization) {
  const SimResult result = demo();
  const std::string svg = svg_chart(result);
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  const auto all = series_of(svg);
  ASSERT_EQ(all.size(), 2 * result.queues.size() + 1);
  for (const QueueInfo& queue : result.queues) {
    // Named in the legend, one solid and one dashed line.
    EXPECT_THAT(svg, HasSubstr("class=\"legend-queue\" data-queue=\"" + queue.name + "\""));
    EXPECT_NE(find(all, "allocation", queue.name), nullptr) << queue.name;
    EXPECT_NE(find(all, "fair-share", queue.name), nullptr) << queue.name;
    size_t lines = 0;
    for (const Series& s : all) lines += s.queue == queue.name ? 1 : 0;
    EXPECT_EQ(lines, 2u) << queue.name;
  }
  EXPECT_NE(find(all, "utilization"), nullptr);
  EXPECT_THAT(svg, HasSubstr(">GPUs</text>"));
  EXPECT_THAT(svg, HasSubstr(">GPU utilization</text>"));
  EXPECT_THAT(svg, HasSubstr("simulated time (m:ss)"));
  // Time ticks on round clock times: every 30 s over the demo's 3:40.
  for (const char* tick : {">0:00</text>", ">0:30</text>", ">1:00</text>", ">3:30</text>"}) {
    EXPECT_THAT(svg, HasSubstr(tick));
  }
}

TEST(SvgChart, PointsStayInTheirPanelAndTimeRunsForward) {
  const SimResult result = demo();
  const std::string svg = svg_chart(result);
  const auto panels = panels_of(svg);
  ASSERT_EQ(panels.count("shares"), 1u);
  ASSERT_EQ(panels.count("utilization"), 1u);
  const PanelBox& shares = panels.at("shares");
  EXPECT_DOUBLE_EQ(shares.t_max, static_cast<double>(result.end_ms) / 1000);
  EXPECT_DOUBLE_EQ(panels.at("utilization").y_max, 100);
  for (const Series& series : series_of(svg)) {
    const PanelBox& box = series.cls == "utilization" ? panels.at("utilization") : shares;
    ASSERT_GE(series.points.size(), 2u) << series.cls << " " << series.queue;
    EXPECT_NEAR(box.seconds(series.points.front()), 0, 1e-6);
    EXPECT_NEAR(box.seconds(series.points.back()), box.t_max, 0.1);
    for (size_t i = 0; i < series.points.size(); ++i) {
      const Point& p = series.points[i];
      EXPECT_GE(p.x, box.left - 1e-6);
      EXPECT_LE(p.x, box.right + 1e-6);
      EXPECT_GE(p.y, box.top - 1e-6);
      EXPECT_LE(p.y, box.bottom + 1e-6);
      if (i > 0) {
        EXPECT_GE(p.x, series.points[i - 1].x) << series.cls << " " << series.queue;
      }
    }
  }
  // The GPU axis holds the largest value drawn, with less than one tick step to spare.
  double largest = 0;
  for (const Sample& sample : result.samples) {
    for (const QueueSample& q : sample.queues) {
      largest = std::max({largest, q.allocated_gpu, q.fair_share_gpu});
    }
  }
  EXPECT_GE(shares.y_max, largest);
  EXPECT_LE(shares.y_max, largest * 1.5);
}

TEST(SvgChart, SeriesValuesAreTheSamples) {
  const SimResult result = demo();
  const std::string svg = svg_chart(result);
  const auto panels = panels_of(svg);
  const auto all = series_of(svg);
  const double tolerance_gpu = panels.at("shares").y_max / 300;  // a pixel is ~0.3% of the axis
  for (const Sample& sample : result.samples) {
    const double t = static_cast<double>(sample.time_ms) / 1000;
    for (size_t q = 0; q < result.queues.size(); ++q) {
      const std::string& name = result.queues[q].name;
      EXPECT_NEAR(value_at(*find(all, "allocation", name), panels.at("shares"), t),
                  sample.queues[q].allocated_gpu, tolerance_gpu)
          << name << " at " << t;
      EXPECT_NEAR(value_at(*find(all, "fair-share", name), panels.at("shares"), t),
                  sample.queues[q].fair_share_gpu, tolerance_gpu)
          << name << " at " << t;
    }
    EXPECT_NEAR(value_at(*find(all, "utilization"), panels.at("utilization"), t),
                100 * sample.allocated_gpu / result.gpu_capacity, 0.5)
        << "utilization at " << t;
  }
  // Production's allocation reaches 48 GPUs, its quota, while prod-gang runs.
  EXPECT_NEAR(value_at(*find(all, "allocation", "production"), panels.at("shares"), 60), 48,
              tolerance_gpu);
}

TEST(SvgChart, MarksEveryEvictionMoment) {
  const SimResult result = demo();
  ASSERT_FALSE(result.evictions.empty());
  const std::string svg = svg_chart(result);
  for (const Eviction& eviction : result.evictions) {
    EXPECT_THAT(svg, HasSubstr(fmt::format("class=\"eviction\" data-action=\"reclaim\" "
                                           "data-time-seconds=\"{:g}\"",
                                           static_cast<double>(eviction.time_ms) / 1000)));
  }
}

TEST(SvgChart, EscapesNamesAndSurvivesAnEmptyRun) {
  SimResult result;
  result.scenario = "a<b & \"c\"";
  result.queues.push_back({"q<1>", "", 0, true});
  const std::string svg = svg_chart(result);
  EXPECT_THAT(svg, HasSubstr("a&lt;b &amp; &quot;c&quot;"));
  EXPECT_THAT(svg, HasSubstr("data-queue=\"q&lt;1&gt;\""));
  EXPECT_EQ(svg.find("q<1>"), std::string::npos);
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
}

}  // namespace
}  // namespace fairway::sim
