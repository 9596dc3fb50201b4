// What the fuzz bodies (fuzz_bodies.h) share: the result they report, fuzz input presented as a
// read-only file mapping whose end AddressSanitizer can see, a scratch file for readers that
// take a path, and a small SentencePiece vocabulary made in code.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/mmap_file.h"
#include "loam/tokenizer.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOAM_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(LOAM_FUZZ_ASAN)
#define LOAM_FUZZ_ASAN 1
#endif
#ifdef LOAM_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace loam_fuzz {

// What one run of a body found. A reader may accept or reject its input; either is fine as long
// as a rejection comes with a message and nothing else (`broken`) went wrong.
struct FuzzResult {
  bool accepted = false;  // the main reader of the target took the input
  std::string error;      // its message when it did not
  std::string broken;     // a broken promise (round trip, bounds, ranges): a bug

  void expect(bool ok, const std::string& what) {
    if (!ok && broken.empty()) broken = what;
  }
  void reject(const std::string& message) {
    accepted = false;
    error = message;
    expect(!message.empty(), "a reader failed without a message");
  }
};

// For the libFuzzer mains: a broken promise is a finding, reported like a crash.
inline int abort_if_broken(const FuzzResult& r) {
  if (r.broken.empty()) return 0;
  std::fprintf(stderr, "fuzz: broken promise: %s\n", r.broken.c_str());
  std::abort();
}

// The fuzz input as a MappedFile (what the GGUF and llama2.c readers take). Anonymous memory
// starts at a page boundary, so a read just past the input's end would land in the same page
// and go unnoticed: under AddressSanitizer the rest of the last page is poisoned while the
// mapping is in use (and unpoisoned before it is unmapped, or a later mapping at the same
// address would inherit the poison).
class MappedInput {
 public:
  MappedInput(const uint8_t* data, size_t size, const std::string& name) {
    std::shared_ptr<loam::MappedFile> m;
    if (size == 0 || !loam::MappedFile::anonymous(size, name, m)) return;
    std::memcpy(m->writable_data(), data, size);
    file_ = m;
#ifdef LOAM_FUZZ_ASAN
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t end = reinterpret_cast<uintptr_t>(m->data()) + size;
    tail_ = reinterpret_cast<const uint8_t*>(end);
    tail_bytes_ = (end + page - 1) / page * page - end;
    ASAN_POISON_MEMORY_REGION(tail_, tail_bytes_);
#endif
  }
  ~MappedInput() {
#ifdef LOAM_FUZZ_ASAN
    if (tail_ != nullptr) ASAN_UNPOISON_MEMORY_REGION(tail_, tail_bytes_);
#endif
  }
  MappedInput(const MappedInput&) = delete;
  MappedInput& operator=(const MappedInput&) = delete;

  // nullptr for an empty input (a mapping cannot be empty, as a file to map cannot).
  const std::shared_ptr<const loam::MappedFile>& file() const { return file_; }
  // Whether [p, p + n) lies inside the input.
  bool contains(const void* p, size_t n) const {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    return file_ != nullptr && b >= file_->data() && n <= file_->size() &&
           b - file_->data() <= static_cast<ptrdiff_t>(file_->size() - n);
  }

 private:
  std::shared_ptr<const loam::MappedFile> file_;
#ifdef LOAM_FUZZ_ASAN
  // The poisoned rest of the input's last page (only with ASan: Clang warns about unused fields).
  const uint8_t* tail_ = nullptr;
  size_t tail_bytes_ = 0;
#endif
};

// A file under /tmp private to this process, rewritten for every input (readers that take a
// path) and removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix)
      : path_("/tmp/loam-fuzz-" + std::to_string(getpid()) + "-" + suffix) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  // Overwrites, then cuts to size: ext4 flushes a file that was truncated to zero and written
  // again when it is closed, which made each run ~20x slower (270 runs/s instead of thousands).
  const std::string& write(const uint8_t* data, size_t size) {
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return path_;
    for (size_t done = 0; done < size;) {
      const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    (void)ftruncate(fd, static_cast<off_t>(size));
    close(fd);
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The ../shared fixtures directory: $LOAM_SHARED, else ../shared beside the source tree; "" when
// neither exists.
inline std::string shared_dir() {
  std::string dir;
  if (const char* env = std::getenv("LOAM_SHARED")) {
    dir = env;
  } else {
#ifdef LOAM_SOURCE_DIR
    dir = std::string(LOAM_SOURCE_DIR) + "/../shared";
#endif
  }
  return !dir.empty() && access(dir.c_str(), R_OK | X_OK) == 0 ? dir : std::string();
}

// A small SentencePiece vocabulary for when ../shared is missing (and as a second, different
// vocabulary when it is not): the special tokens at their usual ids, all 256 byte tokens (so any
// text round-trips), single characters, and merges up to whole words, longer pieces scoring
// higher. Multi-byte characters and a user-defined piece exercise the other token paths.
inline loam::Vocab built_in_vocab() {
  using loam::TokenType;
  loam::Vocab v;
  auto add = [&v](const std::string& piece, TokenType type, float score) {
    v.pieces.push_back(piece);
    v.types.push_back(type);
    v.scores.push_back(score);
  };
  add("<unk>", TokenType::Unknown, 0.0f);
  add("<s>", TokenType::Control, 0.0f);
  add("</s>", TokenType::Control, 0.0f);
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    add(piece, TokenType::Byte, 0.0f);
  }
  const std::string space = "\xE2\x96\x81";  // U+2581, a space inside pieces
  add(space, TokenType::Normal, -100.0f);
  for (char c = '!'; c <= '~'; ++c) add(std::string(1, c), TokenType::Normal, -100.0f);
  const char* merges[] = {"th", "he", "in", "er", "an", "ll", "lo", "or", "the", "ing", "and",
                          "llo", "hello", "world", "wor", "orl", "ld"};
  for (const char* m : merges) {
    const float score = -100.0f + 10.0f * static_cast<float>(std::strlen(m));
    add(m, TokenType::Normal, score);
    add(space + m, TokenType::Normal, score + 1.0f);
  }
  for (char c = 'a'; c <= 'z'; ++c) add(space + c, TokenType::Normal, -90.0f);
  // é, 日, 本, 日本 and an emoji: characters of 2, 3 and 4 bytes, and a merge of two of them.
  for (const char* p : {"\xC3\xA9", "\xE6\x97\xA5", "\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC",
                        "\xF0\x9F\x98\x80"}) {
    add(p, TokenType::Normal, -50.0f);
  }
  add("<|user|>", TokenType::UserDefined, 0.0f);
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  return v;
}

// A small byte-level BPE vocabulary (tokenizer.ggml.model gpt2, llama-bpe pre-tokenizer): the 256
// byte characters (id == byte), a few merges among them, and special tokens of each kind.
inline loam::Vocab built_in_byte_level_vocab() {
  using loam::TokenType;
  loam::Vocab v;
  v.model = "gpt2";
  v.pre = "llama-bpe";
  auto byte_char = [](unsigned b) {
    // GPT-2's map: printable Latin-1 bytes stand for themselves, the rest take U+0100.. in order.
    unsigned next = 256;
    for (unsigned x = 0; x < 256; ++x) {
      const bool printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
      const unsigned cp = printable ? x : next++;
      if (x == b) {
        std::string s;
        if (cp < 0x80) {
          s += static_cast<char>(cp);
        } else {
          s += static_cast<char>(0xC0 | (cp >> 6));
          s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        return s;
      }
    }
    return std::string();
  };
  for (unsigned b = 0; b < 256; ++b) v.pieces.push_back(byte_char(b));
  const std::string sp = byte_char(' ');
  // Merges in rank order; each result is added as a token.
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}, {sp, "h"}, {sp, "w"}, {"o", "r"},
      {sp + "w", "or"}, {"l", "d"}, {sp + "wor", "ld"}, {"1", "2"}, {"12", "3"}, {sp, sp},
      {byte_char('\n'), byte_char('\n')}, {byte_char(0xC3), byte_char(0xA9)}};
  for (const auto& [a, b] : merges) {
    v.merges.push_back(a + " " + b);
    v.pieces.push_back(a + b);
  }
  v.types.assign(v.pieces.size(), TokenType::Normal);
  v.pieces.push_back("<|begin_of_text|>");
  v.types.push_back(TokenType::Control);
  v.pieces.push_back("<|eot_id|>");
  v.types.push_back(TokenType::Control);
  v.pieces.push_back("<|user|>");
  v.types.push_back(TokenType::UserDefined);
  v.scores.assign(v.pieces.size(), 0.0f);
  v.bos_id = v.size() - 3;
  v.eos_id = v.size() - 2;
  v.unk_id = -1;
  v.add_space_prefix = false;
  return v;
}

}  // namespace loam_fuzz
