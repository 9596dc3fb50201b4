// AVX-512 integer-dot kernels for quantized weights (none yet: the scalar ones stay in the table).
#include "kernels/kernel_table.h"

namespace loam {
namespace avx512 {

void register_quant_kernels(KernelTable& table) {}

}  // namespace avx512
}  // namespace loam
