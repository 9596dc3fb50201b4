// The 12-byte packing of Q4_K / Q5_K sub-block scales: eight 6-bit scales sc[0..7] and eight
// 6-bit mins m[0..7]. Sub-blocks 0..3 keep all six bits in bytes 0..3 (sc) and 4..7 (m); the low
// four bits of sub-blocks 4..7 share bytes 8..11 (sc low nibble, m high nibble) and their top two
// bits ride in the otherwise unused bits 6..7 of bytes 0..3 (sc) and 4..7 (m).
#pragma once

#include <cstdint>

namespace loam {

// static: SIMD translation units may include this header, and an inline function they compiled
// with their ISA flags must never be merged by the linker into generic code.
static inline void k_scale_min(int j, const uint8_t* packed, int& sc, int& m) {
  if (j < 4) {
    sc = packed[j] & 63;
    m = packed[j + 4] & 63;
  } else {
    sc = (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4);
    m = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

// sc[j], m[j] in [0, 63].
static inline void pack_k_scales(const uint8_t sc[8], const uint8_t m[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4));
  }
}

}  // namespace loam
