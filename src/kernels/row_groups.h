// Row groups for the quantized kernels that compute 8 weight rows at once, one row per float lane
// (x86_avx2, x86_avx512), and the unaligned scalar loads they read block fields with. Plain C++ in an anonymous namespace: each ISA translation unit that
// includes it gets its own copy, compiled with its flags, which the linker never merges into
// generic code (see kernel_table.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace loam {
namespace {

constexpr int kRowLanes = 8;  // rows computed together, one per float lane

// Block fields are not aligned (blocks of 18, 34, 144 ... bytes): read them through memcpy.
inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Prefetches the part of the next row group that matches block range [off, off + block_bytes)
// of the current one, scaled by 8: the next group (8 consecutive rows, contiguous in memory) is
// swept once, front to back, while the current one is computed, so DRAM sees one sequential
// stream. The hardware prefetchers alone leave 8 slowly advancing row streams short of data:
// single-thread, DRAM-resident, 2048 columns, this took Q4_K from 6.5 to 15 GB/s, Q6_K from 5.7
// to 13.5, Q4_0 from 8.7 to 13 (read loop: 16-20 GB/s), and Q8_0 up 15-25% at 2 threads (AVX2,
// Zen 3). Into L2 only (locality 2, prefetcht1): a group of long rows can exceed L1, and T0
// measured no faster.
inline void prefetch_next_group(const uint8_t* next_group, size_t off, size_t block_bytes) {
  const uint8_t* p = next_group + kRowLanes * off;
  for (size_t l = 0; l < kRowLanes * block_bytes; l += 64) __builtin_prefetch(p + l, 0, 2);
}

// Row pointers of a group starting at row r0; rows past the end repeat the last row.
inline void group_rows(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t n_rows,
                       const uint8_t* rows[kRowLanes]) {
  for (int r = 0; r < kRowLanes; ++r) {
    const int64_t row = r0 + r < n_rows ? r0 + r : n_rows - 1;
    rows[r] = w + static_cast<size_t>(row) * row_bytes;
  }
}

}  // namespace
}  // namespace loam
