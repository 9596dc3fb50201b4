#include "eval/kl_base_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace loam::eval {

namespace {

constexpr char kMagic[8] = {'L', 'O', 'A', 'M', 'K', 'L', 'D', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kEncodingF32 = 0;
constexpr uint64_t kHeaderBytes = 32;
// Bounds that keep every size computation far from overflow and reject absurd headers before
// any allocation (the largest known vocabularies are ~260k tokens).
constexpr uint32_t kMaxVocab = 1u << 24;
constexpr uint32_t kMaxCtx = 1u << 24;
constexpr uint32_t kMaxChunks = 1u << 24;

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// 32-bit values (tokens or float bits) to little-endian bytes and back, whatever the host order.
template <class T>
void to_le(const T* values, size_t n, std::vector<uint8_t>& bytes) {
  static_assert(sizeof(T) == 4, "32-bit values only");
  bytes.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    put_u32(&bytes[4 * i], bits);
  }
}

template <class T>
void from_le(const std::vector<uint8_t>& bytes, T* values, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t bits = get_u32(&bytes[4 * i]);
    std::memcpy(&values[i], &bits, 4);
  }
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

uint64_t KlBaseHeader::file_bytes() const {
  const uint64_t tokens = uint64_t{n_chunk} * n_ctx;
  const uint64_t rows = uint64_t{n_chunk} * scored_per_chunk();
  return kHeaderBytes + 4 * tokens + 4 * rows * n_vocab;
}

KlBaseWriter::~KlBaseWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status KlBaseWriter::open(const std::string& path, const KlBaseHeader& header,
                          const std::vector<int32_t>& tokens) {
  if (tokens.size() != uint64_t{header.n_chunk} * header.n_ctx) {
    return Status::error(path + ": internal: " + std::to_string(tokens.size()) +
                         " tokens for " + std::to_string(header.n_chunk) + " windows of " +
                         std::to_string(header.n_ctx));
  }
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) return Status::error(path + ": " + errno_text());
  path_ = path;
  header_ = header;
  uint8_t head[kHeaderBytes] = {};
  std::memcpy(head, kMagic, 8);
  put_u32(head + 8, kVersion);
  put_u32(head + 12, header.n_vocab);
  put_u32(head + 16, header.n_ctx);
  put_u32(head + 20, header.n_chunk);
  put_u32(head + 24, kEncodingF32);
  std::vector<uint8_t> bytes;
  to_le(tokens.data(), tokens.size(), bytes);
  if (std::fwrite(head, 1, kHeaderBytes, file_) != kHeaderBytes ||
      std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Status::error(path + ": write failed: " + errno_text());
  }
  return Status::ok();
}

Status KlBaseWriter::write_rows(const std::vector<float>& rows) {
  const size_t expect = size_t{header_.scored_per_chunk()} * header_.n_vocab;
  if (file_ == nullptr || rows.size() != expect || chunks_written_ >= header_.n_chunk) {
    return Status::error(path_ + ": internal: unexpected rows for window " +
                         std::to_string(chunks_written_ + 1));
  }
  std::vector<uint8_t> bytes;
  to_le(rows.data(), rows.size(), bytes);
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Status::error(path_ + ": write failed: " + errno_text());
  }
  ++chunks_written_;
  return Status::ok();
}

Status KlBaseWriter::close() {
  if (file_ == nullptr) return Status::ok();
  FILE* f = file_;
  file_ = nullptr;
  const bool flushed = std::fflush(f) == 0;
  const int saved = errno;
  if (std::fclose(f) != 0 || !flushed) {
    return Status::error(path_ + ": write failed: " + std::strerror(saved));
  }
  if (chunks_written_ != header_.n_chunk) {
    return Status::error(path_ + ": incomplete: " + std::to_string(chunks_written_) + " of " +
                         std::to_string(header_.n_chunk) + " windows written");
  }
  return Status::ok();
}

KlBaseReader::~KlBaseReader() {
  if (file_ != nullptr) std::fclose(file_);
}

Status KlBaseReader::open(const std::string& path) {
  path_ = path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Status::error(path + ": " + errno_text());
  if (!S_ISREG(st.st_mode)) return Status::error(path + ": not a regular file");
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) return Status::error(path + ": " + errno_text());
  uint8_t head[kHeaderBytes];
  if (std::fread(head, 1, kHeaderBytes, file_) != kHeaderBytes ||
      std::memcmp(head, kMagic, 8) != 0) {
    return Status::error(path + ": not a KL-divergence base file (no LOAMKLD1 header; write one "
                         "with --kl-divergence-base FILE without --kl-divergence)");
  }
  const uint32_t version = get_u32(head + 8);
  if (version != kVersion) {
    return Status::error(path + ": version " + std::to_string(version) +
                         " is not supported (this build reads version 1)");
  }
  header_.n_vocab = get_u32(head + 12);
  header_.n_ctx = get_u32(head + 16);
  header_.n_chunk = get_u32(head + 20);
  const uint32_t encoding = get_u32(head + 24);
  if (encoding != kEncodingF32) {
    return Status::error(path + ": encoding " + std::to_string(encoding) + " is not supported");
  }
  if (header_.n_vocab == 0 || header_.n_vocab > kMaxVocab) {
    return Status::error(path + ": n_vocab " + std::to_string(header_.n_vocab) + " is invalid");
  }
  if (header_.n_ctx < 4 || header_.n_ctx > kMaxCtx) {
    return Status::error(path + ": n_ctx " + std::to_string(header_.n_ctx) + " is invalid");
  }
  if (header_.n_chunk == 0 || header_.n_chunk > kMaxChunks) {
    return Status::error(path + ": n_chunk " + std::to_string(header_.n_chunk) + " is invalid");
  }
  const uint64_t expect = header_.file_bytes();
  if (static_cast<uint64_t>(st.st_size) != expect) {
    return Status::error(path + ": " + std::to_string(st.st_size) + " bytes, but its header (" +
                         std::to_string(header_.n_chunk) + " windows of " +
                         std::to_string(header_.n_ctx) + " tokens, vocab " +
                         std::to_string(header_.n_vocab) + ") needs " + std::to_string(expect) +
                         " (truncated or not written to the end?)");
  }
  const size_t n_tokens = size_t{header_.n_chunk} * header_.n_ctx;
  std::vector<uint8_t> bytes(n_tokens * 4);
  if (std::fread(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Status::error(path + ": could not read the tokens: " + errno_text());
  }
  tokens_.resize(n_tokens);
  from_le(bytes, tokens_.data(), n_tokens);
  for (size_t i = 0; i < n_tokens; ++i) {
    if (tokens_[i] < 0 || static_cast<uint32_t>(tokens_[i]) >= header_.n_vocab) {
      return Status::error(path + ": token " + std::to_string(i) + " (" +
                           std::to_string(tokens_[i]) + ") is outside the vocabulary of " +
                           std::to_string(header_.n_vocab));
    }
  }
  return Status::ok();
}

Status KlBaseReader::read_rows(std::vector<float>& rows) {
  if (file_ == nullptr || chunks_read_ >= header_.n_chunk) {
    return Status::error(path_ + ": internal: no window " + std::to_string(chunks_read_ + 1));
  }
  const size_t n = size_t{header_.scored_per_chunk()} * header_.n_vocab;
  std::vector<uint8_t> bytes(n * 4);
  if (std::fread(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Status::error(path_ + ": could not read the rows of window " +
                         std::to_string(chunks_read_ + 1));
  }
  rows.resize(n);
  from_le(bytes, rows.data(), n);
  ++chunks_read_;
  return Status::ok();
}

}  // namespace loam::eval
