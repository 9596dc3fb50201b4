// Small UTF-8 helpers shared by the tokenizer (splitting text into characters) and the stream
// decoder (holding back an incomplete trailing character).
#pragma once

#include <cstddef>
#include <cstdint>

namespace loam {
namespace utf8 {

// Length of the sequence a byte starts, judged from its top four bits alone (as the SentencePiece
// tokenizer of llama.cpp splits text): continuation and invalid bytes count as one-byte
// characters, so no input is ever dropped.
inline size_t sequence_length_from_lead(uint8_t lead) {
  static const uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[lead >> 4];
}

// Strict length of a well-formed sequence starting with `lead` (RFC 3629): 1..4, or 0 when the
// byte can never start a valid character (continuation byte, C0, C1, F5..FF).
inline size_t strict_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

inline bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Allowed range of the second byte after `lead`; the narrow ranges exclude overlong forms,
// UTF-16 surrogates (ED A0..BF) and code points above U+10FFFF.
inline bool second_byte_ok(uint8_t lead, uint8_t b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return is_continuation(b);
  }
}

}  // namespace utf8
}  // namespace loam
