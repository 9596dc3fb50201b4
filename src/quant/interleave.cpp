#include "quant/interleave.h"

#include <cstring>

#include "quant/blocks.h"
#include "quant/k_scales.h"

namespace loam {

namespace {

constexpr int kRows = kInterleaveRows;

// --- Q4_0 ----------------------------------------------------------------------------------------
constexpr size_t kQ4_0Scales = 2 * kRows;   // 8 f16 scales
constexpr size_t kRunBytes = 4 * kRows;     // 4 code bytes of each of 8 rows
constexpr int kQ4_0Runs = (kQK / 2) / 4;    // 16 code bytes per row = 4 runs
constexpr size_t kQ4_0Column = kRows * sizeof(BlockQ4_0);
static_assert(kQ4_0Scales + kQ4_0Runs * kRunBytes == kQ4_0Column, "Q4_0 x 8 column size");

// --- Q8_0 ----------------------------------------------------------------------------------------
constexpr size_t kQ8_0Scales = 2 * kRows;
constexpr int kQ8_0Runs = kQK / 4;  // 32 code bytes per row = 8 runs
constexpr size_t kQ8_0Column = kRows * sizeof(BlockQ8_0);
static_assert(kQ8_0Scales + kQ8_0Runs * 4 * kRows == kQ8_0Column, "Q8_0 x 8 column size");

void column_q8_0(const uint8_t* const blocks[kRows], uint8_t* out) {
  for (int r = 0; r < kRows; ++r) {
    std::memcpy(out + 2 * r, blocks[r] + offsetof(BlockQ8_0, d), 2);
    for (int i = 0; i < kQ8_0Runs; ++i)
      std::memcpy(out + kQ8_0Scales + i * 4 * kRows + 4 * r, blocks[r] + offsetof(BlockQ8_0, qs) + 4 * i, 4);
  }
}

void uncolumn_q8_0(const uint8_t* in, int r, uint8_t* block) {
  std::memcpy(block + offsetof(BlockQ8_0, d), in + 2 * r, 2);
  for (int i = 0; i < kQ8_0Runs; ++i)
    std::memcpy(block + offsetof(BlockQ8_0, qs) + 4 * i, in + kQ8_0Scales + i * 4 * kRows + 4 * r, 4);
}

// --- Q4_K ----------------------------------------------------------------------------------------
constexpr size_t kQ4_KDmin = 2 * kRows;
constexpr size_t kQ4_KScales = 4 * kRows;
constexpr size_t kQ4_KMins = kQ4_KScales + 8 * kRows;
constexpr size_t kQ4_KCodes = kQ4_KMins + 8 * kRows;
constexpr int kQ4_KRuns = (kQKK / 2) / 4;  // 128 code bytes per row = 32 runs
constexpr size_t kQ4_KColumn = kQ4_KCodes + kQ4_KRuns * kRunBytes;
static_assert(kQ4_KColumn == 1184, "Q4_K x 8 column size (documented in interleave.h)");

void column_q4_0(const uint8_t* const blocks[kRows], uint8_t* out) {
  for (int r = 0; r < kRows; ++r) {
    std::memcpy(out + 2 * r, blocks[r] + offsetof(BlockQ4_0, d), 2);
    for (int i = 0; i < kQ4_0Runs; ++i)
      std::memcpy(out + kQ4_0Scales + i * kRunBytes + 4 * r, blocks[r] + offsetof(BlockQ4_0, qs) + 4 * i, 4);
  }
}

void uncolumn_q4_0(const uint8_t* in, int r, uint8_t* block) {
  std::memcpy(block + offsetof(BlockQ4_0, d), in + 2 * r, 2);
  for (int i = 0; i < kQ4_0Runs; ++i)
    std::memcpy(block + offsetof(BlockQ4_0, qs) + 4 * i, in + kQ4_0Scales + i * kRunBytes + 4 * r, 4);
}

// --- Q5_K: Q4_K's head, then the fifth bits, then the codes ----------------------------------------
constexpr size_t kQ5_KHigh = kQ4_KCodes;  // 160
constexpr size_t kQ5_KCodes = kQ5_KHigh + 8 * kRunBytes;
constexpr size_t kQ5_KColumn = kQ5_KCodes + kQ4_KRuns * kRunBytes;
static_assert(kQ5_KColumn == 1440, "Q5_K x 8 column size (documented in interleave.h)");

// Q4_K (kFifth false) and Q5_K (true) share the head: d, dmin, unpacked scales and mins; Q5_K
// adds the fifth-bit runs before the code runs.
template <class Block, bool kFifth>
void column_k(const uint8_t* const blocks[kRows], uint8_t* out) {
  constexpr size_t codes = kFifth ? kQ5_KCodes : kQ4_KCodes;
  for (int r = 0; r < kRows; ++r) {
    const uint8_t* b = blocks[r];
    std::memcpy(out + 2 * r, b + offsetof(Block, d), 2);
    std::memcpy(out + kQ4_KDmin + 2 * r, b + offsetof(Block, dmin), 2);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      k_scale_min(j, b + offsetof(Block, scales), sc, m);
      out[kQ4_KScales + 8 * j + r] = static_cast<uint8_t>(sc);
      out[kQ4_KMins + 16 * (j / 2) + 2 * r + (j % 2)] = static_cast<uint8_t>(m);
    }
    if constexpr (kFifth) {
      for (int i = 0; i < 8; ++i)
        std::memcpy(out + kQ5_KHigh + i * kRunBytes + 4 * r, b + offsetof(Block, qh) + 4 * i, 4);
    }
    for (int run = 0; run < kQ4_KRuns; ++run)
      std::memcpy(out + codes + run * kRunBytes + 4 * r, b + offsetof(Block, qs) + 4 * run, 4);
  }
}

template <class Block, bool kFifth>
void uncolumn_k(const uint8_t* in, int r, uint8_t* block) {
  constexpr size_t codes = kFifth ? kQ5_KCodes : kQ4_KCodes;
  std::memcpy(block + offsetof(Block, d), in + 2 * r, 2);
  std::memcpy(block + offsetof(Block, dmin), in + kQ4_KDmin + 2 * r, 2);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = in[kQ4_KScales + 8 * j + r];
    m[j] = in[kQ4_KMins + 16 * (j / 2) + 2 * r + (j % 2)];
  }
  // Every bit of the 12 packed bytes holds one bit of one scale or min, so this restores them.
  pack_k_scales(sc, m, block + offsetof(Block, scales));
  if constexpr (kFifth) {
    for (int i = 0; i < 8; ++i)
      std::memcpy(block + offsetof(Block, qh) + 4 * i, in + kQ5_KHigh + i * kRunBytes + 4 * r, 4);
  }
  for (int run = 0; run < kQ4_KRuns; ++run)
    std::memcpy(block + offsetof(Block, qs) + 4 * run, in + codes + run * kRunBytes + 4 * r, 4);
}

// --- Q6_K: d, the scales by pairs, then per half h and 4-element step i the runs of the two low-bit
// byte ranges and of the high bits ------------------------------------------------------------------
constexpr size_t kQ6_KScales = 2 * kRows;
constexpr size_t kQ6_KCodes = kQ6_KScales + 16 * kRows;
constexpr int kQ6_KSteps = 16;  // (half h, step i): 2 x 8, three runs each
constexpr size_t kQ6_KColumn = kQ6_KCodes + kQ6_KSteps * 3 * kRunBytes;
static_assert(kQ6_KColumn == kRows * sizeof(BlockQ6_K), "Q6_K x 8 column size");

// The three file offsets step s = 8h + i reads 4 bytes from: ql[64h + 4i], ql[64h + 32 + 4i] and
// qh[32h + 4i].
void q6_k_step_sources(int s, size_t src[3]) {
  const int h = s / 8, i = s % 8;
  src[0] = offsetof(BlockQ6_K, ql) + 64 * h + 4 * i;
  src[1] = offsetof(BlockQ6_K, ql) + 64 * h + 32 + 4 * i;
  src[2] = offsetof(BlockQ6_K, qh) + 32 * h + 4 * i;
}

void column_q6_k(const uint8_t* const blocks[kRows], uint8_t* out) {
  for (int r = 0; r < kRows; ++r) {
    const uint8_t* b = blocks[r];
    std::memcpy(out + 2 * r, b + offsetof(BlockQ6_K, d), 2);
    for (int p = 0; p < 8; ++p)
      std::memcpy(out + kQ6_KScales + 16 * p + 2 * r, b + offsetof(BlockQ6_K, scales) + 2 * p, 2);
    for (int s = 0; s < kQ6_KSteps; ++s) {
      size_t src[3];
      q6_k_step_sources(s, src);
      for (int k = 0; k < 3; ++k) std::memcpy(out + kQ6_KCodes + (3 * s + k) * kRunBytes + 4 * r, b + src[k], 4);
    }
  }
}

void uncolumn_q6_k(const uint8_t* in, int r, uint8_t* block) {
  std::memcpy(block + offsetof(BlockQ6_K, d), in + 2 * r, 2);
  for (int p = 0; p < 8; ++p)
    std::memcpy(block + offsetof(BlockQ6_K, scales) + 2 * p, in + kQ6_KScales + 16 * p + 2 * r, 2);
  for (int s = 0; s < kQ6_KSteps; ++s) {
    size_t src[3];
    q6_k_step_sources(s, src);
    for (int k = 0; k < 3; ++k) std::memcpy(block + src[k], in + kQ6_KCodes + (3 * s + k) * kRunBytes + 4 * r, 4);
  }
}

struct Layout {
  size_t block_bytes;   // file layout
  size_t column_bytes;  // interleaved, per block column of a group
  int block_elements;
  void (*column)(const uint8_t* const blocks[kRows], uint8_t* out);
  void (*uncolumn)(const uint8_t* in, int r, uint8_t* block);
};

const Layout* layout_of(DType type) {
  static const Layout q8_0{sizeof(BlockQ8_0), kQ8_0Column, kQK, column_q8_0, uncolumn_q8_0};
  static const Layout q4_0{sizeof(BlockQ4_0), kQ4_0Column, kQK, column_q4_0, uncolumn_q4_0};
  static const Layout q4_k{sizeof(BlockQ4_K), kQ4_KColumn, kQKK, column_k<BlockQ4_K, false>,
                          uncolumn_k<BlockQ4_K, false>};
  static const Layout q5_k{sizeof(BlockQ5_K), kQ5_KColumn, kQKK, column_k<BlockQ5_K, true>,
                          uncolumn_k<BlockQ5_K, true>};
  static const Layout q6_k{sizeof(BlockQ6_K), kQ6_KColumn, kQKK, column_q6_k, uncolumn_q6_k};
  switch (type) {
    case DType::Q8_0: return &q8_0;
    case DType::Q4_0: return &q4_0;
    case DType::Q4_K: return &q4_k;
    case DType::Q5_K: return &q5_k;
    case DType::Q6_K: return &q6_k;
    default: return nullptr;
  }
}

}  // namespace

bool has_interleaved_layout(DType type) { return layout_of(type) != nullptr; }

size_t interleaved_group_bytes(DType type, int64_t n_cols) {
  const Layout* l = layout_of(type);
  return l ? static_cast<size_t>(n_cols / l->block_elements) * l->column_bytes : 0;
}

void interleave_rows(DType type, const uint8_t* src, int64_t n_cols, int64_t n_groups,
                     uint8_t* dst) {
  const Layout* l = layout_of(type);
  if (l == nullptr) return;
  const int64_t n_blocks = n_cols / l->block_elements;
  const size_t row_bytes = static_cast<size_t>(n_blocks) * l->block_bytes;
  for (int64_t g = 0; g < n_groups; ++g) {
    const uint8_t* rows = src + static_cast<size_t>(g) * kRows * row_bytes;
    uint8_t* out = dst + static_cast<size_t>(g) * n_blocks * l->column_bytes;
    for (int64_t b = 0; b < n_blocks; ++b, out += l->column_bytes) {
      const uint8_t* blocks[kRows];
      for (int r = 0; r < kRows; ++r) blocks[r] = rows + r * row_bytes + b * l->block_bytes;
      l->column(blocks, out);
    }
  }
}

void deinterleave_row(DType type, const uint8_t* group, int64_t n_cols, int r, uint8_t* row_out) {
  const Layout* l = layout_of(type);
  if (l == nullptr) return;
  const int64_t n_blocks = n_cols / l->block_elements;
  for (int64_t b = 0; b < n_blocks; ++b)
    l->uncolumn(group + b * l->column_bytes, r, row_out + b * l->block_bytes);
}

}  // namespace loam
