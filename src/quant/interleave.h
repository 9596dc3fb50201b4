// Row-interleaved weight layouts, built once at load time for kernels that compute 8 rows at once.
//
// In the file layout each row's blocks are contiguous, so a kernel working on 8 rows reads 8
// streams, gathers the 8 rows' scales one by one and transposes its 8 per-row sums every block.
// The interleaved layouts store, for each group of 8 rows and each block column, the 8 rows'
// pieces of that block side by side, in the order the kernel consumes them: 4 code bytes of each
// row per 32-byte run, one row per 32-bit lane, and the rows' scales next to each other.
//
// Q4_0 x 8: per group and block column, 144 bytes (the same as the 8 blocks in the file)
//   [0, 16)    the 8 rows' f16 scales d, row r at byte 2r (one load converts all 8)
//   [16, 144)  four 32-byte runs: run i holds code bytes qs[4i .. 4i+3] of rows 0..7, row r at
//              byte 4r, i.e. elements 4i..4i+3 (low nibbles) and 16+4i..16+4i+3 (high nibbles).
// Q8_0 x 8: per group and block column, 272 bytes (the same as the 8 blocks)
//   [0, 16)    the 8 rows' f16 scales d, row r at byte 2r
//   [16, 272)  eight 32-byte runs: run i holds qs[4i .. 4i+3] of rows 0..7, row r at byte 4r.
// Q4_K x 8: per group and super-block column, 1184 bytes (32 more than the 8 blocks: the 6-bit
// sub-block scales and mins are stored unpacked, one byte each, so the kernel need not unpack and
// transpose them for every row)
//   [0, 16)      f16 d of rows 0..7          [16, 32)   f16 dmin of rows 0..7
//   [32, 96)     scale of sub-block j of row r at 32 + 8j + r
//   [96, 160)    mins, by sub-block pairs p: m_2p of row r at 96 + 16p + 2r, m_2p+1 at +1
//   [160, 1184)  32 runs of 32 bytes: run 8c + i holds qs[32c + 4i .. +3] of rows 0..7, row r at
//                byte 4r: elements 4i..4i+3 of sub-block 2c (low nibbles) and 2c+1 (high).
// Q5_K x 8: per group and super-block column, 1440 bytes (32 more than the 8 blocks)
//   [0, 160)     d, dmin, unpacked scales and mins as in Q4_K x 8
//   [160, 416)   8 runs of 32 bytes: run i holds qh[4i .. +3] of rows 0..7 (row r at byte 4r): bit j
//                of each byte is the fifth bit of that element of sub-block j
//   [416, 1440)  32 runs of 32 bytes laid out like Q4_K x 8's codes.
// Q6_K x 8: per group and super-block column, 1680 bytes (the same as the 8 blocks)
//   [0, 16)      f16 d of rows 0..7
//   [16, 144)    the int8 scales by pairs p: scales[2p] of row r at 16 + 16p + 2r, scales[2p+1] at +1
//   [144, 1680)  16 steps s = 8h + i (half h, i = 0..7) of three 32-byte runs, row r at byte 4r of
//                each: ql[64h + 4i .. +3], ql[64h + 32 + 4i .. +3], qh[32h + 4i .. +3]. Together
//                they hold elements 128h + 32k + 4i .. +3 for k = 0..3 (the file's bit positions:
//                low nibbles of the first run for k = 0, of the second for k = 1, high nibbles
//                for k = 2, 3; bits 2k, 2k+1 of the third run's bytes are the high bits).
#pragma once

#include <cstddef>
#include <cstdint>

#include "loam/dtype.h"

namespace loam {

constexpr int kInterleaveRows = 8;

// Whether `type` has an interleaved layout (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K).
bool has_interleaved_layout(DType type);

// Bytes of one interleaved group of 8 rows of n_cols elements (a multiple of the block size).
size_t interleaved_group_bytes(DType type, int64_t n_cols);

// Rewrites n_groups groups of 8 consecutive rows of n_cols elements (file layout, row_bytes
// apart) at `src` into the interleaved layout at `dst` (n_groups * interleaved_group_bytes bytes,
// not overlapping src).
void interleave_rows(DType type, const uint8_t* src, int64_t n_cols, int64_t n_groups,
                     uint8_t* dst);

// Row r (0..7) of one interleaved group, back in the file layout (one row of n_cols elements).
void deinterleave_row(DType type, const uint8_t* group, int64_t n_cols, int r, uint8_t* row_out);

}  // namespace loam
