// The bodies of the fuzz targets: each feeds arbitrary bytes to one family of readers and checks
// what those readers promise beyond "no crash". The libFuzzer mains in this folder call them;
// tests/test_fuzz_regressions.cpp runs them over the seeds and past crashes in the normal suite.
//
//   fuzz_gguf       GgufFile::parse, then read_llama_config and load_vocab_from_gguf
//   fuzz_llama2c    read_llama2c (checkpoint) and load_llama2c_tokenizer (tokenizer.bin)
//   fuzz_tokenizer  Tokenizer::encode / decode and StreamDecoder on arbitrary text and ids, with
//                   SentencePiece and byte-level BPE vocabularies, parse_special on and off
//   fuzz_json       json::parse, and serialize / quote round trips
//   fuzz_args       cli::ArgParser on an argv split from the input at NUL bytes
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "core/json.h"
#include "fuzz/fuzz_support.h"
#include "formats/llama2c_reader.h"
#include "formats/llama_loader.h"
#include "loam/gguf.h"
#include "loam/tokenizer.h"

namespace loam_fuzz {

// Encodes a short text and decodes the first ids with a vocabulary a reader just accepted: a
// hostile vocabulary must not break the tokenizer either.
inline void exercise_vocab(const loam::Vocab& vocab, FuzzResult& r) {
  r.expect(vocab.pieces.size() == vocab.scores.size() && vocab.pieces.size() == vocab.types.size(),
           "vocab arrays of different lengths");
  const loam::Tokenizer tok(vocab);
  for (const int32_t id : tok.encode("Hello world, \xC3\xA9t\xC3\xA9 <s> \xE6\x97\xA5!", true)) {
    r.expect(id >= 0 && id < vocab.size(), "encode gave an id outside the vocabulary");
  }
  std::vector<int32_t> ids;
  for (int32_t id = -1; id < vocab.size() && id < 256; ++id) ids.push_back(id);
  (void)tok.decode(ids);
}

inline FuzzResult fuzz_gguf(const uint8_t* data, size_t size) {
  FuzzResult r;
  const MappedInput input(data, size, "fuzz.gguf");
  if (input.file() == nullptr) return r;  // empty: MappedFile::open refuses empty files first
  loam::GgufFile file;
  const loam::Status st = loam::GgufFile::parse(input.file(), file);
  if (!st) {
    r.reject(st.message());
    return r;
  }
  r.accepted = true;
  for (const loam::GgufKeyValue& kv : file.metadata()) {
    (void)kv.value.render();
    (void)kv.value.render(0);
  }
  for (const loam::GgufTensorInfo& t : file.tensors()) {
    r.expect(t.nbytes > 0 && input.contains(t.data, t.nbytes),
             "tensor '" + t.name + "' lies outside the file");
    r.expect(t.nbytes == loam::dtype_row_bytes(t.type, t.ne[0]) *
                             static_cast<uint64_t>(t.ne[1] * t.ne[2] * t.ne[3]),
             "tensor '" + t.name + "' size disagrees with its shape");
    if (t.nbytes > 0) {
      // Read the first and last byte, so AddressSanitizer checks the ends of the view.
      const volatile uint8_t* bytes = t.data;
      (void)(bytes[0] + bytes[t.nbytes - 1]);
    }
  }
  loam::ModelConfig config;
  const loam::Status config_st = loam::read_llama_config(file, config);
  if (config_st) {
    r.expect(config.head_dim * config.n_head == config.n_embd &&
                 config.n_head % config.n_head_kv == 0 && config.n_rot <= config.head_dim,
             "read_llama_config accepted an inconsistent config");
  } else {
    r.expect(!config_st.message().empty(), "read_llama_config failed without a message");
  }
  if (file.has("tokenizer.ggml.tokens")) {
    loam::Vocab vocab;
    const loam::Status vocab_st = loam::load_vocab_from_gguf(file, vocab);
    if (vocab_st) {
      exercise_vocab(vocab, r);
    } else {
      r.expect(!vocab_st.message().empty(), "load_vocab_from_gguf failed without a message");
    }
  }
  return r;
}

inline FuzzResult fuzz_llama2c(const uint8_t* data, size_t size) {
  FuzzResult r;
  // The checkpoint.
  const MappedInput input(data, size, "fuzz.bin");
  if (input.file() != nullptr) {
    loam::Llama2cHeader header;
    std::vector<loam::Tensor> tensors;
    const loam::Status st = loam::read_llama2c(*input.file(), header, tensors);
    if (st) {
      r.accepted = true;
      for (const loam::Tensor& t : tensors) {
        r.expect(t.nbytes > 0 && input.contains(t.data, t.nbytes),
                 "tensor '" + t.name + "' lies outside the file");
        if (t.nbytes > 0) {
          const volatile uint8_t* bytes = static_cast<const uint8_t*>(t.data);
          (void)(bytes[0] + bytes[t.nbytes - 1]);
        }
      }
    } else {
      r.reject(st.message());
    }
  }
  // The same bytes as a tokenizer.bin. The file does not store its token count: count the
  // records that fit, so a well-formed file is read with its own size (a wrong count is what
  // a mutated record gives).
  int32_t n_vocab = 0;
  size_t pos = 4;
  while (n_vocab < (1 << 22) && size >= 8 && pos <= size - 8) {
    int32_t len = 0;
    std::memcpy(&len, data + pos + 4, 4);
    if (len < 0 || static_cast<size_t>(len) > size - pos - 8) break;
    pos += 8 + static_cast<size_t>(len);
    ++n_vocab;
  }
  static ScratchFile scratch("tokenizer.bin");
  loam::Vocab vocab;
  const loam::Status st = loam::load_llama2c_tokenizer(scratch.write(data, size),
                                                       n_vocab > 0 ? n_vocab : 1, vocab);
  if (st) {
    exercise_vocab(vocab, r);
  } else {
    r.expect(!st.message().empty(), "load_llama2c_tokenizer failed without a message");
  }
  return r;
}

// The vocabularies fuzz_tokenizer uses: the Llama-2 (SentencePiece) and Llama 3 (byte-level)
// ones from ../shared when present, and a built-in one of each kind.
struct TokenizerSet {
  loam::Vocab shared_vocab, own_vocab, shared_bpe_vocab, own_bpe_vocab;
  loam::Tokenizer shared, own, shared_bpe, own_bpe;
  std::string shared_source;  // what was loaded, for the log

  TokenizerSet()
      : own_vocab(built_in_vocab()),
        own_bpe_vocab(built_in_byte_level_vocab()),
        own(own_vocab),
        own_bpe(own_bpe_vocab) {
    const std::string dir = shared_dir();
    const std::string path = dir + "/vectors/ggml-vocab-llama-spm.gguf";
    if (!dir.empty() && loam::load_gguf_vocab(path, shared_vocab)) {
      shared = loam::Tokenizer(shared_vocab);
      shared_source = path;
    }
    const std::string bpe_path = dir + "/vectors/ggml-vocab-llama3.gguf";
    if (!dir.empty() && loam::load_gguf_vocab(bpe_path, shared_bpe_vocab)) {
      shared_bpe = loam::Tokenizer(shared_bpe_vocab);
      shared_source += (shared_source.empty() ? "" : ", ") + bpe_path;
    }
  }
  static const TokenizerSet& get() {
    static const TokenizerSet set;
    return set;
  }
};

// Byte 0 chooses: bit 0 add BOS, bit 1 the built-in vocabulary (else the shared one when
// loaded), bit 2 byte-level BPE (else SentencePiece), bit 3 parse_special. The other bytes are
// the text to encode, and also, read as little-endian u16 minus 8, the ids to decode (negatives
// and ids past the vocabulary included).
inline FuzzResult fuzz_tokenizer(const uint8_t* data, size_t size) {
  FuzzResult r;
  r.accepted = true;
  if (size == 0) return r;
  const TokenizerSet& set = TokenizerSet::get();
  const bool add_bos = (data[0] & 1) != 0;
  const bool byte_level = (data[0] & 4) != 0;
  const bool parse_special = (data[0] & 8) != 0;
  const loam::Tokenizer* chosen = nullptr;
  if (byte_level) {
    const bool own = (data[0] & 2) != 0 || set.shared_bpe_vocab.empty();
    chosen = own ? &set.own_bpe : &set.shared_bpe;
  } else {
    const bool own = (data[0] & 2) != 0 || set.shared_vocab.empty();
    chosen = own ? &set.own : &set.shared;
  }
  const loam::Tokenizer& tok = *chosen;
  const int32_t n_vocab = tok.vocab().size();
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::vector<int32_t> ids = tok.encode(text, add_bos, parse_special);
  for (const int32_t id : ids) {
    r.expect(id >= 0 && id < n_vocab, "encode gave an id outside the vocabulary");
  }
  if (byte_level) {
    // Byte-level BPE loses nothing, whatever the bytes: with parse_special the special tokens
    // come back as their text when asked for it (BOS then adds its own text in front).
    if (!parse_special) {
      r.expect(tok.decode(ids) == text, "byte-level decode(encode(text)) != text");
    } else if (!add_bos) {
      r.expect(tok.decode(ids, true) == text, "byte-level decode(encode(text, special)) != text");
    }
  }
  // Both vocabularies have every byte token and no unused pieces, so valid UTF-8 comes back,
  // except U+2581 in the text, which decodes as a space (the space marker inside pieces).
  // Invalid UTF-8 need not: a lead byte takes the next byte along as one character (as in
  // llama.cpp), so "\xC0 " can no longer match the space marker and keeps its bytes.
  if (!byte_level && !parse_special && add_bos && loam::json::is_valid_utf8(text) &&
      text.find("\xE2\x96\x81") == std::string::npos) {
    r.expect(tok.decode(ids) == text, "decode(encode(text, true)) != text");
  }

  std::vector<int32_t> decode_ids;
  for (size_t i = 1; i + 1 < size; i += 2) {
    decode_ids.push_back(static_cast<int32_t>(data[i] | data[i + 1] << 8) - 8);
  }
  (void)tok.decode(decode_ids);
  // The stream decoder gives the pieces' bytes, in order, never cutting a character of a valid
  // text in two.
  std::string pieces, streamed;
  bool chunks_valid = true;
  loam::StreamDecoder stream(tok);
  int32_t prev = -1;
  for (const int32_t id : decode_ids) {
    pieces += tok.piece_bytes(id);
    const std::string chunk = stream.push(prev, id);
    chunks_valid = chunks_valid && loam::json::is_valid_utf8(chunk);
    streamed += chunk;
    prev = id;
  }
  streamed += stream.flush();
  r.expect(streamed == pieces, "StreamDecoder output differs from the pieces' bytes");
  if (loam::json::is_valid_utf8(pieces)) {
    r.expect(chunks_valid, "StreamDecoder split a UTF-8 character");
  }
  return r;
}

inline FuzzResult fuzz_json(const uint8_t* data, size_t size) {
  FuzzResult r;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // quote() makes a valid JSON string of any bytes, which reads back as those bytes when they
  // are valid UTF-8.
  loam::json::Value quoted;
  if (!loam::json::parse(loam::json::quote(text), quoted) || !quoted.is_string()) {
    r.expect(false, "quote() gave text that does not parse as a string");
  } else if (loam::json::is_valid_utf8(text)) {
    r.expect(quoted.as_string() == text, "quote() of valid UTF-8 did not read back");
  }

  loam::json::Value value;
  const loam::Status st = loam::json::parse(text, value);
  if (!st) {
    r.reject(st.message());
    r.expect(st.message().find('\n') == std::string::npos, "parse error message spans lines");
    return r;
  }
  r.accepted = true;
  // What serialize() writes parses again, to a document that serializes the same.
  const std::string once = loam::json::serialize(value);
  r.expect(loam::json::is_valid_utf8(once), "serialize() wrote invalid UTF-8");
  loam::json::Value again;
  const loam::Status st2 = loam::json::parse(once, again);
  r.expect(static_cast<bool>(st2), "serialize() output does not parse: " + st2.message());
  if (st2) r.expect(loam::json::serialize(again) == once, "serialize/parse round trip differs");
  return r;
}

// A representative option table: flags, text, integers with ranges, numbers, custom values,
// positionals. Returns what the parser made of argv.
inline FuzzResult fuzz_args(const uint8_t* data, size_t size) {
  FuzzResult r;
  std::vector<std::string> args(1, "loam");
  args.emplace_back();
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.emplace_back();
    } else {
      args.back() += static_cast<char>(data[i]);
    }
  }
  if (size == 0) args.pop_back();
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(&a[0]);

  bool verbose = false, quiet = false;
  std::string model, prompt;
  int n_predict = -1, threads = 0, ctx = 512;
  float temp = 0.8f, top_p = 0.95f, bias = 0.0f;
  int64_t range_lo = 0, range_hi = 0;
  uint64_t seed = 0;
  std::vector<std::string> files;

  loam::cli::ArgParser p("fuzz", "fuzz [options] FILE...",
                         "A parser shaped like the subcommands'.");
  p.flag("-v", "--verbose", "more output", &verbose);
  p.flag("", "--quiet", "less output", &quiet);
  p.text("-m", "--model", "FILE", "model file", &model);
  p.text("-p", "--prompt", "TEXT", "prompt", &prompt);
  p.integer("-n", "--n-predict", "N", "tokens to generate (-1: until EOS)", &n_predict, -1,
            std::numeric_limits<int>::max());
  p.integer("-t", "--threads", "N", "threads", &threads, 1, 256);
  p.integer("-c", "", "N", "context (short name only)", &ctx, 1, 1 << 20);
  p.number("", "--temp", "T", "temperature", &temp, 0.0f, 100.0f);
  p.number("", "--top-p", "P", "nucleus", &top_p, 0.0f, 1.0f);
  p.number("", "--bias", "B", "any finite number", &bias, -std::numeric_limits<float>::max(),
           std::numeric_limits<float>::max());
  p.custom("-s", "--seed", "N", "seed (-1: random)", [&seed](const std::string& v) {
    if (v == "-1") {
      seed = 0;
      return loam::Status::ok();
    }
    return loam::cli::parse_uint64(v, seed) ? loam::Status::ok()
                                            : loam::Status::error("--seed: bad value '" + v + "'");
  });
  p.custom("", "--range", "A:B", "an integer range", [&](const std::string& v) {
    const size_t colon = v.find(':');
    if (colon == std::string::npos || !loam::cli::parse_int64(v.substr(0, colon), range_lo) ||
        !loam::cli::parse_int64(v.substr(colon + 1), range_hi) || range_lo > range_hi) {
      return loam::Status::error("--range expects A:B with A <= B, got '" + v + "'");
    }
    return loam::Status::ok();
  });
  p.positionals("FILE", "input files", &files, 3);
  p.epilog("example: fuzz -m model.gguf -n 16 prompt.txt");

  const auto outcome = p.parse(static_cast<int>(argv.size()), argv.data(), 1);
  r.accepted = outcome != loam::cli::ArgParser::Outcome::kError;
  if (!r.accepted) r.reject(p.error());
  if (outcome == loam::cli::ArgParser::Outcome::kOk) {
    r.expect(n_predict >= -1, "-n out of range");
    r.expect(threads == 0 || (threads >= 1 && threads <= 256), "-t out of range");
    r.expect(ctx >= 1 && ctx <= (1 << 20), "-c out of range");
    r.expect(temp >= 0.0f && temp <= 100.0f && top_p >= 0.0f && top_p <= 1.0f,
             "a number option out of range");
    r.expect(std::isfinite(bias), "--bias not finite");
    r.expect(range_lo <= range_hi, "--range out of order");
    r.expect(files.size() <= 3, "too many positionals");
    r.expect(p.given("--model") || model.empty(), "--model set but not given");
  }
  r.expect(!p.help_text().empty(), "empty help");
  // The number parsers alone, on every argument.
  for (size_t i = 1; i < args.size(); ++i) {
    float f = 0.0f;
    if (loam::cli::parse_float(args[i], f)) r.expect(std::isfinite(f), "parse_float not finite");
    int64_t i64 = 0;
    uint64_t u64 = 0;
    (void)loam::cli::parse_int64(args[i], i64);
    if (loam::cli::parse_uint64(args[i], u64)) {
      r.expect(args[i][0] >= '0' && args[i][0] <= '9', "parse_uint64 took a sign");
    }
  }
  return r;
}

}  // namespace loam_fuzz
