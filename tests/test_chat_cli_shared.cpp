// `loam tokenize --messages` and `loam chat` run as a user would, on ../shared models:
// - tokenize --messages on l3-tiny-f16.gguf (Meta's Llama 3 vocabulary and chat template): the
//   ids come from llama.cpp (llama_chat_apply_template with the file's template, then
//   llama_tokenize with add_special and parse_special; libllama built from /work/peers/llama.cpp,
//   run on ../shared/vectors/ggml-vocab-llama3.gguf), the text is written by hand from Meta's
//   template;
// - piped chat on the same random-weight model: the structure (one output line per input line,
//   no prompt or escape codes, /reset gives back the first answer), not the words;
// - chat and tokenize --messages on a SentencePiece model (llama-2-tiny-random.gguf, no template)
//   with --chat-template llama2, and without it the error that lists the names;
// - loam info's template line;
// - bad input: malformed or wrong-shaped JSON, unknown template names, flags that do not go
//   together; each a one-line error and the documented exit code.
#include <string>
#include <vector>

#include "cli_runner.h"
#include "harness/test.h"

using namespace loam_cli_test;

namespace {

const char* const kConversation =
    "[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
    "{\"role\":\"user\",\"content\":\"Hello\"},"
    "{\"role\":\"assistant\",\"content\":\"Hi there!\"},"
    "{\"role\":\"user\",\"content\":\"What is 2+2?\"}]";

// llama.cpp's ids for kConversation with the generation prompt (see the top of the file); without
// it the last four (<|start_header_id|> assistant <|end_header_id|> \n\n) are absent.
const char* const kIdsWithPrompt =
    "128000,128006,9125,128007,271,2675,527,264,11190,18328,13,128009,128006,882,128007,271,9906,"
    "128009,128006,78191,128007,271,13347,1070,0,128009,128006,882,128007,271,3923,374,220,17,10,"
    "17,30,128009,128006,78191,128007,271\n";
const char* const kIdsWithoutPrompt =
    "128000,128006,9125,128007,271,2675,527,264,11190,18328,13,128009,128006,882,128007,271,9906,"
    "128009,128006,78191,128007,271,13347,1070,0,128009,128006,882,128007,271,3923,374,220,17,10,"
    "17,30,128009\n";

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = loam_test::temp_dir() + "/" + name;
  write_file(path, text);
  return path;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      lines.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (start < s.size()) lines.push_back(s.substr(start));  // an unterminated last line
  return lines;
}

size_t count_char(const std::string& s, char c) {
  size_t n = 0;
  for (char x : s) n += x == c;
  return n;
}

void check_one_line_error(const Result& r, int code, const std::string& mention) {
  CHECK_EQ(r.code, code);
  CHECK_EQ(r.out, std::string());
  CHECK_EQ(count_char(r.err, '\n'), size_t(1));
  CHECK(r.err.rfind("loam: error: ", 0) == 0);
  if (r.err.find(mention) == std::string::npos) {
    ::loam_test::record_failure(__FILE__, __LINE__, "stderr lacks '" + mention + "': " + r.err);
  }
}

Result chat(const std::string& model, const std::vector<std::string>& extra,
            const std::string& input) {
  RunSpec spec;
  spec.args = {"chat", "-m", model, "-t", "2"};
  spec.args.insert(spec.args.end(), extra.begin(), extra.end());
  spec.stdin_text = input;
  return run(spec);
}

}  // namespace

TEST_CASE("shared: tokenize --messages gives llama.cpp's ids for the Llama 3 template") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const std::string messages = write_temp("conv.json", kConversation);
  Result r = run({"tokenize", "-m", model, "--messages", messages, "--add-generation-prompt",
                  "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string(kIdsWithPrompt));
  r = run({"tokenize", "-m", model, "--messages", messages, "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string(kIdsWithoutPrompt));
  // The vocab-only file the reference ran on (no tensors) gives the same.
  r = run({"tokenize", "-m", loam_test::shared_file("vectors/ggml-vocab-llama3.gguf"),
           "--messages", messages, "--add-generation-prompt", "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string(kIdsWithPrompt));
  // And the Hugging Face directory of the same model (its tokenizer_config.json's template).
  r = run({"tokenize", "-m", loam_test::shared_file("models/hf-l3-tiny"), "--messages", messages,
           "--add-generation-prompt", "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string(kIdsWithPrompt));
  // From stdin too.
  RunSpec spec;
  spec.args = {"tokenize", "-m", model, "--messages", "-", "--add-generation-prompt", "--ids"};
  spec.stdin_text = kConversation;
  r = run(spec);
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string(kIdsWithPrompt));
}

TEST_CASE("shared: tokenize --messages --show-text prints the rendered prompt, no BOS text") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const std::string messages =
      write_temp("one.json", "[{\"role\":\"user\",\"content\":\"Hello\"}]");
  const Result r = run({"tokenize", "-m", model, "--messages", messages,
                        "--add-generation-prompt", "--show-text", "--ids"});
  CHECK_EQ(r.code, 0);
  // Meta's template: bos_token (added as the id 128000, not as text), then the turns.
  CHECK_EQ(r.out, std::string("<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                              "<|start_header_id|>assistant<|end_header_id|>\n\n\n"
                              "128000,128006,882,128007,271,9906,128009,128006,78191,128007,"
                              "271\n"));
}

TEST_CASE("shared: --chat-template overrides the model's template") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const std::string messages =
      write_temp("one.json", "[{\"role\":\"user\",\"content\":\"Hello\"}]");
  const Result r = run({"tokenize", "-m", model, "--messages", messages, "--chat-template",
                        "chatml", "--add-generation-prompt", "--show-text", "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK(r.out.rfind("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n\n", 0) == 0);
}

TEST_CASE("shared: tokenize --messages bad input: one-line errors") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  check_one_line_error(run({"tokenize", "-m", model, "--messages",
                            write_temp("bad1.json", "[{\"role\":\"user\",\"content\":\"x\"},]")}),
                       1, "bad1.json: messages: JSON");
  check_one_line_error(run({"tokenize", "-m", model, "--messages",
                            write_temp("bad2.json", "[{\"role\":\"robot\",\"content\":\"x\"}]")}),
                       1, "messages[0].role");
  check_one_line_error(run({"tokenize", "-m", model, "--messages",
                            write_temp("bad3.json", "{\"role\":\"user\"}")}),
                       1, "expected a JSON array");
  check_one_line_error(run({"tokenize", "-m", model, "--messages",
                            loam_test::temp_dir() + "/missing.json"}),
                       1, "missing.json");
  const std::string ok = write_temp("ok.json", "[{\"role\":\"user\",\"content\":\"x\"}]");
  check_one_line_error(run({"tokenize", "-m", model, "--messages", ok, "--chat-template", "nope"}),
                       2, "unknown chat template 'nope'");
  check_one_line_error(run({"tokenize", "-m", model, "--messages", ok, "hello"}), 2,
                       "not both");
  check_one_line_error(run({"tokenize", "-m", model, "hello", "--show-text"}), 2,
                       "go with --messages");
}

TEST_CASE("shared: a model without a chat template needs --chat-template (SentencePiece)") {
  const std::string model = loam_test::shared_file("models/llama-2-tiny-random.gguf");
  const std::string messages = write_temp("conv.json", kConversation);
  check_one_line_error(run({"tokenize", "-m", model, "--messages", messages}), 1,
                       "no chat template (tokenizer.chat_template); choose one with "
                       "--chat-template NAME, NAME one of: llama2, mistral, llama3, chatml, "
                       "zephyr, gemma, phi3");
  // Meta's Llama 2 format; the ids are llama.cpp's llama_tokenize (add_special, parse_special)
  // of "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello [/INST] Hi there! </s>"
  // "<s>[INST] What is 2+2? [/INST]" with this file's vocabulary.
  const Result r = run({"tokenize", "-m", model, "--messages", messages, "--chat-template",
                        "llama2", "--ids"});
  CHECK_EQ(r.code, 0);
  CHECK_EQ(r.out, std::string("1,518,25580,29962,3532,14816,29903,6778,13,3492,526,263,8444,"
                              "20255,29889,13,29966,829,14816,29903,6778,13,13,10994,518,29914,"
                              "25580,29962,6324,727,29991,29871,2,1,518,25580,29962,1724,338,"
                              "29871,29906,29974,29906,29973,518,29914,25580,29962\n"));
  const Result c = chat(model, {"-n", "4"}, "Hello\n");
  check_one_line_error(c, 1, "--chat-template");
}

TEST_CASE("shared: piped chat: one line per message, no prompt or escape codes, /reset") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const Result r = chat(model, {"--temp", "0", "-n", "8", "-c", "512", "--system", "Be brief."},
                        "Hello there\nWhat is 2+2?\n/reset\nHello there\n\n/help\nBye\n");
  CHECK_EQ(r.code, 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 7);
  CHECK_EQ(count_char(r.out, '\n'), size_t(7));  // every line ends
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.out.find("> ") == std::string::npos);
  CHECK(r.err.find('\x1b') == std::string::npos);
  CHECK(!lines[0].empty());
  CHECK(!lines[1].empty());
  CHECK_EQ(lines[2], std::string());  // /reset
  // After /reset the conversation is the system prompt alone again: greedy gives the same answer.
  CHECK_EQ(lines[3], lines[0]);
  CHECK_EQ(lines[4], std::string());  // an empty line is not sent
  CHECK_EQ(lines[5], std::string());  // /help (its text goes to stderr)
  CHECK(r.err.find("conversation reset") != std::string::npos);
  CHECK(r.err.find("chat template: llama3") != std::string::npos);
  // An unknown command is not sent; a last line without '\n' is still a message.
  const Result u = chat(model, {"--temp", "0", "-n", "4", "-c", "256"}, "/foo\nHi");
  CHECK_EQ(u.code, 0);
  const std::vector<std::string> u_lines = lines_of(u.out);
  REQUIRE(u_lines.size() == 2);
  CHECK_EQ(u_lines[0], std::string());
  CHECK(!u_lines[1].empty());
  CHECK(u.err.find("unknown command '/foo'") != std::string::npos);
  // /exit ends the chat: nothing for the lines after it.
  const Result e = chat(model, {"--temp", "0", "-n", "4", "-c", "256"}, "Hi\n/exit\nHi\n");
  CHECK_EQ(e.code, 0);
  CHECK_EQ(count_char(e.out, '\n'), size_t(1));
}

TEST_CASE("shared: piped chat drops the oldest turns when the context fills") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  std::string input;
  for (int i = 0; i < 8; ++i) input += "Tell me more\n";
  // Each turn takes about 14 prompt tokens + 8 answer tokens; 64 fill after three.
  const Result r = chat(model, {"--temp", "0", "-n", "8", "-c", "64", "--system", "Be brief."},
                        input);
  CHECK_EQ(r.code, 0);
  CHECK_EQ(count_char(r.out, '\n'), size_t(8));
  CHECK(r.err.find("context full: dropped the") != std::string::npos);
  CHECK(r.err.find("(system prompt kept)") != std::string::npos);
}

TEST_CASE("shared: piped chat: a message too long for the context is refused, the chat goes on") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  std::string lengthy;
  for (int i = 0; i < 60; ++i) lengthy += "word ";
  const Result r = chat(model, {"--temp", "0", "-n", "4", "-c", "32"}, lengthy + "\nHi\n");
  CHECK_EQ(r.code, 0);
  const std::vector<std::string> lines = lines_of(r.out);
  REQUIRE(lines.size() == 2);
  CHECK_EQ(lines[0], std::string());
  CHECK(r.err.find("too long") != std::string::npos);
}

TEST_CASE("shared: chat with a q8_0/f16 KV cache (-ctk, -ctv) keeps the line structure") {
  const std::string model = loam_test::shared_file("models/l3-tiny-f16.gguf");
  const Result r = chat(model, {"--temp", "0", "-n", "6", "-c", "256", "-ctk", "q8_0", "-ctv",
                                "f16"},
                        "Hi\nMore\n");
  CHECK_EQ(r.code, 0);
  CHECK_EQ(count_char(r.out, '\n'), size_t(2));
  check_one_line_error(chat(model, {"-ctk", "q4_0"}, "Hi\n"), 2, "q4_0");
}

TEST_CASE("shared: chat with --chat-template llama2 on a SentencePiece model") {
  const std::string model = loam_test::shared_file("models/llama-2-tiny-random.gguf");
  const Result r = chat(model, {"--chat-template", "llama2", "--temp", "0", "-n", "6"},
                        "Hello\nAnd then?\n");
  CHECK_EQ(r.code, 0);
  CHECK_EQ(count_char(r.out, '\n'), size_t(2));
  CHECK(r.err.find("chat template: llama2") != std::string::npos);
}

TEST_CASE("shared: loam info names the detected template family") {
  Result r = run({"info", loam_test::shared_file("models/l3-tiny-f16.gguf")});
  CHECK_EQ(r.code, 0);
  CHECK(r.out.find("  chat template            llama3\n") != std::string::npos);
  r = run({"info", loam_test::shared_file("models/llama-2-tiny-random.gguf")});
  CHECK_EQ(r.code, 0);
  CHECK(r.out.find("  chat template            none (choose one with --chat-template)\n") !=
        std::string::npos);
}

TEST_CASE("chat: --help and usage errors") {
  Result r = run({"chat", "--help"});
  CHECK_EQ(r.code, 0);
  CHECK(r.out.find("--chat-template") != std::string::npos);
  CHECK(r.out.find("/reset") != std::string::npos);
  r = run({"chat", "-m", "x.gguf", "--chat-template", "vicuna"});
  check_one_line_error(r, 2, "unknown chat template 'vicuna'");
  r = run({"chat", "-m", "x.gguf", "--top-p", "2"});
  CHECK_EQ(r.code, 2);
}
