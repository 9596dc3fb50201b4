// The pieces neon::register_kernels (kernel_table.h) assembles, declared for tests that want the
// quantized kernels of both paths whatever the CPU reports (the dotprod one only runs where the
// CPU has dotprod).
#pragma once

#include "kernels/kernel_table.h"

namespace loam {
namespace neon {

void register_float_kernels(KernelTable& table);          // float_kernels.cpp: F32/F16/BF16, dot, axpy
void register_quant_kernels_widen(KernelTable& table);    // quant_kernels.cpp: ARMv8.0 (SMULL+SADALP)
void register_quant_kernels_dotprod(KernelTable& table);  // quant_kernels_dotprod.cpp: SDOT
void register_k_scale_search(KernelTable& table);         // k_scale_search.cpp: K quantizers' search

}  // namespace neon
}  // namespace loam
