// Quantized block layouts, byte for byte as GGUF files (ggml) store them. Every struct is a plain
// sequence of little-endian fields with no padding (checked below), so a row of blocks can be read
// straight from the mapped file. Half-precision fields are raw IEEE binary16 bits (core/fp16.h).
//
// Value of element i, by type (q = the stored integer of that element):
//   Q8_0  d*q                         q int8
//   Q4_0  d*(q - 8)                   q in [0,15]: low nibbles are elements 0..15, high 16..31
//   Q4_1  d*q + m                     q in [0,15]: same nibble order as Q4_0
//   Q5_0  d*(q - 16)                  q in [0,31]: low 4 bits as Q4_0, bit 4 = bit i of qh (LE u32)
//   Q5_1  d*q + m                     q in [0,31]: same bit order as Q5_0
//   Q4_K  d*sc[j]*q - dmin*m[j]       j = i/32; q in [0,15]; 6-bit sc/m packed (quant/k_scales.h);
//                                     each 64-element chunk c uses qs[32c..32c+31]: low nibbles
//                                     are its first 32 elements, high nibbles the next 32
//   Q5_K  as Q4_K with q in [0,31]    bit 4 of element 64c+l is qh[l] bit 2c, of 64c+32+l bit 2c+1
//   Q6_K  d*scales[i/16]*(q - 32)     q in [0,63]; per 128-element half h and l in [0,32):
//                                     element 128h+32k+l has low 4 bits from ql[64h + l + 32*(k&1)]
//                                     (low nibble for k<2, high for k>=2) and high 2 bits from
//                                     qh[32h + l] bits 2k..2k+1
//   Q8_K  d*q                         d is f32; bsums[g] = sum of q over elements 16g..16g+15
#pragma once

#include <cstdint>

namespace loam {

constexpr int kQK = 32;    // elements per block of the 32-element types (Q8_0, Q4_0, ...)
constexpr int kQKK = 256;  // elements per super-block of the K types (Q4_K, ..., Q8_K)

struct BlockQ8_0 {
  uint16_t d;          // f16 scale
  int8_t qs[kQK];
};

struct BlockQ4_0 {
  uint16_t d;          // f16 scale
  uint8_t qs[kQK / 2]; // element j in the low nibble of qs[j], element j+16 in the high nibble
};

struct BlockQ4_1 {
  uint16_t d;          // f16 scale
  uint16_t m;          // f16 offset (the block minimum)
  uint8_t qs[kQK / 2];
};

struct BlockQ5_0 {
  uint16_t d;          // f16 scale
  uint8_t qh[4];       // bit j (little-endian u32) = bit 4 of element j
  uint8_t qs[kQK / 2];
};

struct BlockQ5_1 {
  uint16_t d;          // f16 scale
  uint16_t m;          // f16 offset
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

constexpr int kKScaleBytes = 12;  // eight 6-bit scales + eight 6-bit mins

struct BlockQ4_K {
  uint16_t d;                     // f16 super-scale of the 6-bit sub-block scales
  uint16_t dmin;                  // f16 super-scale of the 6-bit sub-block mins
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQKK / 2];
};

struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQKK / 8];           // fifth bits
  uint8_t qs[kQKK / 2];           // low 4 bits
};

struct BlockQ6_K {
  uint8_t ql[kQKK / 2];           // low 4 bits
  uint8_t qh[kQKK / 4];           // high 2 bits
  int8_t scales[kQKK / 16];       // one signed 8-bit scale per 16 elements
  uint16_t d;                     // f16 super-scale
};

// Activations only (never stored in files): the partner of the K types in dot products.
struct BlockQ8_K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];       // sums of qs in groups of 16, for the K types' min terms
};

static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes");
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must be 18 bytes");
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 block must be 20 bytes");
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 block must be 22 bytes");
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 block must be 24 bytes");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K block must be 144 bytes");
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K block must be 176 bytes");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K block must be 210 bytes");
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K block must be 292 bytes");
// Blocks sit back to back in a row (18-byte Q4_0 blocks, ...): no field may need more than
// 2-byte alignment, except Q8_K which lives only in our own aligned buffers.
static_assert(alignof(BlockQ4_0) == 2 && alignof(BlockQ6_K) == 2 && alignof(BlockQ4_K) == 2,
              "file blocks must be 2-byte aligned");

}  // namespace loam
