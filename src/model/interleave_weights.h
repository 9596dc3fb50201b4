// Copies the matmul weights whose kernels prefer an interleaved layout (TypeKernels::
// prefer_interleaved in the kernel table in use) into that layout, once, at load time.
#pragma once

#include <cstdint>

#include "loam/model.h"
#include "loam/status.h"

namespace loam {

// Sets Tensor::interleaved for every such weight of `m` (the layers' projections and the output
// matrix) and Model::interleaved_bytes; the copied rows' pages of the mapping are released. Fails
// only when the memory for a copy cannot be allocated.
Status interleave_weights(Model& m);

// The bytes interleave_weights(m) would allocate with the kernel table in use, so a caller can
// check them against the memory available before loading commits to them.
uint64_t interleaved_weight_bytes(const Model& m);

}  // namespace loam
