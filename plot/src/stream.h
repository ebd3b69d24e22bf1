// RAII over one PLplot output stream (plmkstrm ... plend1), and the mutex that
// serialises every PLplot call: the library keeps global state.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "landscape/core/status.h"
#include "landscape/plot/plot.h"

namespace landscape::plot {

std::mutex& PlplotMutex();

/// An initialised PLplot stream writing one file with a cairo device. The
/// file is complete only after the Stream is destroyed (plend1 writes it), so
/// Finish() destroys the stream and moves the temporary file into place.
/// Callers hold PlplotMutex() for the Stream's whole life.
class Stream {
 public:
  /// Checks the device exists and the path is writable before touching
  /// PLplot (whose own errors end the process), then makes and inits a stream
  /// of width x height with a white background.
  static core::Result<std::unique_ptr<Stream>> Open(const std::string& path, Format format, int width, int height);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  /// Ends the stream (the file is written) and renames it to the final path.
  core::Status Finish();

  int width() const { return width_; }
  int height() const { return height_; }

 private:
  Stream(int id, std::string tmp, std::string path, int width, int height)
      : id_(id), tmp_(std::move(tmp)), path_(std::move(path)), width_(width), height_(height) {}
  void End();

  int id_ = -1;        // PLplot stream number; -1 once ended
  std::string tmp_;    // what PLplot writes
  std::string path_;   // where Finish() puts it
  int width_ = 0, height_ = 0;
};

/// PLplot treats '#' as its escape character: doubles it.
std::string EscapeText(const std::string& s);

}  // namespace landscape::plot
