// StreamDecoder: prints generated tokens without ever cutting a UTF-8 character in half, even
// when a character arrives as several byte tokens (<0xE2><0x96><0x81>).
#include "loam/tokenizer.h"
#include "text/utf8.h"

namespace loam {

namespace {

// Bytes at the end of `s` that begin a well-formed character still missing its last bytes
// (at most 3). Anything that can never complete (stray continuation bytes, invalid lead bytes,
// a bad second byte) counts as finished, so it is passed through rather than held forever.
size_t incomplete_tail(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto lead = static_cast<uint8_t>(s[n - back]);
    if (utf8::is_continuation(lead)) continue;  // keep looking for the lead byte
    const size_t need = utf8::strict_sequence_length(lead);
    if (need <= back) return 0;  // ASCII, invalid lead, or already complete
    if (back >= 2 && !utf8::second_byte_ok(lead, static_cast<uint8_t>(s[n - back + 1]))) {
      return 0;
    }
    return back;
  }
  return 0;
}

}  // namespace

std::string StreamDecoder::push(int32_t prev, int32_t id) {
  // `prev` does not change the bytes: the reference continuations keep the leading space of
  // the first piece after BOS (golden aidreams260K.p4 starts with " \"Echoes", and
  // synth-tiny-BF16.p1 keeps " co" after a BOS generated mid-text), as llama.cpp prints them.
  (void)prev;
  pending_ += tokenizer_->piece_bytes(id, special_);
  const size_t hold = incomplete_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string StreamDecoder::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace loam
