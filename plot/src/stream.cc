#include "stream.h"

#include <plplot.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace landscape::plot {

std::mutex& PlplotMutex() {
  static std::mutex m;
  return m;
}

namespace {

const char* DeviceFor(Format f) {
  switch (f) {
    case Format::kPng: return "pngcairo";
    case Format::kSvg: return "svgcairo";
    case Format::kPdf: return "pdfcairo";
  }
  return "pngcairo";
}

bool DeviceAvailable(const char* name) {
  // plgDevs fills at most *n entries of caller-owned arrays and sets *n.
  std::vector<const char*> menu(128, nullptr), devs(128, nullptr);
  const char** menu_p = menu.data();
  const char** devs_p = devs.data();
  int n = static_cast<int>(devs.size());
  plgDevs(&menu_p, &devs_p, &n);
  for (int i = 0; i < n; ++i) {
    if (devs[i] && std::strcmp(devs[i], name) == 0) return true;
  }
  return false;
}

}  // namespace

core::Result<std::unique_ptr<Stream>> Stream::Open(const std::string& path, Format format, int width, int height) {
  if (width < 100 || height < 100 || width > 10000 || height > 10000) {
    return core::InvalidArgument("--width/--height", "picture size must be between 100 and 10000");
  }
  const char* device = DeviceFor(format);
  if (!DeviceAvailable(device)) {
    return core::FailedPrecondition(std::string("PLplot has no '") + device +
                                    "' device: install plplot-driver-cairo");
  }
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) {
      return core::Status(core::StatusCode::kInvalidArgument,
                          "cannot write " + path + ": " + std::strerror(errno), "--out");
    }
    std::fclose(f);
  }
  PLINT id = 0;
  plmkstrm(&id);
  if (id < 0) {
    std::filesystem::remove(tmp);
    return core::Internal("PLplot: no free stream");
  }
  plsdev(device);
  plsfnam(tmp.c_str());
  plspage(0, 0, width, height, 0, 0);
  plscolbg(255, 255, 255);  // before plinit, as PLplot requires
  plinit();
  pladv(0);
  return std::unique_ptr<Stream>(new Stream(id, tmp, path, width, height));
}

void Stream::End() {
  if (id_ < 0) return;
  plsstrm(id_);
  plend1();
  id_ = -1;
}

Stream::~Stream() {
  End();
  if (!tmp_.empty()) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

core::Status Stream::Finish() {
  End();
  std::error_code ec;
  if (std::filesystem::file_size(tmp_, ec) == 0 || ec) {
    return core::Internal("PLplot wrote nothing to " + path_);
  }
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) return core::Internal("cannot move " + tmp_ + " to " + path_ + ": " + ec.message());
  tmp_.clear();
  return core::Status::Ok();
}

std::string EscapeText(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    out += c;
    if (c == '#') out += '#';
  }
  return out;
}

}  // namespace landscape::plot
