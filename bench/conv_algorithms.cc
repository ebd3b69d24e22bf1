// landscape-bench-conv: what oneDNN's Winograd convolutions would give over the direct ones that LibTorch
// 1.13 uses (it always asks oneDNN for direct convolution), on the 3×3 stride-1 convolutions of ResNet-20
// for 1×28×28 inputs, which are 86 % of its FLOPs.
//
//   landscape-bench-conv [--threads N] [--batch B]
//
// For each shape: direct and Winograd (F(4×4, 3×3)) forward inference with a fused ReLU, layouts chosen by
// oneDNN, float32; nominal GFLOP/s (2·N·C·K·H·W·9, padding included) of the best of 5 runs of 20 calls,
// the speed-up, and the largest difference between the two outputs relative to the output's largest
// magnitude (Winograd's transforms round differently: the price of the speed). Then the speed-up of a
// pass through all of these convolutions, one of each shape per stage as in ResNet-20 (6 + 5 + 5).
//
// Uses Debian's libdnnl-dev (the same oneDNN LibTorch links); threads through OMP_NUM_THREADS-style
// OpenMP settings (--threads sets them).
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::algorithm;
using Tag = dnnl::memory::format_tag;
using Type = dnnl::memory::data_type;

struct Shape {
  int channels;   // input = output channels
  int size;       // input = output height = width (stride 1, padding 1)
  int per_model;  // how many of them ResNet-20 has
};

struct Result {
  double gflops = 0;  // 0 = oneDNN has no such implementation here
  std::string impl;
  std::vector<float> out;  // the output, in nchw
};

// One convolution with `alg`: input and weights fixed by `seed`, output converted back to nchw.
Result Run(dnnl::engine& eng, dnnl::stream& s, int batch, const Shape& sh, algorithm alg) {
  const dnnl::memory::dims src{batch, sh.channels, sh.size, sh.size}, wei{sh.channels, sh.channels, 3, 3},
      bia{sh.channels};
  const dnnl::memory::desc src_any(src, Type::f32, Tag::any), wei_any(wei, Type::f32, Tag::any),
      bia_any(bia, Type::f32, Tag::any), dst_any(src, Type::f32, Tag::any);
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src_any, wei_any, bia_any, dst_any,
                                       {1, 1}, {1, 1}, {1, 1});
  dnnl::post_ops ops;
  ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::convolution_forward::primitive_desc pd;
  try {
    pd = dnnl::convolution_forward::primitive_desc(desc, attr, eng);
  } catch (const dnnl::error&) {
    return {};
  }
  // The same random input and weights for every algorithm, reordered into the layouts it chose.
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.f, 1.f);
  auto filled = [&](const dnnl::memory::dims& dims, Tag tag, float scale) {
    dnnl::memory m({dims, Type::f32, tag}, eng);
    auto* p = static_cast<float*>(m.get_data_handle());
    const size_t n = m.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; ++i) p[i] = scale * normal(rng);
    return m;
  };
  const dnnl::memory src_plain = filled(src, Tag::nchw, 1.f);
  const dnnl::memory wei_plain = filled(wei, Tag::oihw, std::sqrt(2.f / (9.f * static_cast<float>(sh.channels))));
  const dnnl::memory bia_plain = filled(bia, Tag::x, 0.1f);
  dnnl::memory src_m(pd.src_desc(), eng), wei_m(pd.weights_desc(), eng), bia_m(pd.bias_desc(), eng),
      dst_m(pd.dst_desc(), eng);
  dnnl::reorder(src_plain, src_m).execute(s, const_cast<dnnl::memory&>(src_plain), src_m);
  dnnl::reorder(wei_plain, wei_m).execute(s, const_cast<dnnl::memory&>(wei_plain), wei_m);
  dnnl::reorder(bia_plain, bia_m).execute(s, const_cast<dnnl::memory&>(bia_plain), bia_m);
  dnnl::convolution_forward conv(pd);
  const std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, wei_m}, {DNNL_ARG_BIAS, bia_m}, {DNNL_ARG_DST, dst_m}};
  for (int i = 0; i < 5; ++i) conv.execute(s, args);
  s.wait();
  double best = 1e300;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) conv.execute(s, args);
    s.wait();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 20);
  }
  Result res;
  res.gflops = 2.0 * batch * sh.channels * sh.channels * sh.size * sh.size * 9 / best / 1e9;
  res.impl = pd.impl_info_str();
  dnnl::memory dst_plain({src, Type::f32, Tag::nchw}, eng);
  dnnl::reorder(dst_m, dst_plain).execute(s, dst_m, dst_plain);
  s.wait();
  const auto* p = static_cast<const float*>(dst_plain.get_data_handle());
  res.out.assign(p, p + dst_plain.get_desc().get_size() / sizeof(float));
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  int batch = 32;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 < argc && a == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (i + 1 < argc && a == "--batch") {
      batch = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: landscape-bench-conv [--threads N] [--batch B]\n");
      return 2;
    }
  }
  if (threads < 1 || threads > 4096 || batch < 1 || batch > 65536) {
    std::fprintf(stderr, "landscape-bench-conv: --threads must be 1..4096 and --batch 1..65536\n");
    return 2;
  }
  omp_set_num_threads(threads);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const std::vector<Shape> shapes = {{16, 28, 6}, {32, 14, 5}, {64, 7, 5}};
  std::printf("ResNet-20 (1x28x28) 3x3 stride-1 convolutions, batch %d, %d thread(s), float32, ReLU fused\n", batch,
              threads);
  std::printf("%-14s %-26s %9s %-26s %9s %8s %10s\n", "shape", "direct", "GFLOP/s", "winograd", "GFLOP/s", "speedup",
              "max diff");
  double direct_seconds = 0, wino_seconds = 0;  // a pass through all of them, per image
  for (const Shape& sh : shapes) {
    const Result d = Run(eng, s, batch, sh, algorithm::convolution_direct);
    const Result w = Run(eng, s, batch, sh, algorithm::convolution_winograd);
    const double flops = 2.0 * sh.channels * sh.channels * sh.size * sh.size * 9 * sh.per_model;
    direct_seconds += flops / (d.gflops * 1e9);
    char label[32];
    std::snprintf(label, sizeof label, "%dch %dx%d (x%d)", sh.channels, sh.size, sh.size, sh.per_model);
    if (w.gflops <= 0) {
      wino_seconds += flops / (d.gflops * 1e9);
      std::printf("%-14s %-26s %9.1f %-26s\n", label, d.impl.c_str(), d.gflops, "(not available)");
      continue;
    }
    wino_seconds += flops / (w.gflops * 1e9);
    double largest = 0, diff = 0;
    for (size_t i = 0; i < d.out.size(); ++i) {
      largest = std::max(largest, static_cast<double>(std::fabs(d.out[i])));
      diff = std::max(diff, static_cast<double>(std::fabs(d.out[i] - w.out[i])));
    }
    std::printf("%-14s %-26s %9.1f %-26s %9.1f %8.2f %10.1e\n", label, d.impl.c_str(), d.gflops, w.impl.c_str(),
                w.gflops, w.gflops / d.gflops, largest > 0 ? diff / largest : 0.0);
  }
  std::printf("all of them, one pass: winograd / direct speed-up %.2f\n", direct_seconds / wino_seconds);
  return 0;
}
