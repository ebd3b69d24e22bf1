// The picture kinds, one function each, drawn into an open Stream. Internal
// to landscape_plot: Draw() in plot.cc validates, opens the stream, dispatches.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "landscape/core/status.h"
#include "landscape/plot/plot.h"
#include "stream.h"

namespace landscape::plot::internal {

/// The training path alone (kTrajectory without a surface), on axes fitted to it.
core::Result<Frame> DrawPathOnly(Stream& st, const PlotData& d, const PlotOptions& o);
/// Contour lines (kContour), and the training path over them when d.trajectory is set.
core::Result<Frame> DrawContour(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o);
/// Filled contours (heat = false) or a heat map (heat = true); `default_range`
/// replaces the data's range as the colour range when vmin/vmax are not given.
core::Result<Frame> DrawFilledOrHeat(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o,
                                     bool heat, std::optional<std::pair<double, double>> default_range);
core::Result<Frame> Draw3d(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o);
/// Loss and accuracy curves of d.surface and its overlays (or o.metric alone).
core::Result<Frame> DrawCurves(Stream& st, const PlotData& d, const PlotOptions& o);
/// |λmin/λmax| and λmin/λmax along a 1-D surface.
core::Result<Frame> DrawHessian1d(Stream& st, const PlotData& d, const PlotOptions& o);

}  // namespace landscape::plot::internal
