#include "sim/chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <set>
#include <string_view>

#include "sim/report.h"

namespace fairway::sim {
namespace {

// Layout in SVG units: two panels stacked, the legend on the right.
constexpr double kWidth = 960;
constexpr double kHeight = 660;
constexpr double kLeft = 70;
constexpr double kRight = 770;
constexpr double kSharesTop = 60;
constexpr double kSharesBottom = 400;
constexpr double kUtilTop = 470;
constexpr double kUtilBottom = 610;
constexpr double kLegendX = 790;

// Distinguishable on white, in order (Tableau 10).
constexpr std::array<std::string_view, 10> kColours = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                       "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                                       "#9c755f", "#bab0ac"};

std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The smallest of 1, 2, 2.5, 5 x 10^k that is at least `value` / `steps`: a round tick step.
double nice_step(double value, int steps) {
  const double raw = std::max(value, 1e-9) / steps;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * magnitude >= raw) return m * magnitude;
  }
  return 10 * magnitude;
}

// A time tick step that reads well on an m:ss (or h:mm:ss) clock, for about `steps` ticks.
double time_step(double seconds, int steps) {
  constexpr double kSteps[] = {1,   2,   5,    10,   15,   20,    30,    60,    120,  300,
                               600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};
  for (double step : kSteps) {
    if (step * steps >= seconds) return step;
  }
  return std::ceil(seconds / steps / 86400) * 86400;
}

struct Panel {
  double top;
  double bottom;
  double y_max;  // value at the top edge
  double t_max;  // seconds at the right edge
  double x(double seconds) const { return kLeft + (kRight - kLeft) * seconds / t_max; }
  double y(double value) const { return bottom - (bottom - top) * value / y_max; }
};

// A step line through the samples: each value holds until the next sample, the last until the
// end of the run. Points only where the value changes, so long steady stretches cost nothing.
std::string step_points(const SimResult& result, const Panel& panel,
                        const std::function<double(const Sample&)>& value) {
  std::string points;
  auto add = [&](double seconds, double v) {
    points += fmt::format("{:.1f},{:.1f} ", panel.x(seconds), panel.y(v));
  };
  for (size_t i = 0; i < result.samples.size(); ++i) {
    const double v = value(result.samples[i]);
    const double from = seconds(result.samples[i].time_ms);
    if (i == 0) {
      add(from, v);
    } else if (v != value(result.samples[i - 1])) {
      add(from, value(result.samples[i - 1]));
      add(from, v);
    }
  }
  if (!result.samples.empty()) {
    add(std::max(panel.t_max, seconds(result.samples.back().time_ms)),
        value(result.samples.back()));
  }
  if (!points.empty()) points.pop_back();
  return points;
}

void axes(std::string& svg, const Panel& panel, const std::string& y_label, bool percent) {
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n", kLeft,
      panel.top, kRight - kLeft, panel.bottom - panel.top);
  const double y_step = percent ? 25 : nice_step(panel.y_max, 5);
  for (double v = 0; v <= panel.y_max + 1e-9; v += y_step) {
    svg += fmt::format(
        "<line class=\"grid\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#eee\"/>"
        "<text class=\"y-tick\" x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}{}</text>\n",
        kLeft, panel.y(v), kRight, panel.y(v), kLeft - 6, panel.y(v) + 4, v, percent ? "%" : "");
  }
  const double t_step = time_step(panel.t_max, 8);
  for (double t = 0; t <= panel.t_max + 1e-9; t += t_step) {
    svg += fmt::format(
        "<text class=\"x-tick\" x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        panel.x(t), panel.bottom + 16, format_clock(static_cast<TimeMs>(std::llround(t * 1000))));
  }
  svg += fmt::format(
      "<text class=\"axis-label\" transform=\"translate(18,{:.1f}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>\n",
      (panel.top + panel.bottom) / 2, escaped(y_label));
  svg += fmt::format(
      "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">simulated time "
      "(m:ss)</text>\n",
      (kLeft + kRight) / 2, panel.bottom + 34);
}

std::string panel_open(const Panel& panel, std::string_view name) {
  return fmt::format(
      "<g class=\"panel\" data-panel=\"{}\" data-left=\"{}\" data-right=\"{}\" data-top=\"{}\" "
      "data-bottom=\"{}\" data-y-max=\"{:g}\" data-t-max-seconds=\"{:g}\">\n",
      name, kLeft, kRight, panel.top, panel.bottom, panel.y_max, panel.t_max);
}

// A dotted line at every moment fairway evicted pods; the action is written above the first of
// each cluster of lines (labels closer than kLabelGap would overlap).
void eviction_markers(std::string& svg, const SimResult& result, const Panel& panel) {
  constexpr double kLabelGap = 60;
  std::set<std::pair<TimeMs, std::string>> seen;
  double last_label_x = -kLabelGap;
  for (const Eviction& eviction : result.evictions) {
    if (!seen.emplace(eviction.time_ms, eviction.action).second) continue;
    const double x = panel.x(seconds(eviction.time_ms));
    std::string label;
    if (x - last_label_x >= kLabelGap) {
      last_label_x = x;
      label =
          fmt::format("<text x=\"{:.1f}\" y=\"{}\" fill=\"#c00\" text-anchor=\"middle\">{}</text>",
                      x, panel.top - 4, escaped(eviction.action));
    }
    svg += fmt::format(
        "<g class=\"eviction\" data-action=\"{0}\" data-time-seconds=\"{1:g}\"><title>{0} at "
        "{2}</title><line x1=\"{3:.1f}\" y1=\"{4}\" x2=\"{3:.1f}\" y2=\"{5}\" stroke=\"#c00\" "
        "stroke-dasharray=\"2,3\"/>{6}</g>\n",
        escaped(eviction.action), seconds(eviction.time_ms), format_clock(eviction.time_ms), x,
        panel.top, panel.bottom, label);
  }
}

void legend(std::string& svg, const SimResult& result) {
  double y = kSharesTop + 10;
  svg += "<g class=\"legend\">\n";
  for (size_t q = 0; q < result.queues.size(); ++q) {
    const std::string colour(kColours[q % kColours.size()]);
    const QueueInfo& queue = result.queues[q];
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"/>"
        "<text class=\"legend-queue\" data-queue=\"{4}\" x=\"{5}\" y=\"{6}\">{4}</text>\n",
        kLegendX, y, kLegendX + 24, colour, escaped(queue.name), kLegendX + 30 + 8 * queue.depth,
        y + 4);
    y += 20;
  }
  svg += fmt::format(
      "<text x=\"{0}\" y=\"{1}\">solid: allocated</text>"
      "<text x=\"{0}\" y=\"{2}\">dashed: fair share</text>\n</g>\n",
      kLegendX, y + 10, y + 28);
}

}  // namespace

std::string svg_chart(const SimResult& result) {
  const TimeMs last_sample = result.samples.empty() ? 0 : result.samples.back().time_ms;
  const double t_max = std::max(1.0, seconds(std::max(result.end_ms, last_sample)));
  double gpus = 1;
  for (const Sample& sample : result.samples) {
    for (const QueueSample& queue : sample.queues) {
      gpus = std::max({gpus, queue.allocated_gpu, queue.fair_share_gpu});
    }
  }
  const double step = nice_step(gpus, 5);
  const Panel shares{kSharesTop, kSharesBottom, std::ceil(gpus / step) * step, t_max};
  const Panel utilization{kUtilTop, kUtilBottom, 100, t_max};

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text class=\"title\" x=\"{2}\" y=\"24\" font-size=\"16\">fairway sim: {3} - GPUs "
      "allocated vs fair share per queue</text>\n",
      kWidth, kHeight, kLeft, escaped(result.scenario));

  svg += panel_open(shares, "shares");
  axes(svg, shares, "GPUs", false);
  for (size_t q = 0; q < result.queues.size(); ++q) {
    const std::string colour(kColours[q % kColours.size()]);
    const std::string name = escaped(result.queues[q].name);
    auto fair = [q](const Sample& s) {
      return q < s.queues.size() ? s.queues[q].fair_share_gpu : 0;
    };
    auto allocated = [q](const Sample& s) {
      return q < s.queues.size() ? s.queues[q].allocated_gpu : 0;
    };
    svg += fmt::format(
        "<polyline class=\"fair-share\" data-queue=\"{0}\" fill=\"none\" stroke=\"{1}\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"6,4\" points=\"{2}\"><title>{0} fair share"
        "</title></polyline>\n",
        name, colour, step_points(result, shares, fair));
    svg += fmt::format(
        "<polyline class=\"allocation\" data-queue=\"{0}\" fill=\"none\" stroke=\"{1}\" "
        "stroke-width=\"2\" points=\"{2}\"><title>{0} allocated</title></polyline>\n",
        name, colour, step_points(result, shares, allocated));
  }
  eviction_markers(svg, result, shares);
  svg += "</g>\n";

  svg += fmt::format(
      "<text class=\"title\" x=\"{}\" y=\"{}\" font-size=\"14\">GPU utilization ({:g} GPUs)"
      "</text>\n",
      kLeft, kUtilTop - 10, result.gpu_capacity);
  svg += panel_open(utilization, "utilization");
  axes(svg, utilization, "GPU utilization", true);
  const double capacity = result.gpu_capacity;
  svg += fmt::format(
      "<polyline class=\"utilization\" fill=\"none\" stroke=\"#333\" stroke-width=\"2\" "
      "points=\"{}\"><title>GPU utilization</title></polyline>\n</g>\n",
      step_points(result, utilization, [capacity](const Sample& s) {
        return capacity > 0 ? 100.0 * s.allocated_gpu / capacity : 0;
      }));
  legend(svg, result);
  svg += "</svg>\n";
  return svg;
}

}  // namespace fairway::sim
