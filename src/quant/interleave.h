// Row-interleaved weight layouts, built once at load time for kernels that compute 8 rows at once.
//
// In the file layout each row's blocks are contiguous, so a kernel working on 8 rows reads 8
// streams, gathers the 8 rows' scales one by one and transposes its 8 per-row sums every block.
// The interleaved layout stores, for each group of 8 rows and each block column, the 8 rows'
// pieces of that block side by side, in the order the kernel consumes them.
//
// Q4_0 x 8 (the only interleaved type so far): per group and block column, 144 bytes
//   [0, 16)    the 8 rows' f16 scales d, row r at byte 2r (one load converts all 8)
//   [16, 144)  four 32-byte chunks: chunk i holds code bytes qs[4i .. 4i+3] of rows 0..7, row r at
//              byte 4r, i.e. elements 4i..4i+3 (low nibbles) and 16+4i..16+4i+3 (high nibbles)
//              of every row, one row per 32-bit lane.
// A group takes exactly the bytes of its 8 rows in the file layout (8 x 18 per block column), so
// group g starts at byte g * 8 * row_bytes in either layout.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loam/dtype.h"

namespace loam {

constexpr int kInterleaveRows = 8;

// Whether `type` has an interleaved layout (Q4_0).
bool has_interleaved_layout(DType type);

// Rewrites n_groups groups of 8 consecutive rows (row_bytes apart, file layout) at `src` into the
// interleaved layout at `dst` (n_groups * 8 * row_bytes bytes; must not overlap src).
void interleave_rows(DType type, const uint8_t* src, size_t row_bytes, int64_t n_groups,
                     uint8_t* dst);

// Row r (0..7) of one interleaved group, back in the file layout (row_bytes bytes at `row_out`).
void deinterleave_row(DType type, const uint8_t* group, size_t row_bytes, int r, uint8_t* row_out);

}  // namespace loam
