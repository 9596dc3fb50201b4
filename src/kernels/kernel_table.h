// The kernel table type, kept free of anything but plain declarations because ISA translation
// units (compiled with -mavx2, -mavx512f, ...) include it: an inline function they emitted could be
// merged by the linker into generic code and fault on an older CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loam/dtype.h"

namespace loam {

// y[r] = dot(W row r, x) for r in [0, n_rows). Rows of W are row_bytes apart and stored in the
// weight's file format; x holds n_cols activations in the format TypeKernels::act_type names
// (F32 for float weights; Q8_0 / Q8_K blocks for quantized weights).
using GemvFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                        int64_t n_cols, float* y);
// y + t * y_stride = W (x + t * x_stride) for n_tokens activation rows (same W as GemvFn); each
// token's results are bit-identical to a GemvFn call on it, so batching never changes output.
using GemmFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t n_rows, const void* x,
                        size_t x_stride, int n_tokens, int64_t n_cols, float* y, size_t y_stride);
// y[0..n) = sum over r < n_rows of a[r] * (row r)[0..n), rows row_bytes apart in a cache format
// (F32, F16, Q8_0), accumulated in row order; y is overwritten. Attention's P.V over a KV cache:
// one call per head instead of one per position.
using RowSumFn = void (*)(const float* a, const uint8_t* rows, size_t row_bytes, int64_t n_rows,
                          int64_t n, float* y);
// RowSumFn for n_heads weight rows at once (head h: a + h * a_stride, y + h * y_stride), each
// cache row loaded once for all heads: the query heads of a GQA group over their shared V rows.
// Every output is bit-identical to a RowSumFn call for its head.
using RowSumHeadsFn = void (*)(const float* a, size_t a_stride, int n_heads, const uint8_t* rows,
                               size_t row_bytes, int64_t n_rows, int64_t n, float* y, size_t y_stride);
// x[0..n) = softmax(scale * x[0..n)) in place: attention's scores of one query head. scale > 0
// (1 / sqrt(head_dim)): the AVX2 version pads its last vector with -inf before scaling.
using SoftmaxFn = void (*)(float* x, int64_t n, float scale);
// gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g): the feed-forward's activation. Each
// result depends on its own two inputs only (so not on how the rows are split among threads).
using SwigluFn = void (*)(float* gate, const float* up, int64_t n);
// The scale search of the Q4_K / Q5_K quantizers (quant/quant_k_llamacpp.cpp) for the 8
// sub-blocks of 32 of one super-block x[256]: writes scales[8], neg_mins[8] (minus each offset) and
// the codes L[256] in 0..nmax, each bit-identical to the scalar search of its sub-block.
using FitKSubBlocksFn = void (*)(const float* x, int nmax, float rmin, float rdelta, int nstep,
                                 float* scales, float* neg_mins, uint8_t* L);
// The scale search of the Q6_K quantizer for the 16 groups of 16 of one super-block x[256]:
// writes scales[16] and L[256] (code + nmax), each bit-identical to the scalar search of its group.
using FitQ6KGroupsFn = void (*)(const float* x, int nmax, float* scales, int8_t* L);
// Converts n f32 activations to an activation format (Q8_0, Q8_K); n is a multiple of its block.
using QuantizeActFn = void (*)(const float* x, void* out, int64_t n);

struct TypeKernels {
  GemvFn gemv = nullptr;         // nullptr: this weight type has no kernel on this path
  DType act_type = DType::F32;   // format gemv expects its activations in
  // Several activation rows over the file layout, each weight row loaded once for all of them,
  // bit-identical to gemv per row; nullptr: gemv once per activation row. A table that replaces
  // gemv drops a gemm it does not replace too.
  GemmFn gemm = nullptr;
  // The same product over weights in the type's interleaved layout (quant/interleave.h): `w` is
  // the start of a group, n_rows a multiple of kInterleaveRows, row_bytes the file layout's.
  // Where prefer_interleaved is set, results are bit-identical to this table's gemv on the file
  // layout; elsewhere it is the scalar one (exact to the scalar gemv), only there so that any
  // table can run a model interleaved for another.
  GemvFn gemv_interleaved = nullptr;
  // Several tokens at once over the interleaved layout (weights unpacked once for all), or nullptr
  // (then gemv_interleaved runs once per token).
  GemmFn gemm_interleaved = nullptr;
  // gemv_interleaved is faster than gemv here: load_model interleaves weights of this type.
  bool prefer_interleaved = false;
};

struct KernelTable {
  const char* isa = "scalar";
  TypeKernels weights[kDTypeCount];        // indexed by weight DType
  QuantizeActFn quantize_act[kDTypeCount] = {};  // indexed by act_type; unused for F32
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  // y[i] += a * x[i]
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n) = nullptr;
  RowSumFn row_sum[kDTypeCount] = {};  // indexed by KV cache type; nullptr: not a cache type
  RowSumHeadsFn row_sum_heads[kDTypeCount] = {};  // nullptr: row_sum once per head
  // The exponentials of the forward pass. Scalar: glibc's expf (model/ops.h); SIMD sets may use
  // their own vector exp, within a stated tolerance of it (test_kernels_activation).
  SoftmaxFn softmax = nullptr;
  SwigluFn swiglu = nullptr;
  FitKSubBlocksFn fit_k_sub_blocks = nullptr;  // nullptr: the scalar search, one sub-block at a time
  FitQ6KGroupsFn fit_q6_k_groups = nullptr;    // nullptr: the scalar search, one group at a time
  // out[i] = h[i] as F32 for n F16 values, bit for bit core/fp16.h's conversion (NaN payloads
  // included); nullptr: that conversion, one value at a time.
  void (*f16_to_f32)(const uint16_t* h, float* out, int64_t n) = nullptr;
};

// Each ISA fills in the entries it accelerates on top of a copy of the scalar table.
void register_scalar_float_kernels(KernelTable& table);
void register_scalar_quant_kernels(KernelTable& table);
void register_scalar_interleaved_kernels(KernelTable& table);
namespace avx2 {
void register_kernels(KernelTable& table);
}
namespace avx512 {
void register_kernels(KernelTable& table);
}
namespace neon {
void register_kernels(KernelTable& table);
}

}  // namespace loam
