#include "machine_peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LANDSCAPE_BENCH_X86 1
#endif

namespace landscape::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Every kernel runs `iterations` rounds over kChains independent accumulators and returns the FLOPs it
// did; the accumulators go to a sink so the compiler keeps the work. kChains exceeds FMA latency ×
// FMA ports on current cores (4 cycles × 2 ports), so the ports, not the dependency chains, set the rate.
constexpr int kChains = 12;
volatile float g_sink = 0;

double ScalarKernel(int64_t iterations) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = static_cast<float>(i);
  const float b = 1.0000001f, c = 1e-7f;
  for (int64_t k = 0; k < iterations; ++k) {
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * b + c;
  }
  float s = 0;
  for (float a : acc) s += a;
  g_sink = s;
  return 2.0 * kChains * static_cast<double>(iterations);
}

#ifdef LANDSCAPE_BENCH_X86
__attribute__((target("avx2,fma"))) double Avx2Kernel(int64_t iterations) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
  }
  float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_storeu_ps(out, s);
  g_sink = out[0];
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}

// Keeps the accumulators' work observable (sums them into g_sink).
__attribute__((target("avx512f"))) void Sink512(const __m512* acc) {
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  g_sink = out[0];
}

__attribute__((target("avx512f"))) double Avx512Kernel(int64_t iterations) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
  }
  Sink512(acc);
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

__attribute__((target("avx512f,avx512bf16"))) double Bf16Kernel(int64_t iterations) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  // 1.0 and a tiny value in bfloat16, as raw bits: the products stay finite.
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80);
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3380);
  for (int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  }
  Sink512(acc);
  return 4.0 * 16 * kChains * static_cast<double>(iterations);  // per instruction: 32 products, 32 additions
}
#endif

using Kernel = double (*)(int64_t);

// Runs `kernel` on `threads` threads released together, each for about `seconds` in chunks; the sum of
// the threads' own rates.
double Measure(Kernel kernel, int threads, double seconds) {
  threads = std::max(1, threads);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> rates(static_cast<size_t>(threads), 0.0);
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      kernel(1000);  // warm up: clocks and the code page
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const auto start = Clock::now();
      double flops = 0, elapsed = 0;
      do {
        flops += kernel(200000);
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      } while (elapsed < seconds);
      rates[static_cast<size_t>(t)] = flops / elapsed / 1e9;
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  double sum = 0;
  for (double r : rates) sum += r;
  return sum;
}

}  // namespace

PeakRate Fp32FmaPeak(int threads, double seconds) {
#ifdef LANDSCAPE_BENCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {Measure(Avx512Kernel, threads, seconds), "avx512f"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return {Measure(Avx2Kernel, threads, seconds), "avx2+fma"};
  }
#endif
  return {Measure(ScalarKernel, threads, seconds), "scalar"};
}

PeakRate Bf16DotPeak(int threads, double seconds) {
#ifdef LANDSCAPE_BENCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16")) {
    return {Measure(Bf16Kernel, threads, seconds), "avx512bf16"};
  }
#endif
  (void)threads;
  (void)seconds;
  return {};
}

}  // namespace landscape::bench
