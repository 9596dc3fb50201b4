// The NEON kernel table: float kernels for every AArch64 CPU, and the quantized kernels chosen
// here, at run time, by whether the CPU has the dot-product extension. Only this choice may call
// into quant_kernels_dotprod.cpp (compiled with +dotprod).
#include "core/cpu_features.h"
#include "kernels/arm_neon/register.h"

namespace loam {
namespace neon {

void register_kernels(KernelTable& table) {
  register_float_kernels(table);
  register_k_scale_search(table);
  if (cpu_features().neon_dotprod)
    register_quant_kernels_dotprod(table);
  else
    register_quant_kernels_widen(table);
}

}  // namespace neon
}  // namespace loam
