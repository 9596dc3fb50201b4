#include "quant/interleave.h"

#include <cstring>

#include "quant/blocks.h"

namespace loam {

namespace {

constexpr size_t kScaleBytes = 2 * kInterleaveRows;     // 8 f16 scales
constexpr size_t kChunkBytes = 4 * kInterleaveRows;     // 4 code bytes of each of 8 rows
constexpr int kChunks = (kQK / 2) / 4;                  // 16 code bytes per row = 4 chunks
static_assert(kScaleBytes + kChunks * kChunkBytes == kInterleaveRows * sizeof(BlockQ4_0),
              "an interleaved Q4_0 group column takes the bytes of its 8 blocks");

}  // namespace

bool has_interleaved_layout(DType type) { return type == DType::Q4_0; }

void interleave_rows(DType type, const uint8_t* src, size_t row_bytes, int64_t n_groups,
                     uint8_t* dst) {
  if (type != DType::Q4_0) return;
  const int64_t n_blocks = static_cast<int64_t>(row_bytes / sizeof(BlockQ4_0));
  const size_t column_bytes = kInterleaveRows * sizeof(BlockQ4_0);
  for (int64_t g = 0; g < n_groups; ++g) {
    const uint8_t* rows = src + static_cast<size_t>(g) * kInterleaveRows * row_bytes;
    uint8_t* out = dst + static_cast<size_t>(g) * kInterleaveRows * row_bytes;
    for (int64_t b = 0; b < n_blocks; ++b, out += column_bytes) {
      for (int r = 0; r < kInterleaveRows; ++r) {
        const uint8_t* block = rows + r * row_bytes + static_cast<size_t>(b) * sizeof(BlockQ4_0);
        std::memcpy(out + 2 * r, block + offsetof(BlockQ4_0, d), 2);
        for (int i = 0; i < kChunks; ++i)
          std::memcpy(out + kScaleBytes + i * kChunkBytes + 4 * r, block + offsetof(BlockQ4_0, qs) + 4 * i, 4);
      }
    }
  }
}

void deinterleave_row(DType type, const uint8_t* group, size_t row_bytes, int r, uint8_t* row_out) {
  if (type != DType::Q4_0) return;
  const int64_t n_blocks = static_cast<int64_t>(row_bytes / sizeof(BlockQ4_0));
  const size_t column_bytes = kInterleaveRows * sizeof(BlockQ4_0);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* in = group + static_cast<size_t>(b) * column_bytes;
    uint8_t* block = row_out + static_cast<size_t>(b) * sizeof(BlockQ4_0);
    std::memcpy(block + offsetof(BlockQ4_0, d), in + 2 * r, 2);
    for (int i = 0; i < kChunks; ++i)
      std::memcpy(block + offsetof(BlockQ4_0, qs) + 4 * i, in + kScaleBytes + i * kChunkBytes + 4 * r, 4);
  }
}

}  // namespace loam
