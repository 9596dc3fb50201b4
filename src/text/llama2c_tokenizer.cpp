// llama2.c tokenizer.bin reader. Layout (little-endian, no header magic):
//   int32 max_token_length
//   n_vocab x { float32 score; int32 len; uint8 bytes[len] }
// The count is not stored: it comes from the model (its vocab_size), so the file must hold
// exactly n_vocab records.
#include <cmath>
#include <cstring>
#include <memory>

#include "core/mmap_file.h"
#include "loam/tokenizer.h"
#include "text/special_tokens.h"

namespace loam {

namespace {

// No real vocabulary has pieces anywhere near this long (Llama-2: 27 bytes); a larger value
// means the file is not a tokenizer.bin.
constexpr int32_t kMaxPieceBytes = 1 << 16;

const char kSpaceMarker[] = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Little-endian cursor over the file bytes; every read is bounds-checked.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t offset() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  bool read_i32(int32_t& v) { return read_u32_into(&v); }
  bool read_f32(float& v) { return read_u32_into(&v); }
  bool read_bytes(size_t n, std::string& out) {
    if (remaining() < n) return false;
    out.assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  // Copies the next 4 bytes, read as a little-endian word, into a 4-byte int or float.
  bool read_u32_into(void* dst) {
    if (remaining() < 4) return false;
    const uint8_t* b = data_ + pos_;
    // Assembled explicitly so a big-endian host reads the file correctly too.
    const uint32_t u = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 |
                       uint32_t(b[3]) << 24;
    std::memcpy(dst, &u, 4);
    pos_ += 4;
    return true;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

// "<0xNN>": SentencePiece's byte-fallback pieces.
bool is_byte_piece(const std::string& p) {
  return p.size() == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && is_hex_digit(p[3]) &&
         is_hex_digit(p[4]) && p[5] == '>';
}

std::string escape_spaces(const std::string& piece) {
  std::string out;
  out.reserve(piece.size());
  for (char c : piece) {
    if (c == ' ') {
      out += kSpaceMarker;
    } else {
      out += c;
    }
  }
  return out;
}

// llama2.c's exporter writes BOS/EOS as "\n<s>\n" and "\n</s>\n" (so its decoder prints them on
// lines of their own); GGUF stores the SentencePiece names "<s>" and "</s>". Strip the newlines
// so both sources give the same Vocab.
std::string control_piece_name(const std::string& piece) {
  size_t begin = 0, end = piece.size();
  while (begin < end && piece[begin] == '\n') ++begin;
  while (end > begin && piece[end - 1] == '\n') --end;
  return piece.substr(begin, end - begin);
}

}  // namespace

Status load_llama2c_tokenizer(const std::string& path, int32_t n_vocab, Vocab& out) {
  if (n_vocab <= 0) {
    return Status::error(path + ": vocabulary size " + std::to_string(n_vocab) +
                         " is not positive");
  }
  // Mapped, not read: a wrong file given as --tokenizer (a model of gigabytes) costs nothing
  // before the checks below refuse it.
  std::shared_ptr<const MappedFile> file;
  if (Status st = MappedFile::open(path, file); !st) {
    return Status::error("tokenizer file: " + st.message());
  }
  Reader r(file->data(), file->size());
  int32_t max_token_length = 0;
  if (!r.read_i32(max_token_length)) {
    return Status::error(path + ": truncated tokenizer file (" + std::to_string(file->size()) +
                         " bytes, no max_token_length header)");
  }
  if (max_token_length <= 0 || max_token_length > kMaxPieceBytes) {
    return Status::error(path + ": max_token_length " + std::to_string(max_token_length) +
                         " is out of range (1.." + std::to_string(kMaxPieceBytes) + ")");
  }
  // Each record takes at least 8 bytes: the size must hold n_vocab of them before n_vocab entries
  // are allocated (n_vocab comes from the model file, not this one). Records that are too long,
  // or bytes left over, are found with a precise message by the reading loop below.
  const uint64_t n = static_cast<uint64_t>(n_vocab);
  const uint64_t records = file->size() - 4;
  if (records < 8 * n) {
    return Status::error(path + ": truncated tokenizer file: " + std::to_string(file->size()) +
                         " bytes cannot hold " + std::to_string(n_vocab) +
                         " tokens of at least 8 bytes (tokenizer does not match the model's "
                         "vocabulary size?)");
  }

  Vocab vocab;
  vocab.model = "llama";
  vocab.pieces.resize(static_cast<size_t>(n_vocab));
  vocab.scores.resize(static_cast<size_t>(n_vocab));
  vocab.types.assign(static_cast<size_t>(n_vocab), TokenType::Normal);
  std::string piece;
  for (int32_t id = 0; id < n_vocab; ++id) {
    const std::string where = path + ": token " + std::to_string(id) + " at byte offset " +
                              std::to_string(r.offset());
    float score = 0.0f;
    int32_t len = 0;
    if (!r.read_f32(score) || !r.read_i32(len)) {
      return Status::error(where + ": file truncated (expected " + std::to_string(n_vocab) +
                           " tokens)");
    }
    if (std::isnan(score)) return Status::error(where + ": score is NaN");
    if (len < 0 || len > max_token_length) {
      return Status::error(where + ": length " + std::to_string(len) +
                           " is outside 0..max_token_length (" +
                           std::to_string(max_token_length) + ")");
    }
    if (!r.read_bytes(static_cast<size_t>(len), piece)) {
      return Status::error(where + ": file truncated inside a " + std::to_string(len) +
                           "-byte piece");
    }
    vocab.scores[id] = score;
    if (is_byte_piece(piece)) {
      vocab.types[id] = TokenType::Byte;
      vocab.pieces[id] = piece;
    } else {
      vocab.pieces[id] = escape_spaces(piece);
    }
  }
  if (r.remaining() != 0) {
    return Status::error(path + ": " + std::to_string(r.remaining()) +
                         " bytes left after " + std::to_string(n_vocab) +
                         " tokens (tokenizer does not match the model's vocabulary size?)");
  }

  // llama2.c vocabularies are SentencePiece exports with the fixed ids unk=0, bos=1, eos=2.
  const TokenType kFixed[3] = {TokenType::Unknown, TokenType::Control, TokenType::Control};
  for (int32_t id = 0; id < 3 && id < n_vocab; ++id) {
    vocab.types[id] = kFixed[id];
    if (id > 0) vocab.pieces[id] = control_piece_name(vocab.pieces[id]);
  }
  vocab.unk_id = 0;
  vocab.bos_id = n_vocab > 1 ? 1 : -1;
  vocab.eos_id = n_vocab > 2 ? 2 : -1;
  vocab.add_bos = true;
  vocab.add_space_prefix = true;
  find_end_of_generation_ids(vocab);
  out = std::move(vocab);
  return Status::ok();
}

}  // namespace loam
