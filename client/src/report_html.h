// Parts of `landscape report`'s HTML page (cmd_report.cc assembles it): the
// units of the summary scalars and the interactive 3-D view.
#pragma once

#include <string>

#include "landscape/io/hdf5_files.h"

namespace landscape::client {

/// The unit of a summary scalar (io::SummaryScalars' names): "points", "α", "β",
/// "α·β", "%", "loss", ... ("" for a pure number such as a fraction).
std::string ScalarUnit(const std::string& name, bool is_2d);

/// The 3-D view of `metric` (2-D surfaces; "" for a 1-D one): a box the viewer
/// draws into and the values as an inline JSON data block (every '<' escaped,
/// so no value can end the script element).
std::string SurfaceViewHtml(const io::Surface& s, const std::string& metric);

/// three.js and the viewer (client/web/report3d.js) as inline <script>
/// elements, embedded at build time: the report needs no network.
std::string SurfaceViewScripts();

}  // namespace landscape::client
