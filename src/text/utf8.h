// Small UTF-8 helpers shared by the tokenizer (splitting text into characters), the stream
// decoder (holding back an incomplete trailing character) and the JSON reader (\u escapes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace loam {
namespace utf8 {

// Appends code point cp (at most U+10FFFF; the caller checks) as 1 to 4 UTF-8 bytes.
inline void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
    return;
  }
  const int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  static constexpr unsigned kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  out += static_cast<char>(kLead[n] | (cp >> (6 * (n - 1))));
  for (int i = n - 2; i >= 0; --i) out += static_cast<char>(0x80 | ((cp >> (6 * i)) & 0x3F));
}

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
