// The machine's arithmetic limit, measured rather than taken from a data sheet: how many floating-point
// operations per second its cores sustain from registers, with the widest vector instructions they have.
// Benchmarks divide a model's achieved rate (its FLOPs per sample × samples per second) by this.
//
// No LibTorch here: the service benchmark uses it too.
#pragma once

#include <string>

namespace landscape::bench {

struct PeakRate {
  double gflops = 0;  // GFLOP/s summed over the threads; a multiply-add counts 2 FLOPs. 0 = not measured.
  std::string isa;    // the instructions used ("avx512f", "avx2+fma", "scalar", "avx512bf16"); empty if none
};

// float32 multiply-adds: `threads` threads (≥ 1) start together, each running independent FMA chains on
// its own registers for about `seconds`; the result is the sum of the threads' rates. Threads are not
// pinned: run it with the cores the benchmark itself would use.
PeakRate Fp32FmaPeak(int threads, double seconds);

// bfloat16 dot products accumulated in float32 (AVX512_BF16's vdpbf16ps: per float32 lane two products
// and two additions, 4 FLOPs), as above. gflops = 0 and isa empty where the CPU lacks them.
PeakRate Bf16DotPeak(int threads, double seconds);

}  // namespace landscape::bench
