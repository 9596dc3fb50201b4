#include "kernels/kernel_table.h"

namespace loam {

// Registers the scalar integer-dot kernels of the quantized weight types. None yet: until they
// land, files with quantized tensors are refused at load.
void register_scalar_quant_kernels(KernelTable& table) {}

}  // namespace loam
