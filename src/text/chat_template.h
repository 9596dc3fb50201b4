// Chat templates without a Jinja engine: the family of a GGUF `tokenizer.chat_template` is
// recognized from marker strings its published template contains, and each family's prompt format
// is written out by hand (chat_template.cpp).
//
// BOS: a rendered prompt never begins with the BOS text. Most published templates start with
// `bos_token` (Llama 3's with <|begin_of_text|>); here the tokenizer adds the BOS id instead,
// when the vocabulary asks for one (tokenizer.ggml.add_bos_token), as llama.cpp does. So BOS is
// never added twice, and a vocabulary without BOS gets none. BOS or EOS text *inside* the prompt
// (Llama 2's "</s><s>[INST]" between turns) is rendered as text and becomes the special token when
// the prompt is tokenized with special tokens parsed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loam/status.h"

namespace loam {

enum class ChatFamily {
  Llama2,   // [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] answer </s><s>[INST] ...
  Mistral,  // [INST] ... [/INST]answer</s>[INST] ... (no <<SYS>> block)
  Llama3,   // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  ChatML,   // <|im_start|>role\n...<|im_end|>\n
  Zephyr,   // <|role|>\n...</s>\n
  Gemma,    // <start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n
  Phi3,     // <|role|>\n...<|end|>\n
};

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant"
  std::string content;
};

// The vocabulary's BOS and EOS texts, which some formats write between turns (the `bos_token`
// and `eos_token` of the published templates).
struct ChatSpecialTexts {
  std::string bos = "<s>";
  std::string eos = "</s>";
};

// Family names as --chat-template takes them: "llama2", "mistral", "llama3", "chatml",
// "zephyr", "gemma", "phi3".
const char* chat_family_name(ChatFamily family);
// "llama2, mistral, llama3, chatml, zephyr, gemma, phi3", for error messages and --help.
std::string chat_family_names();
// Parses a family name; false when `name` is none of them.
bool chat_family_from_name(const std::string& name, ChatFamily& out);

// Recognizes the family of a template text (a Jinja template from the model file, or just a
// family name). Fails, listing the names, when no family's markers are found or the text is empty.
Status detect_chat_family(const std::string& template_text, ChatFamily& out);

// The family to use: `override_name` (from --chat-template) when not empty, else the one
// detected from `template_text`. Errors say which of the two was at fault.
Status resolve_chat_family(const std::string& template_text, const std::string& override_name,
                           ChatFamily& out);

class ChatTemplate {
 public:
  explicit ChatTemplate(ChatFamily family, ChatSpecialTexts specials = {})
      : family_(family), specials_(std::move(specials)) {}

  ChatFamily family() const { return family_; }
  const char* name() const { return chat_family_name(family_); }

  // The prompt text for `messages` (roles system, user, assistant; BOS not included, see above).
  // add_generation_prompt appends the header that opens the assistant's turn (formats whose user
  // turn already ends with that, like [/INST], append nothing). Families without a system role
  // (llama2, mistral, gemma) put a system message at the start of the next user message.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  // The text that ends an assistant turn ("<|eot_id|>", "<|im_end|>", "</s>", ...): generation
  // stops when the model produces it.
  std::string end_of_turn() const;

 private:
  ChatFamily family_;
  ChatSpecialTexts specials_;
};

}  // namespace loam
