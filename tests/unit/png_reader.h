// Decodes a PNG file to 8-bit RGB with libpng, for tests that look at pixels.
#pragma once

#include <png.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace landscape::testing {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel, row 0 at the top

  bool ok() const { return width > 0 && height > 0; }
  std::array<int, 3> At(int x, int y) const {
    if (x < 0 || y < 0 || x >= width || y >= height) return {-1, -1, -1};
    const size_t k = (static_cast<size_t>(y) * width + x) * 3;
    return {rgb[k], rgb[k + 1], rgb[k + 2]};
  }
  std::array<int, 3> At(double x, double y) const {
    return At(static_cast<int>(x + 0.5) - (x < 0 ? 1 : 0), static_cast<int>(y + 0.5) - (y < 0 ? 1 : 0));
  }
};

/// Relative luminance (0..255) of an RGB triple.
inline double Luminance(const std::array<int, 3>& c) { return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; }

/// Reads `path`; an Image with width 0 on any error.
inline Image ReadPng(const std::string& path) {
  Image img;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return img;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_read_struct(&png, &info, nullptr);
    return img;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return Image{};
  }
  png_init_io(png, f.get());
  png_read_info(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_gray_to_rgb(png);
  png_set_strip_alpha(png);  // cairo's PNGs are ARGB over an opaque white background
  png_read_update_info(png, info);
  const int w = static_cast<int>(png_get_image_width(png, info));
  const int h = static_cast<int>(png_get_image_height(png, info));
  std::vector<uint8_t> data(static_cast<size_t>(w) * h * 3);
  std::vector<png_bytep> rows(h);
  for (int y = 0; y < h; ++y) rows[y] = data.data() + static_cast<size_t>(y) * w * 3;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  img.width = w;
  img.height = h;
  img.rgb = std::move(data);
  return img;
}

}  // namespace landscape::testing
