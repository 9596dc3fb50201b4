#include "cli/chat_setup.h"

#include <cstdio>
#include <cstring>

#include "cli/cli.h"
#include "formats/hf_checkpoint.h"
#include "loam/gguf.h"
#include "text/chat_messages.h"

namespace loam::cli {

namespace {

bool is_gguf_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  const bool gguf = std::fread(magic, 1, 4, f) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  std::fclose(f);
  return gguf;
}

std::string piece_or(const Vocab& vocab, int32_t id, const char* fallback) {
  if (id >= 0 && id < vocab.size()) return vocab.pieces[static_cast<size_t>(id)];
  return fallback;
}

}  // namespace

Status read_chat_template_text(const std::string& model_path, std::string& out) {
  out.clear();
  if (is_hf_checkpoint_path(model_path)) return read_hf_chat_template(model_path, out);
  if (!is_gguf_file(model_path)) return Status::ok();
  GgufFile file;
  LOAM_TRY(GgufFile::open(model_path, file));
  return file.get_string_opt("tokenizer.chat_template", out);
}

Status make_chat_template(const std::string& model_path, const Vocab& vocab,
                          const std::string& override_name, std::optional<ChatTemplate>& out) {
  std::string text;
  if (override_name.empty()) LOAM_TRY(read_chat_template_text(model_path, text));
  ChatFamily family = ChatFamily::ChatML;
  if (Status st = resolve_chat_family(text, override_name, family); !st) {
    return Status::error(model_path + ": " + st.message());
  }
  ChatSpecialTexts specials;
  specials.bos = piece_or(vocab, vocab.bos_id, "<s>");
  specials.eos = piece_or(vocab, vocab.eos_id, "</s>");
  out.emplace(family, specials);
  return Status::ok();
}

std::string describe_chat_template(const std::string& model_path) {
  std::string text;
  if (Status st = read_chat_template_text(model_path, text); !st) return "? (" + st.message() + ")";
  if (text.empty()) return "none (choose one with --chat-template)";
  ChatFamily family = ChatFamily::ChatML;
  if (!detect_chat_family(text, family)) return "unknown (choose one with --chat-template)";
  return chat_family_name(family);
}

Status read_messages_file(const std::string& path, std::vector<ChatMessage>& out) {
  std::string json_text;
  LOAM_TRY(read_file_text(path, json_text));
  if (Status st = parse_chat_messages(json_text, out); !st) {
    return Status::error((path == "-" ? std::string("stdin") : path) + ": " + st.message());
  }
  return Status::ok();
}

std::vector<int32_t> tokenize_chat_prompt(const Tokenizer& tokenizer, const std::string& text,
                                          bool add_bos) {
  return tokenizer.encode(text, add_bos, /*parse_special=*/true);
}

int32_t end_of_turn_token(const Tokenizer& tokenizer, const ChatTemplate& chat_template) {
  return tokenizer.token_id(chat_template.end_of_turn());
}

}  // namespace loam::cli
