// The file `loam perplexity --kl-divergence-base FILE` writes and `--kl-divergence` reads: the
// tokens a base model was scored on and its log-probabilities at every scored position, so a
// quantized copy can later be compared with it without the base model at hand.
//
// Layout (all little-endian):
//   offset  0  char[8]  magic "LOAMKLD1"
//           8  u32      version = 1
//          12  u32      n_vocab
//          16  u32      n_ctx          window length (-c)
//          20  u32      n_chunk        windows stored
//          24  u32      encoding = 0   0: f32 log-softmax rows (the only one so far)
//          28  u32      reserved = 0
//          32  i32      tokens[n_chunk * n_ctx]   the text's tokens, before any BOS replacement
//   then for each window, for each scored position (n_ctx - 1 - n_ctx/2 of them, in order):
//              f32      log_probs[n_vocab]        log-softmax of the base model's logits
// Size: 32 + 4 * n_chunk * n_ctx + 4 * n_chunk * (n_ctx - 1 - n_ctx/2) * n_vocab bytes, i.e.
// 4 bytes per vocabulary entry per scored token (n_vocab 32000, -c 512: 32.6 MB per window).
// Full f32 rows keep the comparison exact (a model against its own file: KL 0, top-1 100 %);
// llama.cpp stores 16-bit rows instead, half the size.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "loam/status.h"

namespace loam::eval {

struct KlBaseHeader {
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  uint32_t n_chunk = 0;
  uint32_t scored_per_chunk() const { return n_ctx - 1 - n_ctx / 2; }
  uint64_t file_bytes() const;  // the exact size a file with this header has
};

class KlBaseWriter {
 public:
  KlBaseWriter() = default;
  ~KlBaseWriter();
  KlBaseWriter(const KlBaseWriter&) = delete;
  KlBaseWriter& operator=(const KlBaseWriter&) = delete;

  // Creates (truncates) the file and writes the header and tokens [n_chunk * n_ctx].
  Status open(const std::string& path, const KlBaseHeader& header,
              const std::vector<int32_t>& tokens);
  // Appends the rows of one window: [scored_per_chunk][n_vocab] f32.
  Status write_rows(const std::vector<float>& rows);
  // Flushes and closes; fails when fewer windows were written than the header announced.
  Status close();

 private:
  FILE* file_ = nullptr;
  std::string path_;
  KlBaseHeader header_;
  uint32_t chunks_written_ = 0;
};

class KlBaseReader {
 public:
  KlBaseReader() = default;
  ~KlBaseReader();
  KlBaseReader(const KlBaseReader&) = delete;
  KlBaseReader& operator=(const KlBaseReader&) = delete;

  // Reads and checks the header (magic, version, encoding, sizes against the file's length) and
  // the tokens. Every error names the file and the field at fault.
  Status open(const std::string& path);
  const KlBaseHeader& header() const { return header_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Reads the next window's rows into `rows` ([scored_per_chunk][n_vocab] f32).
  Status read_rows(std::vector<float>& rows);

 private:
  FILE* file_ = nullptr;
  std::string path_;
  KlBaseHeader header_;
  std::vector<int32_t> tokens_;
  uint32_t chunks_read_ = 0;
};

}  // namespace loam::eval
