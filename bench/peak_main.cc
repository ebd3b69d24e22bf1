// landscape-bench-peak: the machine's measured floating-point limit, the denominator of the
// "fraction of peak" numbers in bench/cpu.sh and bench/profile.sh.
//
//   landscape-bench-peak [--threads N] [--seconds S] [--json F]
//
// Prints the float32 FMA rate with 1 thread and with N (default: the cores this process may use), their
// ratio (the machine's own scaling from 1 to N cores: turbo clocks and a shared host lower it), and the
// bfloat16 dot-product rate where the CPU has AVX512_BF16.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "landscape/core/system.h"
#include "machine_peak.h"

int main(int argc, char** argv) {
  int threads = 0;
  double seconds = 1.0;
  std::string json;
  // Plain argument parsing: this tool also builds in the engine-only (GPU machine) configuration.
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc || (a != "--threads" && a != "--seconds" && a != "--json")) {
      std::fprintf(stderr, "usage: landscape-bench-peak [--threads N] [--seconds S] [--json FILE]\n");
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--threads") threads = std::atoi(v.c_str());
    if (a == "--seconds") seconds = std::atof(v.c_str());
    if (a == "--json") json = v;
  }
  if (threads < 0 || threads > 4096 || !(seconds >= 0.05 && seconds <= 60)) {
    std::fprintf(stderr, "landscape-bench-peak: --threads must be 0..4096 and --seconds 0.05..60\n");
    return 2;
  }
  if (threads == 0) threads = landscape::core::CoresOwned();

  using landscape::bench::PeakRate;
  const PeakRate one = landscape::bench::Fp32FmaPeak(1, seconds);
  const PeakRate all = landscape::bench::Fp32FmaPeak(threads, seconds);
  const PeakRate bf16 = landscape::bench::Bf16DotPeak(threads, seconds);
  std::printf("fp32_fma_gflops threads=1 value=%.1f isa=%s\n", one.gflops, one.isa.c_str());
  std::printf("fp32_fma_gflops threads=%d value=%.1f isa=%s\n", threads, all.gflops, all.isa.c_str());
  std::printf("fp32_fma_scaling threads=%d value=%.2f\n", threads, all.gflops / one.gflops);
  if (bf16.gflops > 0) std::printf("bf16_dot_gflops threads=%d value=%.1f isa=%s\n", threads, bf16.gflops, bf16.isa.c_str());
  if (!json.empty()) {
    nlohmann::json j = {{"threads", threads},
                        {"isa", all.isa},
                        {"fp32_gflops_1_thread", one.gflops},
                        {"fp32_gflops", all.gflops},
                        {"fp32_scaling", all.gflops / one.gflops},
                        {"bf16_gflops", bf16.gflops > 0 ? nlohmann::json(bf16.gflops) : nlohmann::json(nullptr)}};
    std::ofstream(json) << j.dump(2) << "\n";
  }
  return 0;
}
