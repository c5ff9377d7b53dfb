#pragma once
// A run as a picture: one self-contained SVG document (no scripts, fonts or dependencies) with
//   - top panel: GPUs allocated (solid) and fair share (dashed) per queue over simulated time,
//     one colour per queue, and a marker at every moment fairway evicted pods (reclaim, preempt);
//   - bottom panel: GPU utilisation of the cluster over time, 0-100%.
// Drawn from SimResult::samples alone, as step lines (a sample holds until the next one), so
// the in-process and the live driver give the same kind of picture. Pure: the caller writes it.
//
// Each series is a <polyline> that says what it is, so tests and scripts can read the picture
// back: class="allocation" or class="fair-share" with data-queue="<queue>", class="utilization";
// each panel is a <g class="panel"> whose data-left/right/top/bottom give the plot area in SVG
// units and data-y-max / data-t-max-seconds the values at its top and right edges.

#include <string>

#include "sim/driver.h"

namespace fairway::sim {

std::string svg_chart(const SimResult& result);

}  // namespace fairway::sim
