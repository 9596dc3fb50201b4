// `loam tokenize` and `loam info` on the vocab-only GGUF files of ../shared/vectors (no
// tensors): byte-level BPE (Llama 3, GPT-2) and SentencePiece, --special, and that commands which
// need weights still refuse such a file with one error line.
#include <algorithm>
#include <string>

#include "cli_runner.h"
#include "harness/test.h"

using namespace loam_cli_test;

namespace {

std::string vocab_file(const char* name) {
  return loam_test::shared_file(std::string("vectors/") + name);
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("tokenize_llama3_vocab_only_file_shared") {
  const std::string llama3 = vocab_file("ggml-vocab-llama3.gguf");
  // "Hello world" is 9906 1917 in the llama-bpe vectors; the vocab adds BOS 128000.
  Result r = run({"tokenize", "-m", llama3, "-p", "Hello world", "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string("128000,9906,1917\n"));
  r = run({"tokenize", "-m", llama3, "--no-bos", "--ids", "Hello world"});
  CHECK_EQ(r.out, std::string("9906,1917\n"));
  // Special-token text: plain text by default, the token with --special.
  r = run({"tokenize", "-m", llama3, "--ids", "--special", "<|start_header_id|>user<|eot_id|>"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string("128000,128006,882,128009\n"));
  r = run({"tokenize", "-m", llama3, "--ids", "<|eot_id|>"});
  CHECK_EQ(r.code, 0);
  CHECK(!has(r.out, "128009"));
  // The piece listing names control tokens by their text.
  r = run({"tokenize", "-m", llama3, "--special", "Hello<|eot_id|>"});
  CHECK_EQ(r.code, 0);
  CHECK(has(r.out, "128000 -> '<|begin_of_text|>'"));
  CHECK(has(r.out, "9906 -> 'Hello'"));
  CHECK(has(r.out, "128009 -> '<|eot_id|>'"));
  // A piece holding part of a character shows the loose bytes as \xNN (" 🦙" is three tokens).
  r = run({"tokenize", "-m", llama3, "--no-bos", " \xF0\x9F\xA6\x99 \xC3\xA9"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string(" 11410 -> ' \\xF0\\x9F'\n    99 -> '\\xA6'\n   247 -> '\\x99'\n"
                              "  4046 -> ' \xC3\xA9'\n"));
}

TEST_CASE("tokenize_gpt2_and_spm_vocab_only_files_shared") {
  Result r = run({"tokenize", "-m", vocab_file("ggml-vocab-gpt-2.gguf"), "--no-bos", "--ids",
                  "Hello world"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string("15496,995\n"));  // the gpt-2 vectors' "Hello world"
  r = run({"tokenize", "-m", vocab_file("ggml-vocab-llama-spm.gguf"), "--ids", "Hello world"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string("1,15043,3186\n"));  // the llama-spm vectors', after BOS 1
  // SentencePiece with --special: the text after a special token gets the space prefix again.
  r = run({"tokenize", "-m", vocab_file("ggml-vocab-llama-spm.gguf"), "--ids", "--special",
           "Hello</s>world"});
  CHECK_EQ(r.out, std::string("1,15043,2,3186\n"));
}

TEST_CASE("info_vocab_only_files_shared") {
  Result r = run({"info", vocab_file("ggml-vocab-llama3.gguf")});
  CHECK_EQ(r.code, 0);
  CHECK(has(r.out, "vocabulary only (no tensors)"));
  CHECK(has(r.out, "128256 (gpt2)"));
  CHECK(has(r.out, "byte-level BPE, 280147 merges"));
  CHECK(has(r.out, "pre-tokenizer            llama-bpe"));
  CHECK(has(r.out, "bos                      128000 '<|begin_of_text|>'"));
  CHECK(has(r.out, "eos                      128001 '<|end_of_text|>'"));
  CHECK(has(r.out, "eot                      128009 '<|eot_id|>'"));
  CHECK(has(r.out, "end of generation        128001 '<|end_of_text|>', 128009 '<|eot_id|>'"));
  CHECK(!has(r.out, "hyperparameters"));
  CHECK(!has(r.out, "tensors ("));
  r = run({"info", vocab_file("ggml-vocab-gpt-2.gguf")});
  CHECK_EQ(r.code, 0);
  CHECK(has(r.out, "pre-tokenizer            gpt-2"));
  CHECK(has(r.out, "end of generation        50256 '<|endoftext|>'"));
  r = run({"info", vocab_file("ggml-vocab-llama-spm.gguf")});
  CHECK_EQ(r.code, 0);
  CHECK(has(r.out, "SentencePiece BPE"));
  CHECK(has(r.out, "end of generation        2 '</s>'"));
}

TEST_CASE("run_refuses_vocab_only_file_shared") {
  // Generating needs weights: the error is still one line naming the file.
  const Result r = run({"run", "-m", vocab_file("ggml-vocab-llama3.gguf"), "-p", "Hi", "-n", "1"});
  CHECK_EQ(r.code, 1);
  CHECK(has(r.err, "ggml-vocab-llama3.gguf"));
  CHECK_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  CHECK(r.out.empty());
}
