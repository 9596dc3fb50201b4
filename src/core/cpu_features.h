// What the CPU (and the OS, for AVX/AVX-512 register state) can run, read once.
#pragma once

#include <cstdint>
#include <string>

namespace loam {

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avx_vnni = false;
  bool neon = false, neon_dotprod = false, neon_fp16 = false;

  // "avx2 fma f16c avx512f ..." for --version and `loam info --cpu`.
  std::string describe() const;
};

const CpuFeatures& cpu_features();

// The CPU's model name as the OS reports it ("AMD EPYC 9554 64-Core Processor"), or "unknown".
std::string cpu_model_name();

}  // namespace loam
