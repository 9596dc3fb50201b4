// Shared checks of SIMD kernel tables against the scalar table (kernel_checks_float.h,
// kernel_checks_quant.h), and the SIMD ISAs this CPU runs.
#pragma once

#include <vector>

#include "kernel_checks_float.h"
#include "kernel_checks_quant.h"
#include "kernels/kernels.h"

namespace kernel_checks {

inline std::vector<loam::Isa> simd_isas() {
  std::vector<loam::Isa> out;
  for (loam::Isa isa : {loam::Isa::Avx2, loam::Isa::Avx512, loam::Isa::Neon})
    if (loam::isa_supported(isa)) out.push_back(isa);
  return out;
}

}  // namespace kernel_checks
